"""Dense deep networks: per-layer gradients and the speed of learning (Nielsen ch. 2 and 5).

Widths [n_0, …, n_L]; ``weights[l]`` has shape (n_(l+1), n_l), ``biases[l]``
(n_(l+1),); a batch x (B, n_0) with targets y (B, n_L); samples are rows.

    z^l = a^(l−1) W^lᵀ + b^l,   a^l = f(z^l),   a^0 = x
    δ^L = ∂C_x/∂z^L,   δ^l = (δ^(l+1) W^(l+1)) ⊙ f′(z^l)         (Nielsen BP1–BP2)
    ∂C/∂W^l = δ^lᵀ a^(l−1) / B,   ∂C/∂b^l = mean over the batch of δ^l   (BP3–BP4)

C is the mean over the batch of the per-sample cost C_x; ``delta`` holds the
per-sample δ^l = ∂C_x/∂z^l, and ``dx`` = ∂C/∂x = δ^1 W^1 / B the gradient with
respect to the inputs. The output layer applies its own activation g
(``output_activation``; f unless said otherwise, ``identity`` for a linear
output), except for the ``softmax_cross_entropy`` cost, whose output layer is a
softmax of the linear z^L:

    quadratic               C_x = ½‖a^L − y‖²                     δ^L = (a^L − y) ⊙ g′(z^L)
    cross_entropy           C_x = −Σ y ln a + (1−y) ln(1−a)       δ^L = a^L − y   (sigmoid output)
    softmax_cross_entropy   C_x = −Σ y ln softmax(z^L)            δ^L = softmax(z^L) − y

The one recurrence runs over float64 arrays (``backward``) and over object
arrays of mpmath numbers (``backward_exact``, the truth numeric checks compare
with); ``backward_torch`` is independent: ``torch.nn.Linear`` layers through autograd, and so are
``backward_jax`` (``jax.grad``) and ``backward_tf`` (``tf.GradientTape``) where JAX and TensorFlow
are installed (:mod:`gradproofs.frameworks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any

import numpy as np

from gradproofs import _validate, compare, devices, frameworks
from gradproofs.compare import MAX_AMPLIFICATION
from gradproofs.activations import costs, engine as activations
from gradproofs.errors import InvalidArgument

__all__ = [
    "COSTS", "MLPGradients", "output_activation_of", "recurrence", "backward", "backward_exact",
    "backward_extended", "backward_torch", "backward_jax", "backward_tf", "FRAMEWORK_ENGINES",
    "MAX_AMPLIFICATION", "Reference", "reference"
]

COSTS = ("quadratic", "cross_entropy", "softmax_cross_entropy")


@dataclass(frozen=True)
class MLPGradients:
    """∂C/∂W^l, ∂C/∂b^l, the per-sample δ^l and the forward values, l = 1..L, and ∂C/∂x (B, n_0).

    ``z[l]`` and ``delta[l]`` belong to layer l + 1; ``a`` starts with a^0 = x.
    """

    dW: list
    db: list
    delta: list
    z: list
    a: list
    dx: Any

    def speed(self) -> np.ndarray:
        """‖∂C/∂b^l‖ for every layer: Nielsen's speed of learning (ch. 5)."""
        return np.array([float(np.linalg.norm(_float(g))) for g in self.db])


def _float(values) -> np.ndarray:
    if hasattr(values, "detach"):
        return values.detach().cpu().double().numpy()
    return np.asarray(values, dtype=np.float64)


def output_activation_of(activation: str, cost: str, output_activation: str | None) -> str:
    """The output layer's activation: ``output_activation``, by default f (the hidden
    one), and for ``softmax_cross_entropy`` the identity (the softmax takes the linear z^L)."""
    act = activations.get(activation)
    _validate.choice("cost", cost, COSTS)
    if output_activation is None:
        output = "identity" if cost == "softmax_cross_entropy" else act.name
    else:
        output = activations.get(output_activation).name
    if cost == "softmax_cross_entropy" and output != "identity":
        raise InvalidArgument(f"output_activation must be 'identity' for the softmax_cross_entropy cost (the softmax "
                         f"takes the linear z^L), got {output_activation!r}")
    if cost == "cross_entropy":
        costs.get(cost, activation=output)
    return output


def _check(weights, biases, x, y, activation, cost, output_activation=None):
    act = activations.get(activation)
    output = activations.get(output_activation_of(activation, cost, output_activation))
    if isinstance(weights, np.ndarray) or not isinstance(weights, (list, tuple)):
        raise InvalidArgument("weights must be a list of 2-D arrays, one per layer")
    if not isinstance(biases, (list, tuple)):
        raise InvalidArgument("biases must be a list of 1-D arrays, one per layer")
    if len(weights) == 0:
        raise InvalidArgument("weights must not be empty (a network needs at least one layer)")
    if len(biases) != len(weights):
        raise InvalidArgument(f"biases must have one entry per layer: {len(weights)} weights, "
                         f"{len(biases)} biases")
    W = [_validate.real_array(f"weights[{l}]", w, ndim=2) for l, w in enumerate(weights)]
    b = [_validate.real_array(f"biases[{l}]", v, ndim=1) for l, v in enumerate(biases)]
    for l in range(len(W)):
        if b[l].shape[0] != W[l].shape[0]:
            raise InvalidArgument(f"biases[{l}] must have shape ({W[l].shape[0]},) to match "
                             f"weights[{l}] of shape {W[l].shape}, got {b[l].shape}")
        if l and W[l].shape[1] != W[l - 1].shape[0]:
            raise InvalidArgument(f"weights[{l}] must have {W[l - 1].shape[0]} columns to follow "
                             f"weights[{l - 1}] of shape {W[l - 1].shape}, got shape {W[l].shape}")
    x = _validate.real_array("x", x, ndim=2)
    y = _validate.real_array("y", y, ndim=2)
    if x.shape[1] != W[0].shape[1]:
        raise InvalidArgument(f"x must have shape (B, {W[0].shape[1]}) to match weights[0], got {x.shape}")
    if y.shape != (x.shape[0], W[-1].shape[0]):
        raise InvalidArgument(f"y must have shape ({x.shape[0]}, {W[-1].shape[0]}) (the batch of x, "
                         f"the width of the last layer), got {y.shape}")
    if x.shape[0] == 0:
        raise InvalidArgument("x must hold at least one sample (the cost is a mean over the batch)")
    if cost != "quadratic" and not np.all((y >= 0) & (y <= 1)):
        raise InvalidArgument(f"y must lie in [0, 1] for the {cost} cost")
    if cost == "softmax_cross_entropy" and not np.allclose(y.sum(axis=1), 1.0, rtol=0, atol=1e-9):
        raise InvalidArgument("y's rows must sum to 1 for the softmax_cross_entropy cost (δ^L = softmax − y "
                         "holds only then)")
    return W, b, x, y, act, output


def recurrence(W, b, x, y, f, fprime, g, gprime, cost, softmax, dropped=None):
    """Forward pass, then BP1–BP4, over float arrays or object arrays of mpmath numbers.

    f is the hidden layers' activation, g the output layer's. Every product is
    a fresh array, so the in-place updates never touch the inputs. ``dropped=l``
    leaves the factor f′(z^l) out of δ^l: the bug of a missing derivative.
    """
    z, a = [], [x]
    for l, (W_l, b_l) in enumerate(zip(W, b)):
        z_l = a[-1] @ W_l.T
        z_l += b_l
        z.append(z_l)
        last = l == len(W) - 1
        a.append(softmax(z_l) if last and cost == "softmax_cross_entropy" else g(z_l) if last else f(z_l))
    delta_last = a[-1] - y
    if cost == "quadratic" and dropped != len(W):  # otherwise σ′ (or the softmax's Jacobian) cancels
        delta_last *= gprime(z[-1])
    delta = [delta_last]
    for l in range(len(W) - 1, 0, -1):
        delta_l = delta[0] @ W[l]
        if l != dropped:
            delta_l *= fprime(z[l - 1])
        delta.insert(0, delta_l)
    batch = x.shape[0]
    dW = [d.T @ a_prev for d, a_prev in zip(delta, a[:-1])]
    for gradient in dW:
        gradient /= batch
    db = [d.sum(axis=0) / batch for d in delta]
    return MLPGradients(dW, db, delta, z, a, delta[0] @ W[0] / batch)


def _softmax(z):
    shifted = np.exp(z - z.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def backward(weights, biases, x, y, *, activation: str = "sigmoid", cost: str = "quadratic",
             output_activation: str | None = None, dropped: int | None = None) -> MLPGradients:
    """∂C/∂W^l, ∂C/∂b^l and ∂C/∂x in NumPy float64, by the backward recurrence (``dropped=l``:
    without f′(z^l) in δ^l)."""
    W, b, x, y, act, out = _check(weights, biases, x, y, activation, cost, output_activation)
    dropped = _check_dropped(dropped, len(W), cost)
    with np.errstate(over="ignore", under="ignore"):
        return recurrence(W, b, x, y, act.numpy, act.numpy_derivative, out.numpy, out.numpy_derivative,
                           cost, _softmax, dropped)


def _check_dropped(dropped, depth: int, cost: str) -> int | None:
    """None, or the layer l whose factor f′(z^l) a computation leaves out of δ^l: the bug of a missing
    derivative, modelled exactly so that the oracle can name it. The hidden layers 1..L−1, and the
    output layer L under the quadratic cost (the others' δ^L = a^L − y has no f′)."""
    if dropped is None:
        return None
    last = depth if cost == "quadratic" else depth - 1
    dropped = _validate.positive_int("dropped", dropped)
    if dropped > last:
        raise InvalidArgument(f"dropped must name a layer with a factor f′ in δ, 1 to {last} here "
                              f"(depth {depth}, cost {cost!r}), got {dropped}")
    return dropped


def backward_exact(weights, biases, x, y, *, activation: str = "sigmoid", cost: str = "quadratic",
                   output_activation: str | None = None, dps: int = 40, dropped: int | None = None) -> MLPGradients:
    """The same recurrence on object arrays of mpmath numbers with ``dps`` digits (``dropped=l``:
    without f′(z^l) in δ^l).

    SymPy's f and f′ evaluated elementwise; for small networks (it is slow).
    """
    import mpmath

    W, b, x, y, act, out = _check(weights, biases, x, y, activation, cost, output_activation)
    dropped = _check_dropped(dropped, len(W), cost)
    f, fprime = activations.mpmath_elementwise(act.name)
    g, gprime = activations.mpmath_elementwise(out.name)
    exp = np.frompyfunc(mpmath.exp, 1, 1)

    def softmax(z):
        shifted = exp(z - z.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)

    def exact(values):
        return np.frompyfunc(mpmath.mpf, 1, 1)(values)

    largest = max(float(np.abs(W_l).sum(axis=1).max() + np.abs(b_l).max()) for W_l, b_l in zip(W, b))
    bound_z = largest * max(1.0, float(np.abs(x).max()))
    with mpmath.workdps(dps + activations.digits_lost(min(bound_z, 1e4))):
        return recurrence([exact(w) for w in W], [exact(v) for v in b], exact(x), exact(y),
                           f, fprime, g, gprime, cost, softmax, dropped)


def backward_extended(weights, biases, x, y, *, activation: str = "sigmoid", cost: str = "quadratic",
                      output_activation: str | None = None, dropped: int | None = None) -> MLPGradients:
    """The same recurrence in long double (:mod:`gradproofs.extended`): the exact reference of large networks
    (``dropped=l``: without f′(z^l) in δ^l)."""
    from gradproofs import extended

    W, b, x, y, act, out = _check(weights, biases, x, y, activation, cost, output_activation)
    dropped = _check_dropped(dropped, len(W), cost)
    with np.errstate(over="ignore", under="ignore"):
        return recurrence(*extended.cast(W, b, x, y), act.numpy, act.numpy_derivative, out.numpy,
                           out.numpy_derivative, cost, _softmax, dropped)


def backward_torch(weights, biases, x, y, *, activation: str = "sigmoid", cost: str = "quadratic",
                   output_activation: str | None = None, device: str = "cpu", dtype=None) -> MLPGradients:
    """The same network built from ``torch.nn.Linear`` layers, through autograd.

    ``delta`` comes from the gradients of the pre-activations (times the batch
    size, since the cost is a mean); the results are tensors on ``device``.
    """
    W, b, x, y, act, out = _check(weights, biases, x, y, activation, cost, output_activation)
    torch = devices.torch()
    device = devices.resolve(device)
    dtype = devices.float_dtype(torch.float64 if dtype is None else dtype)
    functional = torch.nn.functional
    layers = []
    for W_l, b_l in zip(W, b):
        layer = torch.nn.Linear(W_l.shape[1], W_l.shape[0], device=device, dtype=dtype)
        with torch.no_grad():
            layer.weight.copy_(torch.tensor(W_l))
            layer.bias.copy_(torch.tensor(b_l))
        layers.append(layer)
    inputs = torch.tensor(x, dtype=dtype, device=device, requires_grad=True)
    target = torch.tensor(y, dtype=dtype, device=device)
    z, a = [], [inputs]
    for l, layer in enumerate(layers):
        z.append(layer(a[-1]))
        z[-1].retain_grad()
        a.append((out if l == len(layers) - 1 else act).torch(z[-1]))
    if cost == "quadratic":
        loss = 0.5 * ((a[-1] - target) ** 2).sum(dim=1).mean()
    elif cost == "cross_entropy":
        loss = functional.binary_cross_entropy_with_logits(z[-1], target, reduction="none").sum(dim=1).mean()
    else:
        loss = functional.cross_entropy(z[-1], target)
        a[-1] = torch.softmax(z[-1], dim=1)
    loss.backward()
    batch = x.shape[0]
    return MLPGradients(
        dW=[layer.weight.grad for layer in layers],
        db=[layer.bias.grad for layer in layers],
        delta=[zl.grad * batch for zl in z],
        z=[zl.detach() for zl in z],
        a=[al.detach() for al in a],
        dx=inputs.grad,
    )


# --- JAX and TensorFlow (where installed) -----------------------------------------

def _user_cost(cost: str):
    """The per-output cost of :mod:`gradproofs.costs` (quadratic, cross-entropy), or None for the softmax's."""
    return None if cost == "softmax_cross_entropy" else costs.get(cost)


def backward_jax(weights, biases, x, y, *, activation: str = "sigmoid", cost: str = "quadratic",
                 output_activation: str | None = None, dtype="float64") -> MLPGradients:
    """The same gradients through ``jax.grad`` on the CPU, as NumPy arrays of the dtype it ran in
    (float64 or float32).

    The network as a JAX user writes it: a pure function of a list of (W, b) per
    layer, ``z = a @ W.T + b``, the costs from the logits as optax computes them
    (``-sum(y * jax.nn.log_softmax(z))`` for the softmax's). ``delta`` is the
    gradient with respect to a zero added to each z^l (the idiom of Flax's
    ``Module.perturb``; adding 0 is exact), times the batch size.
    """
    W, b, x, y, act, out = _check(weights, biases, x, y, activation, cost, output_activation)
    dtype = frameworks.float_dtype(dtype)
    per_output = _user_cost(cost)
    with frameworks.jax_cpu() as jax:
        jnp = jax.numpy
        target = jnp.asarray(y, dtype)

        def cost_of(layers, inputs, shifts):
            z, a = [], [inputs]
            for l, ((W_l, b_l), shift) in enumerate(zip(layers, shifts)):
                z.append(a[-1] @ W_l.T + b_l + shift)
                a.append((out if l == len(layers) - 1 else act).jax(z[-1]))
            if per_output is None:
                a[-1] = jax.nn.softmax(z[-1], axis=1)
                return -jnp.sum(target * jax.nn.log_softmax(z[-1], axis=1), axis=1).mean(), (z, a)
            return jnp.sum(per_output.jax(z[-1], a[-1], target), axis=1).mean(), (z, a)

        layers = [(jnp.asarray(W_l, dtype), jnp.asarray(b_l, dtype)) for W_l, b_l in zip(W, b)]
        shifts = [jnp.zeros((x.shape[0], W_l.shape[0]), dtype) for W_l in W]
        (grads, dx, dz), (z, a) = jax.grad(cost_of, argnums=(0, 1, 2), has_aux=True)(
            layers, jnp.asarray(x, dtype), shifts)
    batch = x.shape[0]
    return MLPGradients(dW=[np.asarray(dW_l) for dW_l, _ in grads], db=[np.asarray(db_l) for _, db_l in grads],
                        delta=[np.asarray(dz_l) * batch for dz_l in dz], z=[np.asarray(z_l) for z_l in z],
                        a=[np.asarray(a_l) for a_l in a], dx=np.asarray(dx))


def backward_tf(weights, biases, x, y, *, activation: str = "sigmoid", cost: str = "quadratic",
                output_activation: str | None = None, dtype="float64") -> MLPGradients:
    """The same gradients through ``tf.GradientTape`` on the CPU, as NumPy arrays of the dtype it ran in
    (float64 or float32).

    The network as a TensorFlow user writes it: ``tf.Variable`` weights and
    biases, ``z = tf.matmul(a, W, transpose_b=True) + b``, the costs from the
    logits (``tf.nn.sigmoid_cross_entropy_with_logits``,
    ``tf.nn.softmax_cross_entropy_with_logits``). ``delta`` is the tape's
    gradient with respect to each z^l, times the batch size.
    """
    W, b, x, y, act, out = _check(weights, biases, x, y, activation, cost, output_activation)
    dtype = frameworks.float_dtype(dtype)
    per_output = _user_cost(cost)
    with frameworks.tensorflow_cpu() as tf:
        Ws = [tf.Variable(W_l.astype(dtype)) for W_l in W]
        bs = [tf.Variable(b_l.astype(dtype)) for b_l in b]
        inputs, target = tf.constant(x, dtype), tf.constant(y, dtype)
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            z, a = [], [inputs]
            for l, (W_l, b_l) in enumerate(zip(Ws, bs)):
                z.append(tf.matmul(a[-1], W_l, transpose_b=True) + b_l)
                a.append((out if l == len(Ws) - 1 else act).tensorflow(z[-1]))
            if per_output is None:
                loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=target, logits=z[-1]))
                a[-1] = tf.nn.softmax(z[-1], axis=1)
            else:
                loss = tf.reduce_mean(tf.reduce_sum(per_output.tensorflow(z[-1], a[-1], target), axis=1))
        dW, db, dz, dx = tape.gradient(loss, (Ws, bs, z, inputs))
    batch = x.shape[0]
    return MLPGradients(dW=[g.numpy() for g in dW], db=[g.numpy() for g in db],
                        delta=[g.numpy() * batch for g in dz], z=[v.numpy() for v in z],
                        a=[v.numpy() for v in a], dx=dx.numpy())


FRAMEWORK_ENGINES = {"jax": backward_jax, "tensorflow": backward_tf}  # by gradproofs.frameworks.NAMES


# --- judging a float engine against the exact gradients ---------------------


@dataclass(frozen=True, eq=False)
class Reference(compare.Reference):
    """A network and batch with its exact gradients: what judging a float engine needs.

    Built by :func:`reference`; ``exact`` (:func:`backward_exact`) is computed
    on first use, the rest from a float64 forward pass. The rounding model, per
    machine epsilon eps (:mod:`gradproofs.formats`):

    *Forward.* z^l = a^(l−1) W^lᵀ + b^l is a dot product of n_(l−1) + 1 terms,
    so each entry is rounded by at most (n_(l−1) + 1)·eps times the sum of the
    absolute values of its terms, at most S − 1 (:attr:`summand`); evaluating
    f and rounding float64 inputs to the engine's dtype add 3·eps·S. A rounding
    vector r made in z^i reaches z^k through ∏_(m=i+1..k) W^m diag(f′), whose
    2-norm is at most κ = :attr:`amplification`; ‖r‖₂ ≤ √N·|r|_∞. So every z
    and a is off by at most eps·F, F = L·κ·√N·(N + 4)·S, N the largest width.

    *Backward.* :meth:`scales` runs the recurrence with |W|, |f′| and the
    residual a^L − y replaced by |a^L| + |y| + S, giving per-sample D^l ≥ |δ^l|:
    the sum of the absolute values of every term float arithmetic adds up, the
    size its rounding errors scale with. Relative to D, δ^(l+1) W^(l+1) adds
    (n_(l+1) + 1)·eps and inherits the largest relative error of δ^(l+1) in its
    sample; f′(z^l) is off by |f″/f′|·eps·F ≤ 2·eps·F (sigmoid 1, tanh 2, relu
    and identity 0) plus 2·eps for evaluating it and eps for the product. At the
    output, a^L's forward error gives eps·F against the residual's scale, the
    softmax 2·eps·F + N·eps, f′(z^L) (quadratic cost) 2·eps·F. ∂C/∂b^l sums B
    samples (B·eps) and divides by B (eps); ∂C/∂W^l also multiplies by
    a^(l−1), off by eps·F against |a^(l−1)| + S.

    *Autograd.* An engine that forms f′ from the output, s(1 − s) or 1 − t²,
    loses eps·γ absolute in the subtraction: 4·eps·γ/f′(z) relative per factor.

    *Inputs.* ∂C/∂x = δ^1 W^1 / B adds n_1 + 1 roundings and the division to
    the worst relative error of δ^1 in each sample.

    *A missing factor* (``dropped=l``, the model of a bug the oracle names):
    the same recurrence and bound with |f′(z^l)| taken as 1.

    The tolerance is twice this first-order bound, for the second-order terms.
    """

    weights: list
    biases: list
    x: np.ndarray
    y: np.ndarray
    activation: str
    cost: str
    dps: int = 40
    output_activation: str | None = None
    engine: str = "auto"  # the exact values' engine: mpmath, or long double for large networks
    dropped: int | None = None  # the layer whose f′ is left out of δ: the model of a missing factor

    FIELDS = ("dW", "db", "dx")
    LAYERED = ("dW", "db")
    SHAPES_OF = {"dW": "the shape of weights[{l}]", "db": "the shape of biases[{l}]", "dx": "the shape of x"}

    @cached_property
    def output(self) -> str:
        """The output layer's activation (:func:`output_activation_of`)."""
        return output_activation_of(self.activation, self.cost, self.output_activation)

    @cached_property
    def exact(self) -> MLPGradients:
        engine = backward_extended if self.extended else partial(backward_exact, dps=self.dps)
        return engine(self.weights, self.biases, self.x, self.y, activation=self.activation, cost=self.cost,
                      output_activation=self.output, dropped=self.dropped)

    @property
    def operations(self) -> int:
        """B·Σ n_l n_(l+1) multiply-adds for each product of a pass."""
        return self.x.shape[0] * sum(W_l.size for W_l in self.weights)

    @property
    def depth(self) -> int:
        return len(self.weights)

    def _activations(self):
        """The activation of each layer: f for the hidden ones, the output's for the last."""
        return [activations.get(self.output if l == self.depth - 1 else self.activation)
                for l in range(self.depth)]

    @cached_property
    def _forward(self):
        """z^l and a^l (a^0 = x) in float64, and |f′(z^l)| (1 for a dropped factor): all that scales and
        conditioning need."""
        floats = backward(self.weights, self.biases, self.x, self.y, activation=self.activation,
                          cost=self.cost, output_activation=self.output)
        return floats.z, floats.a, [np.ones(z_l.shape) if l == self.dropped else np.abs(act.numpy_derivative(z_l))
                                    for l, (act, z_l) in enumerate(zip(self._activations(), floats.z), 1)]

    @property
    def widest(self) -> int:
        """N, the largest width n_l."""
        return max(max(W_l.shape) for W_l in self.weights)

    @cached_property
    def summand(self) -> float:
        """S = 1 + the largest Σ_k |a^(l−1)_k W^l_ik| + |b^l_i| over layers, samples and neurons."""
        a = self._forward[1]
        with np.errstate(over="ignore", under="ignore"):  # past the largest float: ∞
            return 1.0 + max(float((np.abs(a_prev) @ np.abs(W_l).T + np.abs(b_l)).max())
                             for a_prev, W_l, b_l in zip(a, self.weights, self.biases))

    @cached_property
    def amplification(self) -> float:
        """κ = max over i < k of ∏_(m=i+1..k) γ‖W^m‖₂, at least 1.

        How much a rounding error made in z^i can grow by z^k: the largest
        product over a contiguous run of layers, from the weights alone (γ of
        the hidden activation: only hidden layers lie between two z's).
        """
        gamma = float(activations.get(self.activation).derivative_bound)
        gains = [np.log(max(gamma * np.linalg.norm(W_l, 2), 1e-300)) for W_l in self.weights[1:]]
        totals = np.concatenate([[0.0], np.cumsum(gains)])
        return float(np.exp(min(float(np.max(totals - np.minimum.accumulate(totals))), 700.0)))

    @cached_property
    def forward_error(self) -> float:
        """F: every computed z and a is off by at most eps·F (first order)."""
        with np.errstate(over="ignore"):  # past the largest float: ∞
            return self.depth * self.amplification * np.sqrt(self.widest) * (self.widest + 4) * self.summand

    def well_conditioned(self, eps: float) -> bool:
        """Whether an engine with machine epsilon ``eps`` can be held to the exact gradients.

        Not when the network amplifies a rounding error more than
        :data:`MAX_AMPLIFICATION`-fold, nor when a relu layer's pre-activation
        lies within twice its forward error of 0, the kink where the derivative
        jumps. Both depend on the network and batch only, never on the gradients.
        """
        if self.amplification > MAX_AMPLIFICATION:
            return False
        margin = 2.0 * eps * self.forward_error
        return all(act.name != "relu" or bool(np.all(np.abs(z_l) > margin))
                   for act, z_l in zip(self._activations(), self._forward[0]))

    def scales(self) -> dict:
        """{"dW", "db", "dx"}: what each entry's rounding errors are measured against.

        The recurrence with |W|, |f′| and the residual a^L − y replaced by
        |a^L| + |y| + S, so that a near-zero gradient is judged against the size
        of what float arithmetic cancels; ∂C/∂W^l pairs it with |a^(l−1)| + S,
        as a^(l−1) carries a forward error of order S, not of order |a^(l−1)|.
        """
        _, a, fprime = self._forward
        summand, batch = self.summand, self.x.shape[0]
        residual = np.abs(a[-1]) + np.abs(self.y) + summand
        D = [residual * fprime[-1] if self.cost == "quadratic" else residual]
        for l in range(self.depth - 1, 0, -1):
            D.insert(0, (D[0] @ np.abs(self.weights[l])) * fprime[l - 1])
        return {"dW": [D_l.T @ (np.abs(a_prev) + summand) / batch for D_l, a_prev in zip(D, a[:-1])],
                "db": [D_l.sum(axis=0) / batch for D_l in D],
                "dx": D[0] @ np.abs(self.weights[0]) / batch}

    def rounding_tolerance(self, eps: float, *, derivative_from_output: bool = False) -> dict:
        """{"dW", "db", "dx"}: per entry, a bound on |computed − exact| / scale."""
        F, batch, fprime = self.forward_error, self.x.shape[0], self._forward[2]
        from_output = []
        for act, f in zip(self._activations(), fprime):
            gamma = float(act.derivative_bound) if derivative_from_output else 0.0
            from_output.append(np.where(f > 0, 4.0 * gamma / np.where(f > 0, f, 1.0), 0.0))
        if self.cost != "quadratic":
            from_output[-1] = np.zeros_like(from_output[-1])  # δ^L = a^L − y involves no f′
        # Relative errors of δ^l against D^l, per sample and neuron, in units of eps.
        units = [3.0 * F + self.widest + 4.0 + from_output[-1]]
        for l in range(self.depth - 2, -1, -1):
            inherited = units[0].max(axis=1, keepdims=True)
            units.insert(0, inherited + self.weights[l + 1].shape[0] + 4.0 + 2.0 * F + from_output[l])
        worst = [u.max(axis=0) for u in units]  # a gradient entry sums over the batch
        return {"dW": [2.0 * eps * np.broadcast_to((w + batch + 4.0 + F)[:, None], W_l.shape)
                       for w, W_l in zip(worst, self.weights)],
                "db": [2.0 * eps * (w + batch + 2.0) for w in worst],
                "dx": 2.0 * eps * np.broadcast_to(units[0].max(axis=1, keepdims=True)
                                                  + self.weights[0].shape[0] + 2.0, self.x.shape)}


def reference(weights, biases, x, y, *, activation: str = "sigmoid", cost: str = "quadratic",
              output_activation: str | None = None, dps: int = 40, engine: str = "auto",
              dropped: int | None = None) -> Reference:
    """The exact gradients with what judging a float engine needs: :func:`backward_exact` (mpmath),
    or for large networks (``engine="auto"``) :func:`backward_extended` (:mod:`gradproofs.extended`);
    ``dropped=l``: of backpropagation with f′(z^l) left out of δ^l."""
    from gradproofs import extended

    W, b, x, y, act, out = _check(weights, biases, x, y, activation, cost, output_activation)
    return Reference(W, b, x, y, act.name, cost, _validate.positive_int("dps", dps), out.name,
                     _validate.choice("engine", engine, extended.ENGINES), _check_dropped(dropped, len(W), cost))

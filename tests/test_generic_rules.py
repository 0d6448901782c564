"""The generic oracle's own VJP rules, each proved by SymPy, and the traced graph against torch.

Every rule with a VJP is proved here: where the operation is smooth, its forward runs on SymPy
symbols and SymPy differentiates Σ c ⊙ y by each input entry, which must equal the rule's VJP
of c, exactly; where it is piecewise (relu, abs, clamp, maximum, where, amax, softplus's
threshold), the derivative is SymPy's of the piecewise formula written here (Max, Piecewise),
evaluated at exact rational points on each side of every kink. At ties and kinks, where the
derivative does not exist, the rule must make torch's choice: judged against torch's autograd.
Then the traced graph of whole specs (forward and gradient) against torch's float64 autograd, an
independent engine, and the errors for what the graph refuses.
"""

import itertools
import math

import numpy as np
import pytest
import sympy

from gradproofs.errors import InvalidArgument
from gradproofs.oracle import graph, rules

torch = pytest.importorskip("torch")
F = torch.nn.functional
EXACT = rules.Exact()


def symbols(name: str, shape: tuple, positive: bool = False) -> np.ndarray:
    """An object array of distinct SymPy symbols (positive ones where the operation needs it)."""
    flat = [sympy.Symbol(f"{name}{i}", positive=positive or None) for i in range(int(np.prod(shape)))]
    return np.array(flat, dtype=object).reshape(shape)


class Tensor:
    """A tensor argument of a proof: its shape, and whether its entries are positive."""

    def __init__(self, *shape, positive=False):
        self.shape, self.positive = shape, positive


def _zero(expression) -> bool:
    expression = sympy.simplify(expression)
    return expression == 0 or expression.equals(0)


# (operation, arguments): Tensor() for a float argument, anything else passed as it is.
SMOOTH = [
    ("aten.add.Tensor", dict(self=Tensor(2, 3), other=Tensor(3), alpha=2)),
    ("aten.add.Scalar", dict(self=Tensor(3), other=0.5)),
    ("aten.sub.Tensor", dict(self=Tensor(2, 1), other=Tensor(2, 3), alpha=3)),
    ("aten.sub.Scalar", dict(self=Tensor(3), other=2)),
    ("aten.rsub.Scalar", dict(self=Tensor(3), other=2, alpha=0.5)),
    ("aten.rsub.Tensor", dict(self=Tensor(3), other=Tensor(3))),
    ("aten.mul.Tensor", dict(self=Tensor(2, 3), other=Tensor(2, 1))),
    ("aten.mul.Scalar", dict(self=Tensor(3), other=0.25)),
    ("aten.div.Tensor", dict(self=Tensor(3), other=Tensor(3, positive=True))),
    ("aten.div.Scalar", dict(self=Tensor(3), other=3)),
    ("aten.neg.default", dict(self=Tensor(3))),
    ("aten.pow.Tensor_Scalar", dict(self=Tensor(3, positive=True), exponent=2.5)),
    ("aten.pow.Tensor_Scalar", dict(self=Tensor(3), exponent=3)),
    ("aten.pow.Tensor_Tensor", dict(self=Tensor(3, positive=True), exponent=Tensor(3))),
    ("aten.sqrt.default", dict(self=Tensor(3, positive=True))),
    ("aten.rsqrt.default", dict(self=Tensor(3, positive=True))),
    ("aten.exp.default", dict(self=Tensor(3))),
    ("aten.log.default", dict(self=Tensor(3, positive=True))),
    ("aten.log1p.default", dict(self=Tensor(3, positive=True))),
    ("aten.tanh.default", dict(self=Tensor(3))),
    ("aten.sigmoid.default", dict(self=Tensor(3))),
    ("aten.gelu.default", dict(self=Tensor(2))),
    ("aten.gelu.default", dict(self=Tensor(2), approximate="tanh")),
    ("aten.silu.default", dict(self=Tensor(2))),
    ("aten.sum.default", dict(self=Tensor(2, 3))),
    ("aten.sum.dim_IntList", dict(self=Tensor(2, 3), dim=[1])),
    ("aten.sum.dim_IntList", dict(self=Tensor(2, 3, 2), dim=[0, -1], keepdim=True)),
    ("aten.mean.default", dict(self=Tensor(2, 3))),
    ("aten.mean.dim", dict(self=Tensor(2, 3), dim=[0])),
    ("aten._softmax.default", dict(self=Tensor(2, 3), dim=1)),
    ("aten._log_softmax.default", dict(self=Tensor(3, 2), dim=0)),
    ("aten.view.default", dict(self=Tensor(2, 3), size=[3, 2])),
    ("aten._unsafe_view.default", dict(self=Tensor(2, 3), size=[6])),
    ("aten.reshape.default", dict(self=Tensor(2, 3), shape=[-1, 2])),
    ("aten.clone.default", dict(self=Tensor(3))),
    ("aten._to_copy.default", dict(self=Tensor(3))),
    ("aten.permute.default", dict(self=Tensor(2, 3, 2), dims=[2, 0, 1])),
    ("aten.transpose.int", dict(self=Tensor(2, 3), dim0=0, dim1=-1)),
    ("aten.t.default", dict(self=Tensor(2, 3))),
    ("aten.flip.default", dict(self=Tensor(2, 3), dims=[0, -1])),
    ("aten.expand.default", dict(self=Tensor(3, 1), size=[2, 3, 2])),
    ("aten.unsqueeze.default", dict(self=Tensor(2, 3), dim=-1)),
    ("aten.squeeze.dim", dict(self=Tensor(2, 1), dim=1)),
    ("aten.squeeze.dims", dict(self=Tensor(1, 3, 1), dim=[0, 2])),
    ("aten.squeeze.default", dict(self=Tensor(1, 3))),
    ("aten.cat.default", dict(tensors=[Tensor(2, 3), Tensor(1, 3)], dim=0)),
    ("aten.stack.default", dict(tensors=[Tensor(2), Tensor(2)], dim=1)),
    ("aten.slice.Tensor", dict(self=Tensor(4, 2), dim=0, start=1, end=4, step=2)),
    ("aten.select.int", dict(self=Tensor(2, 3), dim=1, index=-1)),
    ("aten.index_select.default", dict(self=Tensor(3, 2), dim=0, index=np.array([2, 0, 2]))),
    ("aten.gather.default", dict(self=Tensor(2, 3), dim=1, index=np.array([[0, 0], [2, 1]]))),
    ("aten.embedding.default", dict(weight=Tensor(3, 2), indices=np.array([[2, 0], [2, 1]]))),
    ("aten.mm.default", dict(self=Tensor(2, 3), mat2=Tensor(3, 2))),
    ("aten.bmm.default", dict(self=Tensor(2, 1, 2), mat2=Tensor(2, 2, 2))),
    ("aten.addmm.default", dict(self=Tensor(2), mat1=Tensor(2, 2), mat2=Tensor(2, 2), beta=0.5, alpha=2)),
    ("aten.native_layer_norm.default", dict(input=Tensor(2, 3), normalized_shape=[3], weight=Tensor(3),
                                            bias=Tensor(3), eps=0.25)),
    ("aten.native_layer_norm.default", dict(input=Tensor(1, 2, 2), normalized_shape=[2, 2], weight=None,
                                            bias=None, eps=0.5)),
    ("aten.native_batch_norm.default", dict(input=Tensor(3, 2), weight=Tensor(2), bias=Tensor(2), running_mean=None,
                                            running_var=None, training=True, momentum=0.1, eps=0.5)),
    ("aten.native_batch_norm.default", dict(input=Tensor(1, 2, 2), weight=None, bias=Tensor(2),
                                            running_mean=Tensor(2), running_var=Tensor(2, positive=True),
                                            training=False, momentum=0.1, eps=0.25)),
    ("aten.convolution.default", dict(input=Tensor(1, 2, 5), weight=Tensor(4, 1, 2), bias=Tensor(4), stride=[2],
                                      padding=[1], dilation=[2], transposed=False, output_padding=[0], groups=2)),
    ("aten.convolution.default", dict(input=Tensor(2, 1, 3, 3), weight=Tensor(1, 1, 2, 2), bias=None,
                                      stride=[1, 2], padding=[0, 1], dilation=[1, 1], transposed=False,
                                      output_padding=[0, 0], groups=1)),
    ("aten.split.Tensor", dict(self=Tensor(5, 2), split_size=2)),
    ("aten.unsafe_split.Tensor", dict(self=Tensor(2, 3), split_size=3, dim=1)),
    ("aten.split_with_sizes.default", dict(self=Tensor(2, 3), split_sizes=[1, 2], dim=-1)),
    ("aten.unsafe_split_with_sizes.default", dict(self=Tensor(3), split_sizes=[2, 1])),
    ("aten.unbind.int", dict(self=Tensor(2, 3), dim=1)),
    ("aten.mse_loss.default", dict(self=Tensor(2, 2), target=Tensor(2, 2))),
    ("aten.mse_loss.default", dict(self=Tensor(3), target=Tensor(3), reduction=2)),
    ("aten.mse_loss.default", dict(self=Tensor(2), target=Tensor(2), reduction=0)),
    ("aten.nll_loss_forward.default", dict(self=Tensor(3, 2), target=np.array([1, 0, 1]), weight=None,
                                           reduction=1, ignore_index=-100)),
    ("aten.nll_loss_forward.default", dict(self=Tensor(3, 3), target=np.array([2, 0, 1]), weight=Tensor(3),
                                           reduction=1, ignore_index=1)),
    ("aten.nll_loss_forward.default", dict(self=Tensor(3), target=np.array(2), weight=None,
                                           reduction=2, ignore_index=-100)),
]


def _bound(arguments: dict) -> tuple:
    """The arguments with symbols for each Tensor, and the symbols by argument name."""
    bound, free = {}, {}
    for name, value in arguments.items():
        if isinstance(value, Tensor):
            bound[name] = free[name] = symbols(name, value.shape, value.positive)
        elif isinstance(value, list) and value and isinstance(value[0], Tensor):
            bound[name] = free[name] = [symbols(f"{name}{i}_", v.shape, v.positive) for i, v in enumerate(value)]
        else:
            bound[name] = value
    return bound, free


@pytest.mark.parametrize("operation, arguments", SMOOTH, ids=[f"{op}-{i}" for i, (op, _) in enumerate(SMOOTH)])
def test_a_smooth_rules_vjp_is_sympys_derivative(operation, arguments):
    rule = rules.RULES[operation]
    bound, free = _bound(arguments)
    y = rule.forward(EXACT, **bound)
    results = y if isinstance(y, tuple) else (y,)
    c = tuple(symbols(f"c{k}_", np.shape(r)) for k, r in enumerate(results))
    loss = sum(np.sum(ck * np.asarray(r)) for ck, r in zip(c, results))
    vjp = rule.vjp(EXACT, c if isinstance(y, tuple) else c[0], y, **bound)
    for name, entries in free.items():
        pieces = entries if isinstance(entries, list) else [entries]
        got = vjp[name] if isinstance(entries, list) else [vjp[name]]
        assert len(got) == len(pieces)
        for piece, g in zip(pieces, got):
            g = rules.reduce_to(g, piece.shape)
            for index in np.ndindex(piece.shape):
                assert _zero(sympy.diff(loss, piece[index]) - g[index]), (name, index)


def _at(function, point: dict) -> sympy.Expr:
    return function.subs(point)


# Piecewise operations: (operation, arguments as exact rationals, the elementwise formula in SymPy of the
# named symbols, which argument names are differentiated).
X, Y = sympy.symbols("x y", real=True)
POINTS = [sympy.Rational(-3, 2), sympy.Rational(-1, 3), sympy.Rational(1, 4), sympy.Rational(7, 5)]
PIECEWISE = [
    ("aten.relu.default", {}, sympy.Max(X, 0)),
    ("aten.abs.default", {}, sympy.Abs(X)),
    ("aten.softplus.default", {"beta": 2, "threshold": 1},
     sympy.Piecewise((X, 2 * X > 1), (sympy.log(1 + sympy.exp(2 * X)) / 2, True))),
    ("aten.clamp.default", {"min": -0.5, "max": 1}, sympy.Min(sympy.Max(X, sympy.Rational(-1, 2)), 1)),
    ("aten.clamp_min.default", {"min": 0.5}, sympy.Max(X, sympy.Rational(1, 2))),
    ("aten.clamp_max.default", {"max": -1}, sympy.Min(X, -1)),
]
BINARY = [
    ("aten.maximum.default", sympy.Max(X, Y)),
    ("aten.minimum.default", sympy.Min(X, Y)),
    ("aten.clamp.Tensor", sympy.Max(X, Y)),  # clamp(x, min=y)
    ("aten.clamp_min.Tensor", sympy.Max(X, Y)),
    ("aten.clamp_max.Tensor", sympy.Min(X, Y)),
]
SECOND = {"aten.clamp.Tensor": "min", "aten.clamp_min.Tensor": "min", "aten.clamp_max.Tensor": "max"}


@pytest.mark.parametrize("operation, options, formula", PIECEWISE, ids=[p[0] for p in PIECEWISE])
def test_a_piecewise_rules_vjp_is_sympys_derivative_on_each_side(operation, options, formula):
    rule = rules.RULES[operation]
    x = EXACT.array(POINTS)
    c = EXACT.array([sympy.Rational(k + 2, 3) for k in range(len(POINTS))])
    y = rule.forward(EXACT, x, **options)
    got = rule.vjp(EXACT, c, y, x, **options)["self"]
    for k, point in enumerate(POINTS):
        assert _zero(y[k] - _at(formula, {X: point}))
        assert _zero(got[k] - c[k] * _at(sympy.diff(formula, X), {X: point})), point


@pytest.mark.parametrize("operation, formula", BINARY, ids=[b[0] for b in BINARY])
def test_a_binary_piecewise_rules_vjp_is_sympys_derivative(operation, formula):
    rule = rules.RULES[operation]
    pairs = [(a, b) for a, b in itertools.product(POINTS, POINTS) if a != b]
    x, y_ = EXACT.array([a for a, _ in pairs]), EXACT.array([b for _, b in pairs])
    c = EXACT.array([sympy.Rational(k + 1, 7) for k in range(len(pairs))])
    second = {SECOND.get(operation, "other"): y_}
    out = rule.forward(EXACT, x, **second)
    vjp = rule.vjp(EXACT, c, out, x, **second)
    for k, (a, b) in enumerate(pairs):
        at = {X: a, Y: b}
        assert out[k] == _at(formula, at)
        assert vjp["self"][k] == c[k] * _at(sympy.diff(formula, X), at)
        assert vjp[next(iter(second))][k] == c[k] * _at(sympy.diff(formula, Y), at)


def test_where_and_the_extremes_vjps_are_sympys_derivatives():
    x = EXACT.array([[POINTS[0], POINTS[3], POINTS[1]], [POINTS[2], POINTS[0], POINTS[1]]])
    other = EXACT.array([[1, 2, 3], [4, 5, 6]])
    condition = np.array([[True, False, True], [False, False, True]])
    c = EXACT.array([[1, 2, 3], [5, 7, 11]])
    where = rules.RULES["aten.where.self"]
    vjp = where.vjp(EXACT, c, where.forward(EXACT, condition, x, other), condition, x, other)
    xs = symbols("x", (2, 3))
    for index in np.ndindex(2, 3):
        formula = sympy.Piecewise((xs[index], bool(condition[index])), (other[index], True))
        assert vjp["self"][index] == c[index] * sympy.diff(formula, xs[index])
        assert vjp["other"][index] == c[index] * (0 if condition[index] else 1)
    for name, extreme in (("amax", sympy.Max), ("amin", sympy.Min)):
        rule = rules.RULES[f"aten.{name}.default"]
        y = rule.forward(EXACT, x, dim=[1])
        g = rule.vjp(EXACT, c[:, 0], y, x, dim=[1])["self"]
        for row in range(2):
            formula = extreme(*xs[row])
            at = dict(zip(xs[row], x[row]))
            assert y[row] == _at(formula, at)
            for column in range(3):
                assert g[row, column] == c[row, 0] * _at(sympy.diff(formula, xs[row, column]), at)


def test_every_differentiable_rule_is_proved_here():
    proved = {op for op, _ in SMOOTH} | {p[0] for p in PIECEWISE} | {b[0] for b in BINARY} | {
        "aten.where.self", "aten.amax.default", "aten.amin.default"}
    identities = {"aten.alias.default", "aten.lift_fresh.default", "aten.to.dtype", "aten.contiguous.default"}
    differentiable = {name for name, rule in rules.RULES.items() if rule.vjp is not None}
    assert differentiable - proved == identities  # the same forward and VJP as clone's, proved above
    assert all(rules.RULES[name].vjp is rules.RULES["aten.clone.default"].vjp for name in identities)


# At ties and kinks: torch's choice, judged by torch's autograd in float64.
TIES = [
    ("relu", lambda x: torch.relu(x), [-1.0, 0.0, 2.0]),
    ("abs", lambda x: torch.abs(x), [-1.0, 0.0, 2.0]),
    ("clamp", lambda x: torch.clamp(x, -1.0, 2.0), [-1.0, 0.0, 2.0, 3.0]),
    ("maximum", lambda x: torch.maximum(x, torch.tensor([0.0, 1.0, 1.0], dtype=torch.float64)), [0.0, 1.0, 2.0]),
    ("minimum", lambda x: torch.minimum(x, torch.tensor([0.0, 1.0, 1.0], dtype=torch.float64)), [0.0, 1.0, 2.0]),
    ("amax", lambda x: x.reshape(2, 3).amax(1), [1.0, 3.0, 3.0, 2.0, 2.0, 2.0]),
    ("amin", lambda x: x.reshape(2, 3).amin(1), [1.0, 1.0, 3.0, -2.0, 0.0, 5.0]),
    # Not a derivative but torch's conventions for embeddings: no cotangent for the padding row, and each
    # row's divided by how often it was looked up.
    ("embedding padding", lambda x: F.embedding(torch.tensor([2, 0, 2]), x.reshape(3, 2), padding_idx=0),
     [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
    ("embedding frequency", lambda x: F.embedding(torch.tensor([2, 0, 2]), x.reshape(3, 2),
                                                  scale_grad_by_freq=True), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
]


@pytest.mark.parametrize("name, spec, point", TIES, ids=[t[0] for t in TIES])
def test_at_ties_and_kinks_the_rules_make_torchs_choice(name, spec, point):
    x = np.array(point)
    traced = graph.trace(spec, {"x": x.shape}, {"x": x})
    values = graph.evaluate(traced, rules.Floats(), {"x": x})
    cotangent = np.arange(1.0, 1.0 + np.size(values[traced.result.node]))
    ours = graph.gradients(traced, rules.Floats(), values, cotangent.reshape(np.shape(values[-1])))["x"]
    t = torch.tensor(x, requires_grad=True)
    spec(t).backward(torch.tensor(cotangent).reshape(spec(t).shape))
    assert ours.tolist() == t.grad.tolist()


def _compare_with_torch(spec, arrays: dict, seed: int = 0, A=None):
    """The graph's forward and gradient of ``spec`` in arithmetic ``A`` (float64 by default) against torch's
    float64 autograd: the largest difference, as a fraction of the largest entry of each result."""
    traced = graph.trace(spec, {name: np.shape(a) for name, a in arrays.items()}, arrays)
    A = A or rules.Floats()
    values = graph.evaluate(traced, A, arrays)
    out = values[traced.result.node]
    out = np.asarray(out if traced.result.output is None else out[traced.result.output], dtype=np.float64)
    cotangent = np.random.default_rng(seed).standard_normal(np.shape(out))
    gradients = graph.gradients(traced, A, values, cotangent)
    ours = {name: np.asarray(g, dtype=np.float64) for name, g in gradients.items()}
    tensors = {name: torch.tensor(a, requires_grad=np.asarray(a).dtype.kind == "f") for name, a in arrays.items()}
    result = spec(*tensors.values())
    result.backward(torch.tensor(cotangent))
    errors = {"forward": np.max(np.abs(out - result.detach().numpy())) / np.max(np.abs(out))}
    for name, g in ours.items():
        expected = tensors[name].grad.numpy()
        errors[name] = np.max(np.abs(g - expected)) / np.max(np.abs(expected))
    return traced, errors


def _arrays(seed: int, shapes: dict, positive=()) -> dict:
    rng = np.random.default_rng(seed)
    return {name: rng.uniform(0.2, 2.0, shape) if name in positive else rng.standard_normal(shape)
            for name, shape in shapes.items()}


def _block(x, W1, W2, g, b):
    """A pre-norm GELU MLP block with a residual, and softmax attention without projections."""
    h = F.layer_norm(x, (x.shape[-1],), g, b)
    h = x + F.gelu(h @ W1) @ W2
    q = h.unflatten(-1, (2, -1)).transpose(1, 2)
    return F.scaled_dot_product_attention(q, q, q, is_causal=True).transpose(1, 2).flatten(-2)


RNN, LSTM, GRU = (layer(3, 4).double() for layer in (torch.nn.RNN, torch.nn.LSTM, torch.nn.GRU))


def _recurrent(x, w, u, b):
    """An Elman RNN, an LSTM and a GRU over one sequence, with their weights drawn (slices of w, u, b)."""
    total = 0
    for layer, gates in ((RNN, 1), (LSTM, 4), (GRU, 3)):
        weights = {"weight_ih_l0": w[:4 * gates], "weight_hh_l0": u[:4 * gates], "bias_ih_l0": b[:4 * gates],
                   "bias_hh_l0": b[:4 * gates].flip(0)}
        total = total + torch.func.functional_call(layer, weights, (x,))[0]
    return total


SPECS = [
    ("arithmetic", lambda x, y: x + y - x * y / (y + 1) - (-x) + x ** 3 + x.pow(y) + torch.sqrt(x) + torch.rsqrt(x)
     + torch.exp(x) + torch.log(x) + torch.log1p(x), dict(x=(3, 4), y=(3, 4)), ("x", "y")),
    ("activations", lambda x: torch.tanh(x) + torch.sigmoid(x) + torch.relu(x) + F.gelu(x)
     + F.gelu(x, approximate="tanh") + F.silu(x) + F.softplus(x), dict(x=(3, 4)), ()),
    ("reductions", lambda x: x.sum(0) + x.mean(0) * 2 + x.amax(0) + x.amin(0) + x.mean(), dict(x=(5, 4)), ()),
    ("softmax", lambda x: torch.softmax(x, -1) * 3 + torch.log_softmax(x, 0), dict(x=(3, 4)), ()),
    ("norms", lambda x, g, b: F.layer_norm(x, (4,), g, b) + F.rms_norm(x, (4,), g), dict(x=(3, 4), g=(4,), b=(4,)),
     ()),
    ("selection", lambda x, y: torch.where(x > y, x, y) + x.clamp(-0.2, 0.5) + torch.maximum(x, y)
     + torch.minimum(x, y), dict(x=(3, 4), y=(3, 4)), ()),
    ("shapes", lambda x, y: x.view(2, 8).reshape(8, 2).permute(1, 0).transpose(0, 1).expand(3, 8, 2).sum(0)
     .unsqueeze(0).squeeze(0).sum() + torch.cat([x, y]).sum() + (torch.stack([x, y]) ** 2).sum()
     + (x[1:3] ** 2).sum() + x[1].sum() + (x.index_select(0, torch.tensor([0, 2, 0])) ** 2).sum()
     + (x.gather(1, torch.tensor([[0], [1], [2], [3]])) ** 2).sum()
     + (F.embedding(torch.tensor([1, 0, 3, 1]), x) ** 3).sum(), dict(x=(4, 4), y=(4, 4)), ()),
    ("linear algebra", lambda x, y: (x @ y.T) + torch.addmm(x[:, 0], x, y.T) + torch.bmm(x[None], y.T[None])[0]
     + torch.matmul(x[None].expand(2, 4, 4), y.T).sum(0), dict(x=(4, 4), y=(4, 4)), ()),
    ("attention", lambda q, k, v: F.scaled_dot_product_attention(q, k, v), dict(q=(1, 2, 3, 4), k=(1, 2, 5, 4),
                                                                               v=(1, 2, 5, 4)), ()),
    ("losses", lambda x, y: F.cross_entropy(x, torch.tensor([0, 1, 4, 3])) + F.mse_loss(x, y)
     + F.nll_loss(F.log_softmax(x, 1), torch.tensor([0, 1, 4, 3]), reduction="sum"), dict(x=(4, 5), y=(4, 5)), ()),
    ("convolutions", lambda x, w, b, v: F.conv1d(x, w, b, padding=1, dilation=2)
     + F.conv2d(x[:, :, None], v[:, :, None], stride=(1, 2), groups=3)[:, :, 0, :1],
     dict(x=(2, 3, 7), w=(6, 3, 3), b=(6,), v=(6, 1, 3)), ()),
    ("batch norm", lambda x, g, b: F.batch_norm(x, None, None, g, b, training=True) + F.batch_norm(
        x, torch.tensor([0.5, -1.0, 2.0], dtype=x.dtype), torch.tensor([0.25, 1.5, 3.0], dtype=x.dtype), g, b),
     dict(x=(5, 3, 2), g=(3,), b=(3,)), ()),
    ("recurrent layers", _recurrent, dict(x=(4, 2, 3), w=(16, 3), u=(16, 4), b=(16,)), ()),
    ("transformer block", _block, dict(x=(2, 5, 8), W1=(8, 16), W2=(16, 8), g=(8,), b=(8,)), ()),
]


@pytest.mark.parametrize("arithmetic", ["float64", "mpmath"])
@pytest.mark.parametrize("name, spec, shapes, positive", SPECS, ids=[s[0] for s in SPECS])
def test_the_traced_graph_agrees_with_torchs_float64_autograd(name, spec, shapes, positive, arithmetic):
    """The graph in float64 and in 40-digit mpmath against a float64 evaluation of the same mathematics in
    another order: agreement to 10⁻¹² of each result's largest entry (a few hundred roundings of
    1.1·10⁻¹⁶ at most, with these sizes and draws)."""
    A = rules.Floats() if arithmetic == "float64" else rules.Multiprecision()
    for seed in range(3):
        _, errors = _compare_with_torch(spec, _arrays(seed, shapes, positive), seed, A)
        assert max(errors.values()) < 1e-12, errors


def test_recurrent_layers_are_traced_to_their_decompositions_in_float32():
    """In float32 torch's CPU LSTM and GRU call oneDNN's fused layer, which has no decomposition; the trace
    turns oneDNN off (and back on), so that they reach the gates' matmuls and pointwise functions."""
    shapes = dict(x=(4, 2, 3), w=(16, 3), u=(16, 4), b=(16,))
    enabled = torch.backends.mkldnn.enabled
    traced = graph.trace(_recurrent, shapes, _arrays(0, shapes), "float32")
    assert torch.backends.mkldnn.enabled == enabled
    operations = {node.operation for node in traced.nodes}
    assert not any("rnn" in op or "lstm" in op or "gru" in op for op in operations)
    assert {"aten.tanh.default", "aten.sigmoid.default"} <= operations


def test_a_spec_with_a_label_argument_differentiates_only_the_floats():
    labels = np.array([2, 0, 1])
    spec = lambda x, t: F.cross_entropy(x, t)  # noqa: E731
    traced, errors = _compare_with_torch(spec, {"x": _arrays(0, {"x": (3, 4)})["x"], "t": labels})
    assert traced.inputs == ("x", "t") and max(errors.values()) < 1e-12
    assert "aten.nll_loss_forward.default" in traced.operations()


def test_an_unsupported_operation_is_named_with_the_specs_line():
    def spec(x):
        y = x * 2
        return torch.cumsum(y, 0)  # the line named below
    line = spec.__code__.co_firstlineno + 2
    with pytest.raises(InvalidArgument, match=rf"aten\.cumsum\.default at test_generic_rules\.py:{line} is not "
                                              "supported"):
        graph.trace(spec, {"x": (3,)})


def test_an_in_place_change_of_an_input_is_refused_and_of_an_intermediate_traced():
    with pytest.raises(InvalidArgument, match=r"aten\.mul_\.Tensor at .* modifies an input or a view in place"):
        graph.trace(lambda x: x.mul_(x), {"x": (3,)})
    traced = graph.trace(lambda x: (x * 1).add_(2.0).exp(), {"x": (3,)})
    assert traced.operations() == ["aten.mul.Tensor", "aten.add.Tensor", "aten.exp.default"]
    values = graph.evaluate(traced, rules.Floats(), {"x": np.zeros(3)})
    assert np.allclose(values[-1], math.exp(2.0), rtol=1e-15)


def test_a_spec_must_return_a_tensor_of_its_inputs():
    with pytest.raises(InvalidArgument, match="spec must return a tensor computed from its float inputs"):
        graph.trace(lambda x: torch.ones(2), {"x": (2,)})


def test_the_graph_is_evaluated_with_the_rules_not_with_torchs_values():
    """Evaluated exactly, the graph's gradient of Σ x³ at x = 1/3 is 3·(1/3)² = 1/3 exactly: no float."""
    traced = graph.trace(lambda x: (x ** 3).sum(), {"x": (2,)})
    x = EXACT.array([sympy.Rational(1, 3), sympy.Rational(-2, 5)])
    values = graph.evaluate(traced, EXACT, {"x": x})
    g = graph.gradients(traced, EXACT, values, EXACT.array(1))["x"]
    assert list(g) == [sympy.Rational(1, 3), sympy.Rational(12, 25)]


# derivations/gradients.md: generated from the rules, so a wrong VJP cannot be written down.

def test_the_document_refuses_a_vjp_that_is_not_sympys_derivative(monkeypatch):
    from gradproofs.errors import DerivationError
    from gradproofs.oracle import document

    tanh = rules.RULES["aten.tanh.default"]
    wrong = rules.Rule(tanh.name, tanh.forward, lambda A, g, y, self: {"self": g * (1 - y)})  # 1 − tanh, not 1 − tanh²
    monkeypatch.setitem(rules.RULES, "aten.tanh.default", wrong)
    with pytest.raises(DerivationError, match="the difference simplifies to"):
        document.render()


def test_the_document_needs_a_statement_for_every_rule_it_does_not_derive(monkeypatch):
    from gradproofs.errors import DerivationError
    from gradproofs.oracle import document

    monkeypatch.delitem(document.STATEMENTS, "aten.gather.default")
    with pytest.raises(DerivationError, match=r"\['aten.gather.default'\] need one statement"):
        document.render()


def test_the_document_names_every_rule(pytestconfig):
    text = (pytestconfig.rootpath / "derivations" / "gradients.md").read_text(encoding="utf-8")
    assert [name for name in rules.RULES if f"`{name}`" not in text] == []


@pytest.mark.parametrize("dtype", [np.float64, np.longdouble])
def test_reference_erf_is_within_one_ulp_of_mpmath(dtype):
    """The reference's erf (float64, whatever the arithmetic) against mpmath's at 40 digits: within 1 ulp of
    float64 at points across its range (its tails, the point where it reaches 1 in float64, a reversed
    view), which is what the rounding model charges the reference for it."""
    mpmath = pytest.importorskip("mpmath")
    points = np.concatenate([np.linspace(-6.0, 6.0, 241), [1e-300, -2.5e-8, 0.0508, 5.9215871957945065]])[::-1]
    got = rules.Floats(dtype).erf(points)
    assert got.dtype == np.dtype(dtype) and got.shape == points.shape
    with mpmath.workdps(40):
        for x, value in zip(points, got):
            exact = mpmath.erf(mpmath.mpf(float(x)))
            ulp = np.spacing(np.float64(abs(float(exact)))) if exact != 0 else np.finfo(np.float64).smallest_subnormal
            assert abs(mpmath.mpf(float(value)) - exact) <= ulp, x

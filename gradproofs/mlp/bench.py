"""The dense networks' benchmark section.

``mlp.backward`` (NumPy float64) against torch autograd on the CPU in
float64, sigmoid, quadratic cost, for widths [784, 30, 30, 30, 30, 10] with a
batch of 1000 and widths [512]*8 = [512, 512, 512, 512, 512, 512, 512, 512]
(7 layers of 512 → 512) with a batch of 256; inputs and targets U(0, 1),
Nielsen's initialisation. Torch is timed twice: ``mlp.backward_torch`` as
called (it validates, builds the ``nn.Linear`` layers and copies the weights
in every call), and a bare forward and backward on layers and tensors built
once (the pre-activations' gradients kept, so it yields the δ^l that
``backward`` returns too). The ratio numpy/torch has a target of at most 1.
Torch runs on 2 threads; so does NumPy's BLAS, whose thread count is read
from the environment when NumPy is first imported, which gradproofs.timing sets
(unless already set) before NumPy is imported.

Each NumPy engine is also timed against its floor, as
:mod:`gradproofs.activations.bench` describes.

Run by ``python -m gradproofs.bench`` (the family's declaration names this section); each time is the
best of several repeats, nothing is asserted.
"""

from __future__ import annotations

import os

import numpy as np

from gradproofs import devices, timing
from gradproofs.activations import bench as floors
from gradproofs.mlp import engine as mlp
from gradproofs.mlp.initialisation import initialise

DENSE_CASES = (([784, 30, 30, 30, 30, 10], 1000), ([512] * 8, 256))
DENSE_SEED = 0
DENSE_REPEATS = 20
DENSE_WARM_UP = 3
DENSE_TARGET = 1.0  # numpy time / torch time


def _prebuilt_torch(weights, biases, x, y):
    """A forward and backward pass on ``nn.Linear`` layers and tensors built once, as a callable.

    Sigmoid, quadratic cost, float64 on the CPU; each call clears the gradients
    and returns (dW, db, δ/B) as tensors.
    """
    torch = devices.torch()
    layers = []
    for W_l, b_l in zip(weights, biases):
        layer = torch.nn.Linear(W_l.shape[1], W_l.shape[0], dtype=torch.float64)
        with torch.no_grad():
            layer.weight.copy_(torch.as_tensor(W_l))
            layer.bias.copy_(torch.as_tensor(b_l))
        layers.append(layer)
    inputs, target = torch.as_tensor(x), torch.as_tensor(y)

    def step():
        for layer in layers:
            layer.weight.grad = layer.bias.grad = None
        a, z = inputs, []
        for layer in layers:
            z.append(layer(a))
            z[-1].retain_grad()
            a = torch.sigmoid(z[-1])
        (0.5 * ((a - target) ** 2).sum(dim=1).mean()).backward()
        return ([layer.weight.grad for layer in layers], [layer.bias.grad for layer in layers],
                [z_l.grad for z_l in z])

    return step


def _dense_floor(weights, x):
    """The matrix products of one ``mlp.backward`` call alone, on arrays allocated once: per layer
    a^(l−1) W^lᵀ, δ^l W^l (∂C/∂x's too) and δ^lᵀ a^(l−1)."""
    batch = x.shape[0]
    inputs = [x] + [np.ones((batch, W.shape[0])) for W in weights[:-1]]
    deltas = [np.ones((batch, W.shape[0])) for W in weights]
    outputs = [np.empty((batch, W.shape[0])) for W in weights]
    backs = [np.empty((batch, W.shape[1])) for W in weights]
    grads = [np.empty(W.shape) for W in weights]

    def products():
        for a, W, z in zip(inputs, weights, outputs):
            np.matmul(a, W.T, out=z)
        for a, W, d, back, g in zip(inputs, weights, deltas, backs, grads):
            np.matmul(d, W, out=back)
            np.matmul(d.T, a, out=g)

    return products


def _largest_gradient_difference(ours, theirs) -> float:
    """The largest |ours − theirs| over every ∂C/∂W^l entry, relative to the largest |ours|."""
    scale = max(float(np.abs(g).max()) for g in ours)
    return max(float(np.abs(g - t.numpy()).max()) for g, t in zip(ours, theirs)) / scale


def section() -> None:
    torch = devices.torch()
    torch.set_num_threads(timing.THREADS)
    blas = os.environ["OPENBLAS_NUM_THREADS"] + (
        " (NumPy was imported before gradproofs.timing: the setting may not apply)"
        if timing.NUMPY_IMPORTED_FIRST else "")
    print(f"Dense networks, CPU, float64, sigmoid, quadratic cost: mlp.backward (NumPy) "
          f"against torch {torch.__version__} autograd")
    print(f"  {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, OPENBLAS_NUM_THREADS {blas}; "
          f"best of {DENSE_REPEATS} after {DENSE_WARM_UP} warm-up calls")
    for widths, batch in DENSE_CASES:
        rng = np.random.default_rng(DENSE_SEED)
        weights, biases = initialise(widths, "nielsen", rng)
        x, y = rng.random((batch, widths[0])), rng.random((batch, widths[-1]))
        prebuilt = _prebuilt_torch(weights, biases, x, y)
        engines = (
            ("numpy   mlp.backward", lambda: mlp.backward(weights, biases, x, y)),
            ("torch   mlp.backward_torch", lambda: mlp.backward_torch(weights, biases, x, y)),
            ("torch   prebuilt layers", prebuilt),
        )
        times = {}
        for label, fn in engines:
            timing.best(fn, DENSE_WARM_UP)
            times[label] = timing.best(fn, DENSE_REPEATS)
        floor = timing.best(_dense_floor(weights, x), DENSE_REPEATS)
        activation = timing.best(floors.activation_floor("sigmoid", [(batch, n) for n in widths[1:]]), DENSE_REPEATS)
        print(f"\n  widths {widths}, batch {batch} ({len(widths) - 1} layers)")
        numpy_s = times[engines[0][0]]
        floors.print_floor(engines[0][0], 28, numpy_s, floor, activation)
        for label, _ in engines[1:]:
            ratio = numpy_s / times[label]
            verdict = "met" if ratio <= DENSE_TARGET else "missed"
            print(f"    {label:<28}{timing.ms(times[label])}  numpy/torch {ratio:5.2f} "
                  f"(target <= {DENSE_TARGET:.1f}: {verdict})")
        difference = _largest_gradient_difference(mlp.backward(weights, biases, x, y).dW, prebuilt()[0])
        print(f"    dW agree: largest difference {difference:.1e} of the largest |dW| entry")

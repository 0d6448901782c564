"""Planted bugs in the style of real kernels, for the generic oracle's bench and tests.

Each :class:`Bug` is a custom ``torch.autograd.Function`` whose forward is right and whose backward
has one mistake that real kernels have had, its spec (the mathematics, in torch operations), the
shapes check_gradients draws, and the precision the kernel runs in. :func:`catches` runs
check_gradients on it; :func:`gradcheck_catches` runs ``torch.autograd.gradcheck`` (finite
differences) on the same function in float64 or in the kernel's dtype; :func:`twice_rule_catches`
applies the rule of flash-attention's tests (a gradient is accepted if its largest error is at most
twice that of PyTorch's own implementation in the same dtype, both against float64).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

__all__ = ["Bug", "bugs", "autograd_fn", "catches", "gradcheck_catches", "twice_rule_catches"]


@dataclass(frozen=True)
class Bug:
    """A kernel with a wrong backward: ``function`` (an autograd Function's apply, or a plain function of
    tensors), its ``spec``, the ``shapes`` and options of check_gradients, and its dtype."""

    name: str
    function: Callable
    spec: Callable
    shapes: dict
    precision: str = "float32"
    options: dict = field(default_factory=dict)


def autograd_fn(function: Callable, scalar: bool) -> Callable:
    """fn for check_gradients: the gradients that torch's autograd finds through ``function`` (a loss,
    or a tensor contracted with the cotangent, its last argument)."""
    import torch

    def fn(*arguments):
        inputs = [a.detach().requires_grad_() if a.is_floating_point() else a
                  for a in (arguments if scalar else arguments[:-1])]
        out = function(*inputs)
        floats = [a for a in inputs if a.is_floating_point()]
        grads = torch.autograd.grad(out, floats, None if scalar else arguments[-1], allow_unused=True)
        return tuple(torch.zeros_like(a) if g is None else g for a, g in zip(floats, grads))
    return fn


def _functions():
    """The battery's autograd Functions, made on first use (torch is imported then)."""
    import torch
    import torch.nn.functional as F

    class LayerNormWithoutMean(torch.autograd.Function):
        """Layer norm whose backward drops the mean term: x̄ = r(ĝ − x̂ mean(ĝ x̂)), without − mean ĝ."""

        @staticmethod
        def forward(ctx, x, weight):
            mean = x.mean(-1, keepdim=True)
            rstd = torch.rsqrt(x.var(-1, unbiased=False, keepdim=True) + 1e-5)
            normal = (x - mean) * rstd
            ctx.save_for_backward(normal, rstd, weight)
            return normal * weight

        @staticmethod
        def backward(ctx, g):
            normal, rstd, weight = ctx.saved_tensors
            gn = g * weight
            x_bar = rstd * (gn - normal * (gn * normal).mean(-1, keepdim=True))
            return x_bar, (g * normal).reshape(-1, normal.shape[-1]).sum(0)

    class SoftmaxWithoutSubtraction(torch.autograd.Function):
        """Softmax whose backward is ȳ ⊙ y, without the − Σ ȳ ⊙ y."""

        @staticmethod
        def forward(ctx, x):
            y = torch.softmax(x, -1)
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

    class AttentionUnscaledKeys(torch.autograd.Function):
        """softmax(QKᵀ/√d)V whose dK forgets the 1/√d."""

        @staticmethod
        def forward(ctx, q, k, v):
            scale = 1 / math.sqrt(q.shape[-1])
            p = torch.softmax(q @ k.transpose(-1, -2) * scale, -1)
            ctx.save_for_backward(q, k, v, p)
            return p @ v

        @staticmethod
        def backward(ctx, g):
            q, k, v, p = ctx.saved_tensors
            scale = 1 / math.sqrt(q.shape[-1])
            dp = g @ v.transpose(-1, -2)
            ds = p * (dp - (dp * p).sum(-1, keepdim=True))
            return ds @ k * scale, ds.transpose(-1, -2) @ q, p.transpose(-1, -2) @ g

    class GeluTanhBackward(torch.autograd.Function):
        """Exact GELU whose backward is the tanh approximation's derivative."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return F.gelu(x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            k = math.sqrt(2 / math.pi)
            t = torch.tanh(k * (x + 0.044715 * x ** 3))
            return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x))

    class LstmCellWithoutForget(torch.autograd.Function):
        """An LSTM cell step c' = f c + i g, h' = o tanh(c'), whose ∂/∂c drops the forget gate."""

        @staticmethod
        def forward(ctx, gates, c):
            i, f, g, o = gates.chunk(4, -1)
            i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
            c_next = f * c + i * g
            h = o * torch.tanh(c_next)
            ctx.save_for_backward(i, f, g, o, c, c_next)
            return h

        @staticmethod
        def backward(ctx, dh):
            i, f, g, o, c, c_next = ctx.saved_tensors
            t = torch.tanh(c_next)
            dc = dh * o * (1 - t * t)
            gates = torch.cat([dc * g * i * (1 - i), dc * c * f * (1 - f), dc * i * (1 - g * g), dh * t * o * (1 - o)],
                              -1)
            return gates, dc  # the cell's gradient is f·dc

    class BiasAddWrongAxis(torch.autograd.Function):
        """A fused x @ W + b whose bias gradient sums over the wrong axis (of a square output)."""

        @staticmethod
        def forward(ctx, x, weight, bias):
            ctx.save_for_backward(x, weight)
            return x @ weight + bias

        @staticmethod
        def backward(ctx, g):
            x, weight = ctx.saved_tensors
            return g @ weight.T, x.T @ g, g.sum(1)

    class MatmulBfloat16Accumulation(torch.autograd.Function):
        """x @ W in bfloat16 whose weight gradient accumulates its sum over the batch in bfloat16, row by
        row, where its contract promises float32 accumulation."""

        @staticmethod
        def forward(ctx, x, weight):
            ctx.save_for_backward(x, weight)
            return (x.float() @ weight.float()).to(x.dtype)

        @staticmethod
        def backward(ctx, g):
            x, weight = ctx.saved_tensors
            total = torch.zeros(weight.shape, dtype=torch.bfloat16)
            for row in range(x.shape[0]):
                total = total + (x[row, :, None].float() * g[row, None, :].float()).to(torch.bfloat16)
            return (g.float() @ weight.float().T).to(x.dtype), total.to(weight.dtype)

    return (LayerNormWithoutMean, SoftmaxWithoutSubtraction, AttentionUnscaledKeys, GeluTanhBackward,
            LstmCellWithoutForget, BiasAddWrongAxis, MatmulBfloat16Accumulation)


def bugs() -> list:
    """The battery, in the issue's order."""
    import torch
    import torch.nn.functional as F

    (layer_norm, softmax, attention, gelu, lstm, bias_add, bfloat16_sum) = _functions()

    def lstm_spec(gates, c):
        i, f, g, o = gates.chunk(4, -1)
        return torch.sigmoid(o) * torch.tanh(torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g))

    return [
        Bug("layer norm without the mean term", layer_norm.apply,
            lambda x, weight: F.layer_norm(x, (x.shape[-1],), weight, eps=1e-5), {"x": ("B", "D"), "weight": ("D",)},
            options={"sizes": {"D": (2, 8)}}),
        Bug("softmax without the subtraction", softmax.apply, lambda x: torch.softmax(x, -1), {"x": ("B", "C")},
            options={"sizes": {"C": (2, 6)}}),
        Bug("attention dK without 1/sqrt(d)", attention.apply,
            lambda q, k, v: F.scaled_dot_product_attention(q, k, v),
            {"q": ("B", "T", "D"), "k": ("B", "S", "D"), "v": ("B", "S", "D")}, options={"sizes": {"D": (2, 4)}}),
        Bug("GELU backward of the tanh form", gelu.apply, lambda x: F.gelu(x), {"x": ("B", "D")},
            options={"values": {"x": (-3.0, 3.0)}}),
        Bug("LSTM cell without the forget gate in dc", lstm.apply, lstm_spec, {"gates": ("B", 4), "c": ("B", 1)}),
        Bug("bias-add summed over the wrong axis", bias_add.apply, lambda x, weight, bias: x @ weight + bias,
            {"x": ("B", "H"), "weight": ("H", "H"), "bias": ("H",)}, options={"sizes": {"B": (2, 4), "H": (2, 4)}}),
        Bug("bfloat16 accumulation under a float32 contract", bfloat16_sum.apply, lambda x, weight: x @ weight,
            {"x": ("B", "D"), "weight": ("D", "H")}, precision="bfloat16",
            options={"accumulation": "float32", "sizes": {"B": (16, 64)}}),
    ]


def catches(bug: Bug, max_examples: int = 100) -> tuple:
    """(whether check_gradients catches the bug at its precision within ``max_examples``, seconds taken)."""
    from gradproofs.errors import Mismatch
    from gradproofs.oracle.generic import check_gradients

    start = time.perf_counter()
    try:
        check_gradients(autograd_fn(bug.function, scalar=False), spec=bug.spec, shapes=bug.shapes,
                        precision=bug.precision, arrays="torch", max_examples=max_examples, **bug.options)
    except Mismatch:
        return True, time.perf_counter() - start
    return False, time.perf_counter() - start


def _inputs(bug: Bug, dtype, seed: int = 0) -> list:
    """One set of inputs for the battery's other checkers: each dimension of size 3 (the declared sizes'
    smallest where that is larger), entries in (−1, 1)."""
    import torch

    sizes = {dim: max(3, span[0] if isinstance(span, tuple) else span)
             for dim, span in bug.options.get("sizes", {}).items()}
    generator = torch.Generator().manual_seed(seed)
    return [(torch.rand(tuple(sizes.get(d, 3) if isinstance(d, str) else d for d in dims), generator=generator,
                        dtype=torch.float64) * 2 - 1).to(dtype).requires_grad_() for dims in bug.shapes.values()]


def gradcheck_catches(bug: Bug, dtype_name: str) -> tuple:
    """(whether ``torch.autograd.gradcheck`` fails the function in ``dtype_name``, seconds taken)."""
    import torch

    start = time.perf_counter()
    try:
        passed = torch.autograd.gradcheck(bug.function, _inputs(bug, getattr(torch, dtype_name)), raise_exception=False)
    except RuntimeError:
        passed = False
    return not passed, time.perf_counter() - start


def twice_rule_catches(bug: Bug) -> tuple:
    """(whether the bug's gradient errs by more than twice PyTorch's own in the same dtype, both against
    float64 autograd of the spec, on one draw; seconds taken)."""
    import torch

    start = time.perf_counter()
    dtype = getattr(torch, bug.precision)
    reference_inputs = _inputs(bug, torch.float64)
    native = [t.detach().to(dtype).requires_grad_() for t in reference_inputs]
    exact = [t.detach().to(dtype).double().requires_grad_() for t in reference_inputs]
    out = bug.spec(*exact)
    cotangent = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64).to(dtype)
    reference = torch.autograd.grad(out, exact, cotangent.double())
    pytorch = torch.autograd.grad(bug.spec(*native), native, cotangent)
    tested_inputs = [t.detach().requires_grad_() for t in native]
    tested = torch.autograd.grad(bug.function(*tested_inputs), tested_inputs, cotangent)
    caught = any(float((t.double() - r).abs().max()) > 2 * float((p.double() - r).abs().max())
                 for t, p, r in zip(tested, pytorch, reference))
    return caught, time.perf_counter() - start


def median_used(fn, spec, shapes: dict, precision: str, examples: int, seed: int = 0, **options) -> float:
    """The median, over the entries of ``examples`` random examples (each dimension at the largest size
    declared, or 8; entries uniform in their declared ranges), of the fraction of its tolerance that ``fn``
    (a correct implementation) used: how tight the bound is."""
    from gradproofs.formats import FORMATS
    from gradproofs.oracle import generic, rounding

    oracle = generic.Gradients(spec=spec, shapes=shapes, precision=precision, arrays="torch", **options)
    rng = np.random.default_rng(seed)
    storage = FORMATS[precision]
    sizes = {dim: high if (dim in oracle.sizes) else 8 for dim, (_, high) in oracle._ranges().items()}
    used = []
    for _ in range(examples):
        arrays = {}
        for name, dims in oracle.shapes.items():
            shape = oracle._shape(dims, sizes)
            declared = oracle.values.get(name, generic.DEFAULT_VALUES)
            arrays[name] = rng.integers(0, sizes[declared[1]], shape) if declared[0] == "index" else \
                rounding.stored(rng.uniform(*declared, shape), storage)
        cotangent = None
        if not oracle.scalar:
            shape = oracle.traced({n: a.shape for n, a in arrays.items()}, arrays).shape
            cotangent = rounding.stored(rng.uniform(-1, 1, shape), storage)
        used.append(oracle.used(fn, generic.Problem(sizes, arrays, cotangent)))
    return float(np.median(np.concatenate(used)))


def transformer_block(x, Wq, Wk, Wv, Wo, W1, W2, g1, b1, g2, b2):
    """A pre-norm transformer block: causal softmax attention over ``Wq.shape[1] // 64`` heads of 64, then a
    GELU MLP, each with layer norm before it and a residual around it."""
    import torch.nn.functional as F

    dimension = x.shape[-1]
    h = F.layer_norm(x, (dimension,), g1, b1)
    q, k, v = ((h @ W).unflatten(-1, (dimension // 64, 64)).transpose(1, 2) for W in (Wq, Wk, Wv))
    x = x + F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).flatten(-2) @ Wo
    return x + F.gelu(F.layer_norm(x, (dimension,), g2, b2) @ W1) @ W2


def bench() -> None:
    """The battery side by side (check_gradients, gradcheck in float64 and in the kernel's dtype, the
    twice-PyTorch rule), each also on the correct function (false alarms), the tightness on correct code,
    and one transformer block example's reference and tolerance against torch's float64 autograd."""
    import warnings

    import torch

    from gradproofs import timing
    from gradproofs.formats import FORMATS
    from gradproofs.oracle import graph, rounding

    warnings.filterwarnings("ignore", message="Input #", category=UserWarning)  # gradcheck's, on non-double inputs
    print("Planted bugs (caught: yes/no, seconds): check_gradients within 100 examples at the kernel's precision; "
          "torch.autograd.gradcheck in float64 and in the kernel's dtype; the twice-PyTorch rule of flash-attention's "
          "tests. 'correct' runs each on the spec itself through torch's autograd: a yes there is a false alarm.")
    print(f"  {'bug':50s} {'check_gradients':>17s} {'gradcheck f64':>15s} {'gradcheck native':>17s} {'twice rule':>12s}")

    def cell(result):
        return f"{'yes' if result[0] else 'no'} {result[1]:6.2f}s"

    for bug in bugs():
        correct = Bug(f"correct: {bug.name}", bug.spec, bug.spec, bug.shapes, bug.precision, bug.options)
        for case in (bug, correct):
            print(f"  {case.name[:50]:50s} {cell(catches(case)):>17s} {cell(gradcheck_catches(case, 'float64')):>15s} "
                  f"{cell(gradcheck_catches(case, case.precision)):>17s} {cell(twice_rule_catches(case)):>12s}")

    print("Tightness: the median fraction of its tolerance an entry of torch's autograd uses (aim: above 1e-3)")
    for bug in bugs():
        for precision in ("float32", "bfloat16"):
            options = {key: value for key, value in bug.options.items() if key != "accumulation"}
            used = median_used(autograd_fn(bug.spec, scalar=False), bug.spec, bug.shapes, precision, 20, **options)
            print(f"  {bug.name[:50]:50s} {precision:9s} median used {used:.2g}")

    sizes = dict(B=2, T=128, D=256)
    rng = np.random.default_rng(0)
    d = sizes["D"]
    shapes = dict(x=(sizes["B"], sizes["T"], d), Wq=(d, d), Wk=(d, d), Wv=(d, d), Wo=(d, d), W1=(d, 4 * d),
                  W2=(4 * d, d), g1=(d,), b1=(d,), g2=(d,), b2=(d,))
    arrays = {name: rounding.stored(rng.standard_normal(shape) / (math.sqrt(shape[0]) if name.startswith("W") else 1),
                                    FORMATS["float32"]) for name, shape in shapes.items()}
    start = time.perf_counter()
    traced = graph.trace(transformer_block, shapes, arrays)
    tracing = time.perf_counter() - start
    cotangent = rounding.stored(rng.standard_normal((sizes["B"], sizes["T"], d)), FORMATS["float32"])

    def reference():
        A = rounding.Rounded(rounding.Precision(FORMATS["float32"]))
        return graph.gradients(traced, A, graph.evaluate(traced, A, arrays), cotangent)

    def autograd():
        tensors = [torch.tensor(a, requires_grad=True) for a in arrays.values()]
        transformer_block(*tensors).backward(torch.tensor(cotangent))

    ours, theirs = timing.best(reference, 2), timing.best(autograd, 3)
    print(f"A transformer block (B {sizes['B']}, T {sizes['T']}, D {d}, {d // 64} heads, float32): traced once in "
          f"{tracing:.2f} s; reference and tolerance {ours:.2f} s (target <= 2 s: {'met' if ours <= 2 else 'missed'}), "
          f"{ours / theirs:.1f}x torch's float64 autograd ({theirs:.3f} s)")

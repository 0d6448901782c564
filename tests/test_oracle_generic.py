"""check_gradients: hand-written backward passes and torch's autograd pass, wrong ones are caught with
their smallest counterexample, and bad declarations are refused before any example.

The correct functions here are written independently of the spec (NumPy backward passes derived by
hand, torch's autograd); the planted bugs are the ones real backward passes have.
"""

import numpy as np
import pytest

from gradproofs import InvalidArgument, Mismatch
from gradproofs.oracle import ORACLES, check_gradients
from gradproofs.oracle.generic import Gradients

torch = pytest.importorskip("torch")
F = torch.nn.functional

LAYER = {"x": ("B", "D"), "W": ("D", "H"), "b": ("H",)}


def layer(x, W, b):
    return torch.tanh(x @ W + b).sum()


def layer_backward(x, W, b):
    """∂/∂z Σ tanh(z) = 1 − tanh²(z), z = xW + b."""
    d = 1 - np.tanh(x @ W + b) ** 2
    return d @ W.T, x.T @ d, d.sum(0)


def test_a_hand_written_backward_pass_agrees_in_float32_and_float64():
    for precision in ("float32", "float64"):
        report = check_gradients(layer_backward, spec=layer, shapes=LAYER, precision=precision, max_examples=25)
        assert report.examples == 25 and 0 < report.worst_used <= 1


def test_a_wrong_derivative_is_caught_with_its_smallest_counterexample():
    def wrong(x, W, b):
        d = 1 - np.tanh(x @ W + b)  # tanh′ = 1 − tanh, not 1 − tanh²
        return d @ W.T, x.T @ d, d.sum(0)

    with pytest.raises(Mismatch) as caught:
        check_gradients(wrong, spec=layer, shapes=LAYER, max_examples=50)
    report = str(caught.value)
    assert "B = 1, D = 1, H = 1" in report and "Reproduce: add reproduce=" in report
    assert "the running error bound of a correct implementation storing float32" in report


def test_torchs_autograd_agrees_in_bfloat16_and_float16_given_tensors():
    def autograd(x, W, b):
        x, W, b = (t.detach().requires_grad_() for t in (x, W, b))
        return torch.autograd.grad(layer(x, W, b), (x, W, b))

    for precision in ("bfloat16", "float16"):
        report = check_gradients(autograd, spec=layer, shapes=LAYER, precision=precision, arrays="torch",
                                 max_examples=20)
        assert report.examples == 20


def tf32(t):
    """float32 rounded to TensorFloat-32: the nearest number with 10 bits after the point, ties to even
    (NVIDIA A100 whitepaper, 2020), on the bits of the float32 (finite values of moderate size)."""
    bits = t.contiguous().view(torch.int32)
    return ((bits + 0xFFF + ((bits >> 13) & 1)) & ~0x1FFF).view(torch.float32)


def test_a_tf32_matmul_passes_declared_tf32_and_fails_as_float32(device):
    """y = xW's backward, x̄ = ḡWᵀ and W̄ = xᵀḡ, with every multiplicand rounded to TF32: what a GPU's
    matmul does where TF32 is allowed. On the CPU the rounding is written here; on CUDA it is cuBLAS's."""
    shapes = {"x": ("B", "D"), "W": ("D", "O")}
    if device == "cuda":
        def backward(x, W, g):
            return g @ W.T, x.T @ g
    else:
        def backward(x, W, g):
            return tf32(g) @ tf32(W).T, tf32(x).T @ tf32(g)

    previous = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = True
    try:
        report = check_gradients(backward, spec=lambda x, W: x @ W, shapes=shapes, precision="tf32", arrays="torch",
                                 device=device, max_examples=60)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous
    assert report.examples == 60
    if device == "cpu":  # where TF32 is not declared, its rounding (2^-12 and more) is far beyond float32's
        with pytest.raises(Mismatch, match=r"storing float32, accumulating in float32"):
            check_gradients(backward, spec=lambda x, W: x @ W, shapes=shapes, arrays="torch", max_examples=100)


def test_a_tensor_valued_spec_takes_the_cotangent_last_and_labels_stay_integers():
    def spec(x, t):
        return torch.log_softmax(x, -1).gather(1, t[:, None])[:, 0]

    def backward(x, t, cotangent):
        """∂ log softmax(x)_t / ∂x = e_t − softmax(x), per row, times the row's cotangent."""
        assert t.dtype == np.int64 and cotangent.shape == (x.shape[0],)
        p = np.exp(x - x.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        onehot = np.eye(x.shape[1], dtype=x.dtype)[t]
        return ((onehot - p) * cotangent[:, None],)

    report = check_gradients(backward, spec=spec, shapes={"x": ("N", "C"), "t": ("N",)},
                             values={"t": ("index", "C")}, sizes={"C": (2, 5)}, max_examples=25)
    assert report.examples == 25
    with pytest.raises(Mismatch, match="x values"):
        check_gradients(lambda x, t, c: ((np.eye(x.shape[1], dtype=x.dtype)[t]) * c[:, None],), spec=spec,
                        shapes={"x": ("N", "C"), "t": ("N",)}, values={"t": ("index", "C")}, sizes={"C": (2, 5)},
                        max_examples=25)


def test_sizes_and_values_are_drawn_as_declared():
    seen = []

    def spy(x, W):
        seen.append((x.shape, W.shape, float(x.min()), float(W.max())))
        return np.zeros_like(x), np.zeros_like(W)

    with pytest.raises(Mismatch):
        check_gradients(spy, spec=lambda x, W: (x @ W).sum(), shapes={"x": ("B", 3), "W": (3, "H")},
                        sizes={"B": 2, "H": (5, 6)}, values={"x": (0.5, 2.0), "W": (-3.0, -1.0)}, max_examples=10)
    assert seen and all(shape_x == (2, 3) and shape_w[0] == 3 and shape_w[1] in (5, 6) for shape_x, shape_w, _, _
                        in seen)
    assert all(low >= 0.5 and high <= -1.0 for _, _, low, high in seen)


def test_drawn_numbers_are_normal_or_zero_and_a_cotangent_is_not_tiny():
    """Inputs declared in (−10⁻⁴⁰, 10⁻⁴⁰), all subnormal in float32, are drawn as zeros; a cotangent's
    entries are 0 or at least 2⁻¹⁰ in magnitude, and some are not 0 (the zero gradient is caught)."""
    seen = []

    def spy(x, cotangent):
        seen.append((x.copy(), cotangent.copy()))
        return np.zeros_like(x)

    with pytest.raises(Mismatch):
        check_gradients(spy, spec=lambda x: x * 2, shapes={"x": ("N",)}, sizes={"N": (1, 8)},
                        values={"x": (-1e-40, 1e-40)}, max_examples=30)
    assert seen and all(not x.any() for x, _ in seen)
    cotangents = np.concatenate([c for _, c in seen])
    assert cotangents.dtype == np.float32 and np.all((cotangents == 0) | (np.abs(cotangents) >= 2.0 ** -10))
    assert np.any(cotangents != 0)


@pytest.mark.parametrize("options, message", [
    ({"shapes": {"x": ("B",)}}, r"shapes must name the spec's arguments in order, \['x', 'W', 'b'\]"),
    ({"values": {"y": (0, 1)}}, "values names 'y', which is not an argument of the spec"),
    ({"values": {"x": (1, 0)}}, r"values\['x'\] = \(1, 0\) must be finite, low < high"),
    ({"values": {"b": ("index", "K")}}, "indexes dimension 'K', which no input has"),
    ({"sizes": {"B": (3, 2)}}, "the smallest size exceeds the largest"),
    ({"sizes": {"Q": 2}}, "sizes names dimension 'Q', which no input has"),
    ({"precision": "bfloat16"}, "NumPy has no bfloat16: declare arrays='torch'"),
    ({"spec": None}, "spec must be the mathematics"),
    ({"reference": "float128"}, r"unknown reference 'float128'; expected one of \['auto', 'mpmath', 'hardware'\]"),
    ({"returns": ("x", "V")}, "returns names 'V', which is not a gradient check_gradients knows"),
])
def test_bad_declarations_are_refused_before_any_example(options, message):
    calls = []
    given = {"spec": layer, "shapes": LAYER, **options}
    with pytest.raises(InvalidArgument, match=message):
        check_gradients(lambda *a: calls.append(a), **given)
    assert calls == []


def test_an_mpmath_reference_is_the_correctly_rounded_gradient():
    """d/dx Σ tanh(x)·w = w(1 − tanh²x) and d/dw = tanh x, each computed here by mpmath at 60 digits and
    rounded once to float64: the oracle's 'mpmath' reference is that value at every one of 400 points, as a
    reference whose error is below half an ulp of float64 must be."""
    mpmath = pytest.importorskip("mpmath")
    from gradproofs.oracle.generic import Problem

    x = np.linspace(-4.0, 4.0, 400) + 1 / 3
    w = np.linspace(3.0, -2.0, 400) / 7
    oracle = Gradients(spec=lambda x, w: (torch.tanh(x) * w).sum(), shapes={"x": ("N",), "w": ("N",)},
                       reference="mpmath")
    expected = oracle.expected(Problem({"N": 400}, {"x": x, "w": w}, None))
    with mpmath.workdps(60):
        tanh = [mpmath.tanh(mpmath.mpf(float(v))) for v in x]
        dx = [float(mpmath.mpf(float(b)) * (1 - t ** 2)) for t, b in zip(tanh, w)]
        dw = [float(t) for t in tanh]
    assert expected["x"].exact.tolist() == dx and expected["w"].exact.tolist() == dw


@pytest.mark.parametrize("reference, entries, multiprecise", [
    ("auto", 256, True), ("auto", 257, False), ("mpmath", 4096, True), ("hardware", 2, False)])
def test_the_reference_is_mpmath_for_small_problems(reference, entries, multiprecise):
    from gradproofs.oracle.generic import Problem

    oracle = Gradients(spec=lambda x, w: (x * w).sum(), shapes={"x": ("N",), "w": (1,)}, reference=reference)
    problem = Problem({"N": entries - 1}, {"x": np.ones(entries - 1), "w": np.ones(1)}, None)
    assert oracle.multiprecise(problem) is multiprecise


def test_the_generic_oracle_is_listed_and_reached_from_the_command_line(tmp_path, capsys):
    from gradproofs import cli

    assert ORACLES["gradients"] is Gradients
    (tmp_path / "spec.py").write_text("import torch\ndef spec(x, W):\n    return torch.tanh(x @ W).sum()\n")
    (tmp_path / "mine.py").write_text("import numpy as np\ndef backward(x, W):\n"
                                      "    d = 1 - np.tanh(x @ W)\n    return d @ W.T, x.T @ d\n")
    shapes = "shapes={'x': ('B', 'D'), 'W': ('D', 'H')}"
    code = cli.main(["check", f"{tmp_path}/mine.py:backward", "--spec", f"{tmp_path}/spec.py:spec",
                     "--option", shapes, "--max-examples", "30"])
    assert code == 1 and "check_gradients(backward (mine.py:2), spec=spec (spec.py:2)" in capsys.readouterr().out
    code = cli.main(["check", f"{tmp_path}/mine.py:backward", "--spec", f"{tmp_path}/spec.py:spec",
                     "--oracle", "chain"])
    assert code == 2 and "--spec is the mathematics of --oracle gradients" in capsys.readouterr().err


# --- the battery of planted bugs (gradproofs.oracle.battery) ----------------------------------

def _battery():
    from gradproofs.oracle import battery

    return battery, battery.bugs()


@pytest.mark.slow
@pytest.mark.parametrize("index", range(7))
def test_every_planted_bug_is_caught_at_its_own_precision_and_its_correct_twin_passes(index):
    battery, bugs = _battery()
    bug = bugs[index]
    caught, _ = battery.catches(bug)
    assert caught, bug.name
    correct = battery.Bug(f"correct: {bug.name}", bug.spec, bug.spec, bug.shapes, bug.precision, bug.options)
    assert not battery.catches(correct)[0], correct.name


def test_torchs_vectorized_gelu_backward_is_within_the_bound():
    """Torch's float32 GELU backward on a vector (its vectorized kernel) is off by 2.9 ulps at x = 0.0508: the
    erf inside it is accurate to ulps of 1, not of its own small value, and the bound says so."""
    x = torch.full((64,), 0.05078125, requires_grad=True)
    F.gelu(x).backward(torch.ones(64))
    exact = 0.5404827675181245  # Φ(x) + x φ(x), in float64
    assert abs(float(x.grad[0]) - exact) > 2.5 * float(np.spacing(np.float32(exact)))
    battery, _ = _battery()
    report = check_gradients(battery.autograd_fn(lambda t: F.gelu(t), scalar=False), spec=lambda t: F.gelu(t),
                             shapes={"t": (64,)}, values={"t": (0.05078125, 0.0507813)}, arrays="torch",
                             max_examples=5)
    assert report.worst_used <= 1


# --- check_module ---------------------------------------------------------------------------

def test_check_module_judges_torchs_own_layers_at_their_dtype():
    from gradproofs.oracle import check_module

    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.GELU(), torch.nn.Linear(8, 4))
    report = check_module(torch.nn.LayerNorm(5), shapes={"x": ("B", 5)}, max_examples=10)
    assert report.examples == 10 and "'weight': (5,)" in report.subject
    for module in (mlp, mlp.to(torch.bfloat16)):
        report = check_module(module, shapes={"x": ("B", 4)}, max_examples=10)
        assert report.examples == 10 and "'p0_weight': (8, 4)" in report.subject
    report = check_module(torch.nn.GRU(3, 4).double(), shapes={"x": ("T", "B", 3)}, sizes={"T": (1, 3)},
                          max_examples=5)
    assert "precision='float64'" in report.subject
    # in float32 torch runs oneDNN's fused LSTM, judged against the decomposition's exact gradient
    report = check_module(torch.nn.LSTM(3, 4), shapes={"x": ("T", "B", 3)}, sizes={"T": (1, 3)}, max_examples=5)
    assert report.examples == 5 and "'weight_hh_l0': (16, 4)" in report.subject


def test_check_module_catches_a_custom_functions_wrong_backward():
    from gradproofs.oracle import check_module

    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x  # the 2 forgotten

    with pytest.raises(Mismatch, match="x values"):
        check_module(Square.apply, shapes={"x": ("N",)}, spec=lambda x: x ** 2, max_examples=20)


# --- soundness: no false alarm on torch's own autograd ---------------------------------------

def _sound_cases():
    """Every battery spec (tensor-valued), whole graphs (the rounding tests') and every group of supported
    operations (the rules tests': arithmetic to recurrent layers), by name: (name, spec, shapes, options,
    whether the spec returns the loss)."""
    from gradproofs.oracle import battery

    from test_generic_rounding import GRAPHS
    from test_generic_rules import SPECS

    cases = [(bug.name, bug.spec, bug.shapes, {k: v for k, v in bug.options.items() if k != "accumulation"}, False)
             for bug in battery.bugs()]
    for name, spec, shapes, positive in [g for g in GRAPHS if g[0] != "transformer block"] + SPECS:
        values = {"values": {k: (0.2, 2.0) for k in positive}} if positive else {}
        loss = spec(*(torch.ones(shape) for shape in shapes.values())).ndim == 0
        cases.append((name, spec, dict(shapes), values, loss))
    return cases


SOUND = [(case, precision) for case in _sound_cases() for precision in ("float64", "float32", "bfloat16", "float16")]


@pytest.mark.thorough
@pytest.mark.parametrize("case, precision", SOUND, ids=[f"{case[0]}-{precision}" for case, precision in SOUND])
def test_torchs_autograd_raises_no_false_alarm(case, precision):
    """Torch's autograd through each spec at each precision, over 50 examples each (thorough: CI runs it):
    check_gradients must accept every one."""
    from gradproofs.oracle import battery

    name, spec, shapes, options, scalar = case
    report = check_gradients(battery.autograd_fn(spec, scalar=scalar), spec=spec, shapes=shapes,
                             precision=precision, arrays="torch", max_examples=50, **options)
    assert report.worst_used <= 1, name


def _jax_cases():
    """Specs in torch beside the same mathematics written in jax.numpy: (name, spec, jax function, shapes,
    options, whether the spec returns the loss)."""
    import jax
    import jax.numpy as jnp

    def layer_norm(x, w, b):
        """In at least float32, as flax's LayerNorm computes its statistics: in float16 itself the backward
        of 1/√(v + ε) overflows where v = 0 (1/(v + ε) > 65504 for ε = 10⁻⁵) and 0·∞ makes the gradient NaN."""
        wide = x.astype(jnp.promote_types(x.dtype, jnp.float32))
        mean = wide.mean(-1, keepdims=True)
        variance = ((wide - mean) ** 2).mean(-1, keepdims=True)
        return ((wide - mean) / jnp.sqrt(variance + 1e-5) * w + b).astype(x.dtype)

    def attention(q, k, v):
        return jax.nn.softmax(q @ k.T / jnp.sqrt(jnp.asarray(q.shape[-1], q.dtype)), axis=-1) @ v

    def cross_entropy(z, t):
        return -jnp.mean(jax.nn.log_softmax(z, axis=-1)[jnp.arange(z.shape[0]), t])

    def conv1d(x, w, b):
        """torch's conv1d (a cross-correlation), padding 1, in XLA's convolution."""
        y = jax.lax.conv_general_dilated(x, w, window_strides=(1,), padding=[(1, 1)],
                                         dimension_numbers=("NCH", "OIH", "NCH"))
        return y + b[:, None]

    def lstm_cell(x, h, c, W, U):
        """One LSTM step, gates in torch's order (input, forget, cell, output): the new h and c side by side."""
        i, f, g, o = jnp.split(x @ W + h @ U, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        return jnp.concatenate([jax.nn.sigmoid(o) * jnp.tanh(c), c], axis=-1)

    def torch_lstm_cell(x, h, c, W, U):
        i, f, g, o = (x @ W + h @ U).chunk(4, -1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.cat([torch.sigmoid(o) * torch.tanh(c), c], -1)

    return [
        ("tanh layer", lambda x, W, b: torch.tanh(x @ W + b).sum(), lambda x, W, b: jnp.tanh(x @ W + b).sum(),
         LAYER, {}, True),
        ("layer norm", lambda x, w, b: F.layer_norm(x, x.shape[-1:], w, b), layer_norm,
         {"x": ("B", "D"), "w": ("D",), "b": ("D",)}, {}, False),
        ("GELU MLP", lambda x, W1, W2: F.gelu(x @ W1) @ W2, lambda x, W1, W2: jax.nn.gelu(x @ W1, approximate=False) @ W2,
         {"x": ("B", "D"), "W1": ("D", "H"), "W2": ("H", "D")}, {}, False),
        ("softmax attention", lambda q, k, v: torch.softmax(q @ k.T / q.shape[-1] ** 0.5, -1) @ v, attention,
         {"q": ("T", "D"), "k": ("T", "D"), "v": ("T", "D")}, {}, False),
        ("cross-entropy", lambda z, t: F.cross_entropy(z, t), cross_entropy, {"z": ("N", "C"), "t": ("N",)},
         {"values": {"t": ("index", "C")}}, True),
        ("conv1d", lambda x, w, b: F.conv1d(x, w, b, padding=1), conv1d,
         {"x": ("N", "C", "L"), "w": ("O", "C", "K"), "b": ("O",)}, {"sizes": {"K": (1, 3)}}, False),
        ("LSTM cell", torch_lstm_cell, lstm_cell,
         {"x": ("B", "I"), "h": ("B", 2), "c": ("B", 2), "W": ("I", 8), "U": (2, 8)}, {}, False),
    ]


def _jax_fn(function, scalar: bool, precision: str):
    """fn for check_gradients: JAX's reverse mode (jax.vjp) through ``function`` at ``precision``, given torch
    tensors (integers passed as they are), returning NumPy arrays of the same values."""
    import jax
    import jax.numpy as jnp

    dtype = {"float64": jnp.float64, "float32": jnp.float32, "float16": jnp.float16, "bfloat16": jnp.bfloat16}[precision]

    def fn(*arguments):
        inputs = arguments if scalar else arguments[:-1]
        with jax.enable_x64(precision == "float64"):
            given = [jnp.asarray(a.double().numpy(), dtype=dtype) if a.is_floating_point() else jnp.asarray(a.numpy())
                     for a in inputs]
            floating = [k for k, a in enumerate(inputs) if a.is_floating_point()]

            def of_floats(*floats):
                full = list(given)
                for k, value in zip(floating, floats):
                    full[k] = value
                return function(*full)

            out, pullback = jax.vjp(of_floats, *(given[k] for k in floating))
            cotangent = jnp.ones_like(out) if scalar else jnp.asarray(arguments[-1].double().numpy(), dtype=dtype)
            return tuple(np.asarray(g.astype(jnp.float64 if precision == "float64" else jnp.float32))
                         for g in pullback(cotangent))
    return fn


@pytest.mark.thorough
@pytest.mark.parametrize("precision", ["float64", "float32", "bfloat16", "float16"])
def test_jaxs_autodiff_raises_no_false_alarm(precision):
    """JAX's autodiff of the same mathematics written in jax.numpy, on the CPU, at each precision, over 100
    examples each (thorough: CI runs it where the frameworks extra is installed): check_gradients must
    accept every one."""
    pytest.importorskip("jax")
    for name, spec, function, shapes, options, scalar in _jax_cases():
        report = check_gradients(_jax_fn(function, scalar, precision), spec=spec, shapes=shapes, precision=precision,
                                 arrays="torch", max_examples=100, **options)
        assert report.worst_used <= 1, name

"""JAX and TensorFlow autodiff as engines: each agrees with the exact (40-digit) gradients under the
rounding model torch is judged by, a wrong result fails that judge, and where a library is missing
its tests skip with the reason and the theorems and `gradproofs verify` leave it out."""

import copy
import dataclasses
import re
import subprocess
import sys

import numpy as np
import pytest

from gradproofs import catalogue, cli, frameworks
from gradproofs.chain import engine as chain
from gradproofs.mlp import engine as mlp
from gradproofs.rnn import engine as rnn
from gradproofs.extras import install_hint

EPS = {"float64": float(np.finfo(np.float64).eps), "float32": float(np.finfo(np.float32).eps)}
RNG = np.random.default_rng(2024)
CHAIN = (np.array([1.5, -0.8, 1.2, -1.1, 0.9]), np.array([0.2, 0.9, 0.1, 0.6, 0.05]), 0.4, 0.3)  # every z_j > 0
NETWORK = ([RNG.uniform(-1, 1, size=(4, 3)), RNG.uniform(-1, 1, size=(2, 4))],
           [RNG.uniform(-1, 1, size=4), RNG.uniform(-1, 1, size=2)], RNG.uniform(-2, 2, size=(3, 3)))
UNIT_TARGETS = RNG.uniform(size=(3, 2))
SEQUENCE = (RNG.uniform(-2, 2, size=(4, 2, 3)), RNG.uniform(-1, 1, size=(2, 3)), RNG.uniform(-1, 1, size=(3, 3)),
            RNG.uniform(-0.5, 0.5, size=(3, 3)), RNG.uniform(-1, 1, size=3))
SEQUENCE_GRADIENT = RNG.uniform(-1, 1, size=(4, 2, 3))
EMPTY = (np.zeros((0, 2, 3)), *SEQUENCE[1:])

# (family module, problem, options): the family's `reference(*problem, **options)` is the exact truth
CASES = {
    "chain sigmoid quadratic": (chain, CHAIN, dict(activation="sigmoid", cost="quadratic")),
    "chain sigmoid cross-entropy": (chain, CHAIN, dict(activation="sigmoid", cost="cross_entropy")),
    "chain tanh": (chain, CHAIN, dict(activation="tanh", cost="quadratic")),
    "chain relu": (chain, CHAIN, dict(activation="relu", cost="quadratic")),
    "mlp sigmoid quadratic": (mlp, (*NETWORK, UNIT_TARGETS), dict(activation="sigmoid", cost="quadratic")),
    "mlp sigmoid cross-entropy": (mlp, (*NETWORK, UNIT_TARGETS), dict(activation="sigmoid", cost="cross_entropy")),
    "mlp tanh softmax": (mlp, (*NETWORK, UNIT_TARGETS / UNIT_TARGETS.sum(axis=1, keepdims=True)),
                         dict(activation="tanh", cost="softmax_cross_entropy")),
    "mlp relu, linear output": (mlp, (*NETWORK, UNIT_TARGETS),
                                dict(activation="relu", cost="quadratic", output_activation="identity")),
    "rnn tanh": (rnn, (*SEQUENCE, SEQUENCE_GRADIENT), dict(activation="tanh")),
    "rnn sigmoid": (rnn, (*SEQUENCE, SEQUENCE_GRADIENT), dict(activation="sigmoid")),
    "rnn relu": (rnn, (*SEQUENCE, SEQUENCE_GRADIENT), dict(activation="relu")),
    "rnn identity": (rnn, (*SEQUENCE, SEQUENCE_GRADIENT), dict(activation="identity")),
    "rnn tanh, empty sequence": (rnn, (*EMPTY, np.zeros((0, 2, 3))), dict(activation="tanh")),
}


@pytest.fixture(params=frameworks.NAMES)
def framework(request):
    """A framework's name; skipped with the reason where it is not installed (imported when the
    test runs, once per process, never at collection)."""
    if not frameworks.installed(request.param):
        pytest.skip(f"{request.param} is not installed: {install_hint('frameworks')}")
    return request.param


def _run(framework, case, dtype):
    family, problem, options = CASES[case]
    reference = family.reference(*problem, **options)
    assert reference.well_conditioned(EPS[dtype])  # the fixed inputs are fair to a float engine
    return reference, family.FRAMEWORK_ENGINES[framework](*problem, **options, dtype=dtype)


def _judged(reference, result):
    """The arrays the judge reads: every field, each layer of a layered one."""
    return [array for field in reference.FIELDS for array in
            (getattr(result, field) if field in reference.LAYERED else [getattr(result, field)])]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES)
def test_each_engine_agrees_with_the_exact_gradients(framework, case, dtype):
    problem = CASES[case][1]
    before = copy.deepcopy(problem)
    reference, result = _run(framework, case, dtype)
    assert {np.asarray(array).dtype.name for array in _judged(reference, result)} == {dtype}
    reference.assert_matches(f"{framework} {dtype}", result, precision=dtype, derivative_from_output=True)
    for original, argument in zip(before, problem):  # the caller's arrays are never modified
        for was, now in zip(*(v if isinstance(v, list) else [v] for v in (original, argument))):
            np.testing.assert_array_equal(now, was)


@pytest.mark.parametrize("case", [c for c in CASES if "empty" not in c])
def test_a_wrong_result_fails_the_judge(framework, case):
    reference, result = _run(framework, case, "float64")
    field = reference.FIELDS[0]
    value = getattr(result, field)
    first = np.array(value[0] if field in reference.LAYERED else value)
    largest = np.argmax(np.abs(first))
    assert first.flat[largest] != 0
    first.flat[largest] *= 1 + 1e-6  # one part in a million off
    wrong = dataclasses.replace(result, **{field: [first, *value[1:]] if field in reference.LAYERED else first})
    with pytest.raises(AssertionError, match=field):
        reference.assert_matches(framework, wrong, precision="float64", derivative_from_output=True)
    # float32's gradients are not float64's: the judge tells the precisions apart
    _, single = _run(framework, case, "float32")
    with pytest.raises(AssertionError):
        reference.assert_matches(framework, single, precision="float64", derivative_from_output=True)


@pytest.mark.parametrize("theorem_id", ["chain-product-form", "mlp-backward-recurrence", "rnn-bptt"])
def test_the_theorems_compare_the_frameworks_installed_on_the_cpu_alone(theorem_id, monkeypatch):
    theorem = catalogue.get(theorem_id)
    assert theorem.optional_engines == frameworks.NAMES
    monkeypatch.setattr(frameworks, "_module", lambda name: None)  # as where neither is installed
    assert frameworks.available("cpu") == () and theorem.engines_on("cpu") == theorem.engines
    monkeypatch.setattr(frameworks, "_module", lambda name: object() if name == "jax" else None)
    assert theorem.engines_on("cpu") == (*theorem.engines, "jax")
    assert theorem.engines_on("cuda") == theorem.engines
    assert catalogue.get("chain-vanishing-bound").engines_on("cpu") == catalogue.get("chain-vanishing-bound").engines


def _engines_column(output: str) -> str:
    row = next(line for line in output.splitlines() if line.startswith("chain-product-form"))
    return row.split()[3]


@pytest.fixture
def underived(monkeypatch):
    """verify's table without its SymPy derivation (tests/test_catalogue.py proves it)."""
    monkeypatch.setattr(catalogue, "derivation", lambda theorem: None)


def test_verify_lists_the_frameworks_that_ran(underived, capsys):
    assert cli.main(["verify", "--only", "chain-product-form", "--device", "cpu", "--max-examples", "3"]) == 0
    installed = [name for name in frameworks.NAMES if frameworks.installed(name)]
    assert _engines_column(capsys.readouterr().out) == "+".join(["sympy", "mpmath", "numpy", "torch", *installed])


def test_verify_leaves_out_the_frameworks_that_are_missing(underived, monkeypatch, capsys):
    monkeypatch.setattr(frameworks, "_module", lambda name: None)
    assert cli.main(["verify", "--only", "chain-product-form", "--device", "cpu", "--max-examples", "3"]) == 0
    assert _engines_column(capsys.readouterr().out) == "sympy+mpmath+numpy+torch"


def test_a_missing_framework_is_an_import_error_that_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(frameworks, "_module", lambda name: None)
    with pytest.raises(ImportError,
                       match=re.escape('jax is not installed: pip install -c ci/constraints.txt ".[frameworks]"')):
        chain.backward_jax(*CHAIN)
    with pytest.raises(ImportError, match="tensorflow is not installed"):
        rnn.bptt_tf(*SEQUENCE, SEQUENCE_GRADIENT)


BAD = [
    (chain.backward_jax, (CHAIN[0], CHAIN[1][:2], *CHAIN[2:]), {}, ValueError, "b must"),
    (chain.backward_tf, CHAIN, dict(dtype="float16"), TypeError, r"dtype must be one of \['float64', 'float32'\]"),
    (mlp.backward_jax, ([], *NETWORK[1:], UNIT_TARGETS), {}, ValueError, "weights must not be empty"),
    (mlp.backward_tf, (*NETWORK, UNIT_TARGETS[:, :1]), {}, ValueError, r"y must have shape \(3, 2\)"),
    (rnn.bptt_jax, (*SEQUENCE, SEQUENCE_GRADIENT[:2]), {}, ValueError, r"dL_dh must have shape \(T, B, H\)"),
    (rnn.bptt_tf, (*SEQUENCE, SEQUENCE_GRADIENT), dict(activation="softsign"), ValueError, "activation"),
]


@pytest.mark.parametrize("engine, arguments, options, error, message", BAD,
                         ids=[f"{e.__module__.split('.')[-1]}.{e.__name__}: {m}" for e, _, _, _, m in BAD])
def test_bad_input_is_refused_before_the_framework_is_imported(engine, arguments, options, error, message,
                                                               monkeypatch):
    def unexpected(name):
        raise AssertionError(f"{name} was imported before the arguments were checked")

    monkeypatch.setattr(frameworks, "_module", unexpected)
    with pytest.raises(error, match=message):
        engine(*arguments, **options)


def test_the_precision_is_named_or_a_dtype():
    assert [frameworks.float_dtype(d) for d in ("float64", np.float32, np.dtype("float64"))] == \
        ["float64", "float32", "float64"]
    for bad in ("float16", "bfloat16", "double precision", 64):
        with pytest.raises(TypeError, match="dtype must be one of"):
            frameworks.float_dtype(bad)
    with pytest.raises(ValueError, match="unknown framework 'pytorch'"):
        frameworks.installed("pytorch")
    with pytest.raises(ValueError, match="optional_engines must be among"):
        dataclasses.replace(catalogue.get("chain-product-form"), optional_engines=("mxnet",))


def test_the_catalogue_does_not_import_the_frameworks():
    code = ("import sys; from gradproofs import catalogue; catalogue.theorems(); "
            "print(','.join(m for m in ('jax', 'tensorflow') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""

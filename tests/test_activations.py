"""The activation API: derived derivatives and bounds against exact values."""

import numpy as np
import pytest
import sympy

from gradproofs.activations import engine as activations


@pytest.mark.parametrize("name, bound, argmax", [
    ("sigmoid", sympy.Rational(1, 4), sympy.FiniteSet(0)),
    ("tanh", sympy.Integer(1), sympy.FiniteSet(0)),
    ("relu", sympy.Integer(1), sympy.Interval.open(0, sympy.oo)),
    ("identity", sympy.Integer(1), sympy.S.Reals),
])
def test_bound_and_argmax_are_exact(name, bound, argmax):
    act = activations.get(name)
    assert act.derivative_bound == bound
    assert isinstance(act.derivative_bound, sympy.Rational)
    assert act.argmax == argmax


def test_derivatives_are_written_through_the_value():
    z = sympy.Symbol("z", real=True)
    sigma = 1 / (1 + sympy.exp(-z))
    sigmoid = activations.get("sigmoid")
    assert sympy.simplify((sigmoid.derivative - sigma * (1 - sigma)).rewrite(sympy.exp)) == 0
    assert sympy.simplify(activations.get("tanh").derivative - (1 - sympy.tanh(z) ** 2)) == 0
    u = sympy.Symbol(r"\sigma", positive=True)
    assert sympy.expand(sigmoid.derivative_in_value - u * (1 - u)) == 0


def test_relu_derivative_at_zero_follows_torch():
    torch = pytest.importorskip("torch")
    relu = activations.get("relu")
    assert relu.derivative.subs(relu.z, 0) == 0
    z = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    torch.relu(z).sum().backward()
    assert z.grad.item() == relu.numpy_derivative(0.0) == 0.0


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_numpy_derivative_keeps_relative_accuracy_in_the_tails(name):
    act = activations.get(name)
    exact = sympy.lambdify(act.z, act.derivative, "mpmath")
    import mpmath

    for z in (-700.0, -30.0, 30.0, 700.0):
        with mpmath.workdps(50 + activations.digits_lost(z)):
            expected = float(exact(mpmath.mpf(z)))
        assert act.numpy_derivative(z) == pytest.approx(expected, rel=1e-14, abs=0)


def test_unknown_activation_names_the_argument():
    with pytest.raises(ValueError, match="unknown activation 'softsign'"):
        activations.get("softsign")


def test_log_derivative_matches_log_of_derivative():
    z = np.linspace(-30, 30, 61)
    for name in ("sigmoid", "tanh"):
        act = activations.get(name)
        np.testing.assert_allclose(act.numpy_log_derivative(z), np.log(act.numpy_derivative(z)),
                                   rtol=1e-13)


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_numpy_derivative_never_exceeds_its_bound_near_zero(name):
    act = activations.get(name)
    z = np.concatenate([np.geomspace(1e-300, 1e-3, 2000), -np.geomspace(1e-300, 1e-3, 2000), [0.0]])
    assert np.all(act.numpy_derivative(z) <= float(act.derivative_bound))
    assert act.numpy_derivative(2.264760017589897e-11) <= float(act.derivative_bound)

"""The models the options declare without some arrays (``biases=False``, ``h0=False``) are the
references' models with those arrays 0: SymPy differentiates each bias-free, zero-state model as
written from scratch, and the exact references given zeros agree with it to 30 digits. The rounding
bound needs no new derivation: each reference's bound covers every value of its arrays, 0 included.
An RNN with an output projection is differentiated as written too, in full and truncated."""

import mpmath
import numpy as np
import pytest
import sympy

from gradproofs.lm import engine as lm
from gradproofs.mlp import engine as mlp
from gradproofs.rnn import engine as rnn

RNG = np.random.default_rng(20)
DIGITS = 1e-30


def symbols(name, shape):
    return sympy.Matrix(*shape, lambda i, j: sympy.Symbol(f"{name}_{i}{j}", real=True))


def values(matrix, array):
    """{symbol: the float64 entry as the exact rational it is}."""
    return {symbol: sympy.Rational(float(v)) for symbol, v in zip(matrix, np.asarray(array, dtype=float).ravel())}


def rational(array) -> sympy.Matrix:
    """A 2-D float64 array as a Matrix of the exact rationals its entries are."""
    return sympy.Matrix(np.atleast_2d(array)).applyfunc(lambda v: sympy.Rational(float(v)))


def gradient(loss, matrix, at) -> list:
    """∂loss/∂matrix at ``at``, entry by entry, evaluated in mpmath with 40 digits."""
    names = list(at)
    with mpmath.workdps(40):
        point = [mpmath.mpf(value.p) / value.q for value in at.values()]
        return [sympy.lambdify(names, sympy.diff(loss, matrix[i, j]), "mpmath")(*point)
                for i in range(matrix.rows) for j in range(matrix.cols)]


def close(got, expected: list) -> bool:
    """The exact reference's entries (mpmath, 40 digits) equal SymPy's to 30 digits."""
    got = np.asarray(got, dtype=object).ravel()
    with mpmath.workdps(40):
        scale = max(1, *(abs(e) for e in expected))
        return len(got) == len(expected) and all(abs(g - e) <= DIGITS * scale for g, e in zip(got, expected))


def test_a_dense_network_without_biases_is_the_reference_with_zero_biases():
    widths = (2, 3, 2)
    W = [symbols(f"W{l}", (n_out, n_in)) for l, (n_in, n_out) in enumerate(zip(widths, widths[1:]))]
    x, y = RNG.uniform(-2, 2, (1, 2)), RNG.uniform(0, 1, (1, 2))
    a = rational(x.T)
    for W_l in W:
        a = (W_l * a).applyfunc(lambda z: 1 / (1 + sympy.exp(-z)))
    cost = sum((a[i] - sympy.Rational(y[0, i])) ** 2 for i in range(2)) / 2
    weights = [RNG.uniform(-1, 1, W_l.shape) for W_l in W]
    at = {k: v for W_l, w in zip(W, weights) for k, v in values(W_l, w).items()}
    exact = mlp.backward_exact(weights, [np.zeros(n) for n in widths[1:]], x, y)
    for W_l, dW in zip(W, exact.dW):
        assert close(dW, gradient(cost, W_l, at))


@pytest.mark.parametrize("h0, biases", [(False, True), (True, False), (False, False)])
def test_an_elman_rnn_without_an_initial_state_or_biases_is_the_reference_with_zeros(h0, biases):
    T, I, H = 3, 2, 2
    W_x, W_h = symbols("Wx", (H, I)), symbols("Wh", (H, H))
    b, h_0 = symbols("b", (H, 1)), symbols("h", (H, 1))
    x, dL_dh = RNG.uniform(-2, 2, (T, 1, I)), RNG.uniform(-1, 1, (T, 1, H))
    h, loss = h_0 if h0 else sympy.zeros(H, 1), 0
    for t in range(T):
        h = (W_x * rational(x[t].T) + W_h * h + (b if biases else sympy.zeros(H, 1))).applyfunc(sympy.tanh)
        loss += (rational(dL_dh[t]) * h)[0]
    arrays = {"W_x": RNG.uniform(-1, 1, (H, I)), "W_h": RNG.uniform(-1, 1, (H, H)),
              "b": RNG.uniform(-1, 1, H) if biases else np.zeros(H), "h0": RNG.uniform(-1, 1, (1, H)) if h0
              else np.zeros((1, H))}
    at = {**values(W_x, arrays["W_x"]), **values(W_h, arrays["W_h"]), **values(b, arrays["b"]),
          **values(h_0, arrays["h0"])}
    exact = rnn.bptt_exact(x, arrays["h0"], arrays["W_x"], arrays["W_h"], arrays["b"], dL_dh)
    assert close(exact.W_x, gradient(loss, W_x, at)) and close(exact.W_h, gradient(loss, W_h, at))


def test_britzs_language_model_without_biases_and_from_a_zero_state_is_the_reference_with_zeros():
    T, K, H = 3, 3, 2
    U, W, V = symbols("U", (H, K)), symbols("W", (H, H)), symbols("V", (K, H))
    tokens, targets = RNG.integers(0, K, (T, 1)), RNG.integers(0, K, (T, 1))
    h, loss = sympy.zeros(H, 1), 0
    for t in range(T):
        h = (U[:, int(tokens[t, 0])] + W * h).applyfunc(sympy.tanh)
        o = V * h
        loss += -o[int(targets[t, 0])] + sympy.log(sum(sympy.exp(o[k]) for k in range(K)))
    arrays = {"U": RNG.uniform(-1, 1, (H, K)), "W": RNG.uniform(-1, 1, (H, H)), "V": RNG.uniform(-1, 1, (K, H))}
    at = {**values(U, arrays["U"]), **values(W, arrays["W"]), **values(V, arrays["V"])}
    exact = lm.backward_exact(tokens, targets, np.zeros((1, H)), arrays["U"], arrays["W"], np.zeros(H),
                              arrays["V"], np.zeros(K), reduction="sum")
    for name, matrix in (("U", U), ("W", W), ("V", V)):
        assert close(getattr(exact, name), gradient(loss, matrix, at)), name


@pytest.mark.parametrize("truncate", [None, 1])
def test_an_rnn_with_an_output_projection_is_differentiated_as_written(truncate):
    # y_t = V h_t + c and L = Σ_t ∂L/∂y_t · y_t, its gradient the given dL_dy. Truncated to k = 1 step, each
    # term ∂L/∂y_t · y_t is differentiated through h_t, h_(t−1) and h_(t−2) only: the states before
    # are held constant (SymPy differentiates a copy of each term whose older states are fixed numbers).
    T, I, H, O = 3, 2, 2, 3
    W_x, W_h, V = symbols("Wx", (H, I)), symbols("Wh", (H, H)), symbols("V", (O, H))
    b, h_0, c = symbols("b", (H, 1)), symbols("h", (H, 1)), symbols("c", (O, 1))
    x, dL_dy = RNG.uniform(-2, 2, (T, 1, I)), RNG.uniform(-1, 1, (T, 1, O))
    arrays = {"W_x": RNG.uniform(-1, 1, (H, I)), "W_h": RNG.uniform(-1, 1, (H, H)), "b": RNG.uniform(-1, 1, H),
              "h0": RNG.uniform(-1, 1, (1, H)), "V": RNG.uniform(-1, 1, (O, H)), "c": RNG.uniform(-1, 1, O)}
    at = {**values(W_x, arrays["W_x"]), **values(W_h, arrays["W_h"]), **values(b, arrays["b"]),
          **values(h_0, arrays["h0"]), **values(V, arrays["V"]), **values(c, arrays["c"])}
    states = [h_0]
    for t in range(T):
        states.append((W_x * rational(x[t].T) + W_h * states[-1] + b).applyfunc(sympy.tanh))
    loss = 0
    for t in range(1, T + 1):
        h = states[t]
        if truncate is not None and t - truncate - 1 > 0:  # the state the term's path stops at, a number
            h = states[t - truncate - 1].subs(at)
            for s in range(t - truncate, t + 1):
                h = (W_x * rational(x[s - 1].T) + W_h * h + b).applyfunc(sympy.tanh)
        loss += (rational(dL_dy[t - 1]) * (V * h + c))[0]
    exact = rnn.projected_exact(x, arrays["h0"], arrays["W_x"], arrays["W_h"], arrays["b"], arrays["V"],
                                arrays["c"], dL_dy, truncate=truncate)
    for name, matrix in (("W_x", W_x), ("W_h", W_h), ("V", V)):
        assert close(getattr(exact, name), gradient(loss, matrix, at)), name
    assert close(exact.b, gradient(loss, b, at)) and close(exact.c, gradient(loss, c, at))
    assert close(exact.h0, gradient(loss, h_0, at))

"""Realistic sizes: large networks and long sequences judged against the long-double reference, and
sizes near powers of two, where a tiled kernel's boundary bug shows and the default sizes miss it."""

import numpy as np
import pytest
import hypothesis
from hypothesis import given, settings

import gradproofs
from gradproofs import extended, strategies
from gradproofs.mlp import engine as mlp
from gradproofs.rnn import engine as rnn
from gradproofs.oracle import check_clip_grad_value, check_mlp, check_rnn_bptt, check_rnn_lm

TILE = 32


def _tiled(A, B, *, tail_only_alone: bool):
    """A @ B computed in blocks of 32 columns of B, the last partial block by a tail path;
    ``tail_only_alone`` plants the bug: the tail is done only when there is no full block before it."""
    n = B.shape[1]
    full = n // TILE * TILE
    out = np.zeros((A.shape[0], n))
    for j in range(0, full, TILE):
        out[:, j:j + TILE] = A @ B[:, j:j + TILE]
    if n % TILE and (full == 0 or not tail_only_alone):
        out[:, full:] = A @ B[:, full:]
    return out


def kernel_backprop(weights, biases, x, y, *, tail_only_alone=False):
    """A sigmoid network's backprop (quadratic cost, mean over the batch) with ∂C/∂W^l = δᵀa/B tiled."""
    a = [x]
    for W, b in zip(weights, biases):
        a.append(1 / (1 + np.exp(-(a[-1] @ W.T + b))))
    delta = (a[-1] - y) * a[-1] * (1 - a[-1])
    dW, db = [], []
    for l in range(len(weights) - 1, -1, -1):
        dW.insert(0, _tiled(delta.T, a[l], tail_only_alone=tail_only_alone) / len(x))
        db.insert(0, delta.mean(axis=0))
        delta = (delta @ weights[l]) * a[l] * (1 - a[l])
    return dW, db


LARGE = dict(max_width=70, max_depth=2, max_batch=3, near_powers_of_two=True)


@pytest.mark.slow
def test_a_tile_boundary_bug_is_caught_near_powers_of_two_and_missed_at_the_default_sizes():
    def buggy(*args):
        return kernel_backprop(*args, tail_only_alone=True)

    assert check_mlp(buggy, max_examples=100).examples == 100  # widths ≤ 5: no full block, no bug
    assert check_mlp(kernel_backprop, **LARGE, max_examples=20).examples == 20
    with pytest.raises(gradproofs.Mismatch, match=r"widths \[[^\]]*(33|63|65)"):
        check_mlp(buggy, **LARGE, max_examples=100)


@pytest.mark.skipif(not extended.AVAILABLE, reason="this NumPy's long double is no wider than float64")
def test_long_sequences_and_wide_layers_are_judged_with_the_extended_reference():
    def bptt(*args):
        r = rnn.bptt(*args)
        return {"W_x": r.W_x, "W_h": r.W_h, "b": r.b, "h0": r.h0}

    assert check_rnn_bptt(bptt, max_steps=128, max_hidden=256, max_examples=5).examples == 5


@settings(max_examples=5)
@given(strategies.sequences(min_steps=40, max_steps=128, min_hidden=17, max_hidden=256))
def test_large_draws_come_from_a_seeded_generator_scaled_by_their_fan_in(problem):
    H = problem.W_h.shape[0]
    assert np.abs(problem.W_h).max() <= 1 / H and np.abs(problem.W_h).sum(axis=1).max() <= 1
    reference = rnn.reference(*problem)
    assert reference.extended and reference.well_conditioned(float(np.finfo(np.float32).eps))


NEAR = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 70}


@given(strategies.network_widths(max_width=70, near_powers_of_two=True))
def test_sizes_near_powers_of_two(widths):
    assert set(widths) <= NEAR


def test_sizes_near_powers_of_two_reach_the_tile_boundaries():
    from hypothesis import find

    found = find(strategies.network_widths(max_width=70, near_powers_of_two=True), lambda w: 33 in w and 65 in w)
    assert 33 in found and 65 in found


def test_the_network_reference_of_a_large_problem_is_the_extended_one():
    rng = np.random.default_rng(1)
    widths = [65, 33, 3]
    weights = [rng.uniform(-1, 1, (n_out, n_in)) / n_in for n_in, n_out in zip(widths[:-1], widths[1:])]
    biases = [rng.uniform(-1, 1, n) for n in widths[1:]]
    x, y = rng.uniform(-1, 1, (16, 65)), rng.uniform(0, 1, (16, 3))
    reference = mlp.reference(weights, biases, x, y)
    assert reference.extended == extended.AVAILABLE
    reference.assert_matches("numpy", mlp.backward(weights, biases, x, y), precision="float64",
                             derivative_from_output=False)


class ShapeRecorder:
    """A fn that records the shapes of the arrays Hypothesis's examples give it and then fails, so
    that Hypothesis shrinks: every such call, shrinking's included, must stay within the declared
    sizes (the hints' calls afterwards, in other layouts, are not recorded)."""

    def __init__(self):
        self.shapes = []

    def __call__(self, *arguments):
        if hypothesis.currently_in_test_context():
            self.shapes.append([np.shape(a) if not isinstance(a, list) else [np.shape(x) for x in a]
                                for a in arguments])
        raise ValueError("planted")


FIXED_SIZES = [
    (check_mlp, dict(widths=(3, 1, 2), min_batch=2, max_batch=2),
     [[(1, 3), (2, 1)], [(1,), (2,)], (2, 3), (2, 2)]),
    (check_rnn_bptt, dict(min_steps=4, max_steps=4, min_batch=2, max_batch=2, min_inputs=3, max_inputs=3,
                          min_hidden=5, max_hidden=5),
     [(4, 2, 3), (2, 5), (5, 3), (5, 5), (5,), (4, 2, 5)]),
    (check_rnn_lm, dict(min_steps=3, max_steps=3, min_batch=1, max_batch=1, min_vocabulary=4, max_vocabulary=4,
                        min_hidden=2, max_hidden=2),
     [(3, 1), (3, 1), (1, 2), (2, 4), (2, 2), (2,), (4, 2), (4,)]),
]


@pytest.mark.parametrize("check, sizes, shapes", FIXED_SIZES, ids=[c.__name__ for c, _, _ in FIXED_SIZES])
def test_fixed_sizes_are_the_only_sizes_drawn_and_shrinking_keeps_them(check, sizes, shapes):
    fn = ShapeRecorder()
    with pytest.raises(gradproofs.Mismatch, match="crash"):
        check(fn, **sizes, max_examples=30)
    assert len(fn.shapes) > 1 and all(recorded == shapes for recorded in fn.shapes), fn.shapes[:3]


def test_size_ranges_bound_every_draw():
    fn = ShapeRecorder()
    with pytest.raises(gradproofs.Mismatch, match="crash"):
        check_mlp(fn, min_depth=2, max_depth=3, min_width=2, max_width=4, min_batch=3, max_batch=5,
                  max_examples=30)
    for weights, biases, x, y in fn.shapes:
        assert 2 <= len(weights) <= 3 and 3 <= x[0] <= 5
        assert all(2 <= n <= 4 for shape in weights for n in shape), weights


def test_clipping_draws_arrays_of_the_declared_dimensions_and_sides():
    fn = ShapeRecorder()
    with pytest.raises(gradproofs.Mismatch, match="crash"):
        check_clip_grad_value(fn, min_arrays=2, max_arrays=3, min_dims=1, max_dims=2, min_side=2, max_side=3,
                              empty=False, nones=False, max_examples=30)
    for grads, _ in fn.shapes:
        assert 2 <= len(grads) <= 3
        assert all(1 <= len(shape) <= 2 and all(2 <= n <= 3 for n in shape) for shape in grads), grads


def test_empty_arrays_still_come_with_a_minimum_side():
    fn = ShapeRecorder()
    with pytest.raises(gradproofs.Mismatch, match="crash"):
        check_clip_grad_value(fn, min_dims=1, min_side=3, max_side=4, nones=False, max_examples=100)
    sides = {n for grads, _ in fn.shapes for shape in grads for n in shape}
    assert sides <= {0, 3, 4} and 0 in sides, sides

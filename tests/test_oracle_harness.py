"""The harness every oracle shares: options refused before any example, each kind of mismatch
reported with its own smallest counterexample, counterexamples as Python, plain numbers, names."""

import re

import hypothesis
import hypothesis.errors
import numpy as np
import pytest

import gradproofs
from gradproofs.chain import engine as chain
from gradproofs.clipping import engine as clipping
from gradproofs.mlp import engine as mlp
from gradproofs.rnn import engine as rnn
from gradproofs.oracle import (ORACLES, check_chain, check_clip_grad_norm, check_clip_grad_value,
                               check_lstm_bptt, check_mlp, check_rnn_bptt, check_rnn_lm)
from gradproofs.oracle.harness import literal, qualified_name


class Recorder:
    """A function that records whether it was ever called."""

    calls = 0

    def __call__(self, *args):
        self.calls += 1
        raise AssertionError("no example should run")


BAD_OPTIONS = [
    (check_chain, dict(returns=("dw", "dz")), ValueError, "returns names 'dz', which is not a gradient check_chain"),
    (check_chain, dict(precision="float8"), ValueError, "unknown precision 'float8'"),
    (check_mlp, dict(reduction="avg"), ValueError, "unknown reduction 'avg'"),
    (check_mlp, dict(samples="single", reduction="sum"), ValueError, "reduction must be left out with samples"),
    (check_mlp, dict(targets="labels"), ValueError, "targets='labels' .* needs cost='softmax_cross_entropy'"),
    (check_mlp, dict(weights="transposed"), ValueError, "unknown weights 'transposed'"),
    (check_mlp, dict(returns=("dW", "dx")), ValueError, "returns names 'dx'.*pass inputs=True"),
    (check_mlp, dict(inputs=True, returns=("dW", "db")), ValueError, "returns does not name 'dx'"),
    (check_mlp, dict(inputs="yes"), TypeError, "inputs must be True or False"),
    (check_mlp, dict(returns={"dW": 3}), TypeError, "fn's keys must be strings"),
    (check_mlp, dict(arguments=("weights", "z")), ValueError, "arguments names 'z'"),
    (check_mlp, dict(output_activation="softmax"), ValueError, "unknown activation 'softmax'"),
    (check_mlp, dict(max_width=0), ValueError, "max_width must be at least 1"),
    (check_rnn_bptt, dict(axes="time batch"), ValueError, "axes must be a permutation of 'time batch feature'"),
    (check_rnn_bptt, dict(axes="time time feature"), ValueError, "axes must be a permutation"),
    (check_rnn_bptt, dict(returns={"W_z": "dWz"}), ValueError, "returns names 'W_z'"),
    (check_rnn_bptt, dict(max_steps=0), ValueError, "max_steps must be at least 1"),
    (check_lstm_bptt, dict(gates="ifgx"), ValueError, "gates must be 'separate' or a permutation of 'ifgo'"),
    (check_lstm_bptt, dict(c0=False, returns={"c0": "dc0"}), ValueError, "returns names 'c0'"),
    (check_lstm_bptt, dict(gates="separate", returns={"W_x": "dWx"}), ValueError, "returns names 'W_x'"),
    (check_lstm_bptt, dict(c0=False, arguments=("x", "h0", "c0", "W_x", "W_h", "b", "dL_dh")), ValueError,
     "arguments names 'c0'"),
    (check_mlp, dict(arguments=("weights", "x", "y")), ValueError,
     "arguments leaves out 'biases', which the reference uses; declare biases=False if fn's model has no biases"),
    (check_rnn_bptt, dict(arguments=("x", "W_x", "W_h", "b", "dL_dh")), ValueError,
     "arguments leaves out 'h0', which the reference uses; declare h0=False"),
    (check_rnn_bptt, dict(arguments=("x", "h0", "W_x", "W_h", "b")), ValueError,
     "arguments leaves out 'dL_dh', which the reference uses; fn must take it, and may ignore it"),
    (check_rnn_bptt, dict(biases=False, arguments=("x", "h0", "W_x", "W_h", "b", "dL_dh")), ValueError,
     "arguments names 'b'"),
    (check_lstm_bptt, dict(arguments=("x", "h0", "W_x", "W_h", "b", "dL_dh")), ValueError,
     "arguments leaves out 'c0', which the reference uses; declare c0=False"),
    (check_rnn_lm, dict(arguments=("tokens", "targets", "h0", "U", "W", "V")), ValueError,
     "arguments leaves out 'b', which the reference uses; declare biases=False"),
    (check_rnn_lm, dict(biases=False, returns=("U", "c")), ValueError, "returns names 'c'"),
    (check_chain, dict(arguments=("w", "b", "x")), ValueError, "arguments leaves out 'y'"),
    (check_clip_grad_norm, dict(convention="pytorch"), ValueError, "unknown convention 'pytorch'"),
    (check_clip_grad_norm, dict(dtypes=("float8",)), ValueError, "unknown dtypes 'float8'"),
    (check_clip_grad_norm, dict(in_place="yes"), TypeError, "in_place must be True or False"),
    (check_clip_grad_value, dict(min_dims=2, max_dims=1), ValueError, "min_dims=2 must not exceed max_dims=1"),
    (check_clip_grad_value, dict(min_side=0), ValueError, "min_side must be at least 1"),
    (check_chain, dict(min_depth=5, max_depth=4), ValueError, "min_depth=5 must not exceed max_depth=4"),
    (check_mlp, dict(widths=(3,)), ValueError, "widths must be a sequence of at least two widths"),
    (check_mlp, dict(widths=(3, 0)), ValueError, r"widths\[1\] must be at least 1"),
    (check_mlp, dict(widths=(3, 2), max_depth=2), ValueError, "widths fixes the network; max_depth must be left out"),
    (check_rnn_bptt, dict(min_hidden=5), ValueError, "min_hidden=5 must not exceed max_hidden=4"),
    (check_rnn_lm, dict(min_vocabulary=1), ValueError, "min_vocabulary must be at least 2"),
    (check_clip_grad_value, dict(arguments=("grads", "max_norm")), ValueError, "arguments names 'max_norm'"),
    (check_clip_grad_value, dict(max_examples=0), ValueError, "max_examples must be at least 1"),
    (check_clip_grad_value, dict(reproduce=3), TypeError, "reproduce must be the blob"),
]


@pytest.mark.parametrize("check, options, error, message", BAD_OPTIONS,
                         ids=[f"{c.__name__}:{list(o)[0]}" for c, o, _, _ in BAD_OPTIONS])
def test_bad_options_are_errors_naming_the_option_before_any_example(check, options, error, message):
    fn = Recorder()
    with pytest.raises(error, match=message):
        check(fn, **options)
    assert fn.calls == 0


def two_arguments(w, b):
    raise AssertionError("no example should run")


def a_required_keyword(w, b, x, y, *, scale):
    raise AssertionError("no example should run")


def norm_clipper(grads, max_norm, norm_type):
    raise AssertionError("no example should run")


@pytest.mark.parametrize("check, fn, options, message", [
    (check_chain, two_arguments, {},
     r"fn must take 4 arguments \(w, b, x, y\), as check_chain passes them; two_arguments\(w, b\) takes 2$"),
    (check_chain, a_required_keyword, {},
     r"fn must take 4 arguments \(w, b, x, y\), .*\(w, b, x, y, \*, scale\) cannot: .*'scale'"),
    (check_mlp, two_arguments, {}, r"fn must take 4 arguments \(weights, biases, x, y\), as check_mlp passes them"),
    (check_lstm_bptt, two_arguments, dict(c0=False, gates="separate"),
     r"fn must take 5 arguments \(x, h0, W, b, dL_dh\), as check_lstm_bptt passes them"),
    (check_clip_grad_norm, norm_clipper, dict(arguments=("grads", "max_norm")),
     r"fn must take 2 arguments \(grads, max_norm\), .*norm_clipper\(grads, max_norm, norm_type\) cannot: "
     r".*'norm_type'"),
], ids=["too-few", "keyword-only", "mlp", "lstm-declared", "arguments-declared"])
def test_a_function_that_cannot_take_the_arguments_is_an_error_before_any_example(check, fn, options, message):
    with pytest.raises(TypeError, match=message):
        check(fn, **options)


def test_a_function_that_can_take_the_arguments_is_checked():
    def spread(*arguments):
        r = chain.backward(*arguments)
        return r.dw, r.db

    def defaults(w, b, x=None, y=None, scale=1.0, **options):
        r = chain.backward(w, b, x, y)
        return r.dw, r.db * scale

    for fn in (spread, defaults, Recorder()):
        try:
            check_chain(fn, max_examples=2)
        except gradproofs.Mismatch as failure:  # Recorder: reached the examples, and refused them
            assert isinstance(fn, Recorder) and fn.calls > 0, failure


def test_a_crash_is_reported_where_fn_raised_never_in_the_harness():
    def raises_itself(w, b, x, y):
        raise ValueError("raised by fn")

    def helper(w):
        raise ValueError("raised by fn's helper")

    def calls_a_helper(w, b, x, y):
        return helper(w)

    def calls_a_library(w, b, x, y):
        return np.linalg.inv(np.zeros((2, 2))), b

    def raised_here(function, offset):
        return f"at test_oracle_harness.py:{function.__code__.co_firstlineno + offset}"

    for fn, where in [(raises_itself, raised_here(raises_itself, 1)), (calls_a_helper, raised_here(helper, 1)),
                      (calls_a_library, raised_here(calls_a_library, 1))]:
        with pytest.raises(gradproofs.Mismatch) as failure:
            check_chain(fn, max_examples=2)
        message = str(failure.value)
        assert f"{where}\n" in message and not re.search(r"\bharness\.py", message), message
    with pytest.raises(gradproofs.Mismatch) as failure:  # a builtin: no line of its own, and none of the harness's
        check_clip_grad_value(max, max_examples=2)
    message = str(failure.value)
    assert "crash (TypeError)" in message and " at " not in message.split("fn raised", 1)[1], message


def test_a_replayed_failure_is_reported_once_with_its_blob_and_hypothesis_prints_nothing(capsys):
    def backprop(w, b, x, y):
        r = chain.backward(w, b, x, y)
        return r.dw, 2 * r.db

    with pytest.raises(gradproofs.Mismatch) as failure:
        check_chain(backprop, max_examples=20)
    blob = re.search(r"Reproduce: add reproduce='([^']+)' to the check_chain call", str(failure.value)).group(1)
    with pytest.raises(gradproofs.Mismatch) as replayed:
        check_chain(backprop, reproduce=blob)
    message = str(replayed.value)
    assert f"Reproduce: add reproduce={blob!r} to the check_chain call" in message, message
    assert "Smallest counterexample found" in message and "    w = np.array(" in message, message
    captured = capsys.readouterr()
    assert "Falsifying" not in captured.out + captured.err and "Falsifying" not in message


def test_every_oracle_is_in_the_table_the_command_line_reads():
    from gradproofs import catalogue

    order = list(catalogue.declarations())
    homes = [ORACLES[name].__module__ for name in ORACLES]
    assert homes[-1] == "gradproofs.oracle.generic"  # after the families' oracles
    homes = homes[:-1]
    assert homes == sorted(homes, key=lambda home: order.index(home.split(".")[1]))
    assert set(homes) == {f"gradproofs.{family}.oracle" for family, declared in catalogue.declarations().items()
                          if declared.oracles}
    assert all(oracle.signature.startswith("fn(") for oracle in ORACLES.values())


# --- reports ---------------------------------------------------------------------------------------

def no_epsilon_and_no_nan(grads, max_norm, norm_type):
    """Two bugs: torch's rule without its epsilon, and NaN replaced by zeros."""
    arrays = [g for g in grads if g is not None]
    norm = clipping.total_norm(grads, norm_type)
    with np.errstate(all="ignore"):
        scale = min(max_norm / norm, 1.0) if norm > 0 else 1.0
        clipped = [None if g is None else np.nan_to_num(g * g.dtype.type(scale)) for g in grads]
    return clipped, norm if arrays else np.float32(0.0)


def test_each_kind_of_mismatch_gets_its_own_smallest_counterexample():
    with pytest.raises(gradproofs.Mismatch) as failure:
        check_clip_grad_norm(no_epsilon_and_no_nan, max_examples=200)
    message = str(failure.value)
    kinds = re.findall(r"Mismatch \d of \d: ([^.]+)\. Smallest counterexample found:", message)
    assert "clipped non-finite placement" in kinds and "clipped values" in kinds, message


def test_counterexamples_print_plain_numbers_and_the_functions_name():
    def backprop(w, b, x, y):
        r = chain.backward(w, b, x, y)
        return r.dw, 2 * r.db

    with pytest.raises(gradproofs.Mismatch) as failure:
        check_chain(backprop, max_examples=50)
    message = str(failure.value)
    assert "np.float64(" not in message and "<locals>" not in message, message
    assert re.search(r"check_chain\(test_\w+\.backprop \(test_oracle_harness\.py:\d+\)\)", message), message
    assert re.search(r"    w = np\.array\(\[[-\d., e]+\]\)", message), message


def test_literals_rebuild_what_they_print():
    values = [np.array([[0.5, -1.25]]), np.array([1e-39, -2.0], dtype=np.float32),
              np.array([0.1, np.inf, -np.inf], dtype=np.float16), np.array(3.0), np.array([1, 0]),
              [np.zeros(2), None], {"i": np.ones((1, 1))}, np.float32(0.1), 0.3, (1, 2.5), float("-inf")]
    for value in values:
        rebuilt = eval(literal(value), {"np": np})  # noqa: S307 - our own literal
        if isinstance(value, dict):
            np.testing.assert_array_equal(rebuilt["i"], value["i"])
        elif isinstance(value, list):
            assert rebuilt[1] is None and np.array_equal(rebuilt[0], value[0])
        else:
            assert np.asarray(rebuilt).dtype == np.asarray(value).dtype
            np.testing.assert_array_equal(rebuilt, value)
    assert literal(np.zeros((10, 10))).startswith("<an array of shape (10, 10)")
    assert literal(np.array([np.nan])) == "np.array([np.nan])"


def test_qualified_names_say_where_the_function_lives():
    def inner():
        pass

    assert re.fullmatch(r"test_qualified_names_say_where_the_function_lives\.inner \(test_oracle_harness\.py:\d+\)",
                        qualified_name(inner))
    assert qualified_name(mlp.backward).startswith("backward (engine.py:")


def test_in_place_writes_and_crashes_are_mismatches_of_their_own():
    def writes(x, h0, W_x, W_h, b, dL_dh):
        result = rnn.bptt(x, h0, W_x, W_h, b, dL_dh)
        h0 += 1.0
        return result

    def crashes(x, h0, W_x, W_h, b, dL_dh):
        raise RuntimeError("boom")

    with pytest.raises(gradproofs.Mismatch, match=r"Mismatch: in-place\.(.|\n)*modified its arguments in place: h0"):
        check_rnn_bptt(writes, max_examples=10)
    with pytest.raises(gradproofs.Mismatch, match=r"Mismatch: crash \(RuntimeError\)(.|\n)*"
                                                  r"fn raised RuntimeError\('boom'\) at test_oracle_harness\.py:\d+"):
        check_rnn_bptt(crashes, max_examples=10)


def test_results_that_change_from_call_to_call_are_reported_as_such():
    calls = []

    def sometimes(w, b, x, y):
        """Right on every other call: a result that is not a function of the arguments."""
        calls.append(None)
        r = chain.backward(w, b, x, y)
        return r.dw, r.db * (1 + len(calls) % 2)

    with pytest.raises(gradproofs.Mismatch, match=r"nondeterministic(.|\n)*not a function of its arguments"):
        check_chain(sometimes, max_examples=50)


def test_a_result_is_described_by_its_kind_and_size_never_its_contents():
    torch = pytest.importorskip("torch")
    from gradproofs.oracle.harness import Report, describe

    assert describe(np.zeros((2, 3))) == "an array of shape (2, 3)"
    assert describe(torch.zeros(4, 1)) == "an array of shape (4, 1)"
    assert describe([1.0, 2.0]) == "a list of 2 items" and describe((np.zeros(1),)) == "a tuple of 1 items"
    assert describe("dW") == "a str" and describe(b"dW") == "a bytes" and describe(3.5) == "a float"
    assert str(Report("fn", 10, 0.25, 0.5)) == ("fn: agreed with the reference on 10 examples; worst error 0.25 of "
                                                "the scale (at most 0.5 of the tolerance used)")
    assert all(ORACLES[name].name == name for name in ORACLES)


def test_every_oracle_is_listed_under_its_own_name():
    from gradproofs.oracle import ORACLES
    from gradproofs.oracle.harness import Oracle

    assert ORACLES
    for name, oracle in ORACLES.items():
        assert isinstance(oracle, type) and issubclass(oracle, Oracle) and oracle.name == name, name


def test_the_probe_has_distinct_sizes_the_same_every_time_and_is_left_out_where_none_is_found(monkeypatch):
    from gradproofs.oracle import harness

    (first,), (second,) = ORACLES["rnn"]().probe(), ORACLES["rnn"]().probe()
    assert (first.x.shape, first.h0.shape) == ((3, 2, 4), (2, 5))
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert ORACLES["chain"]().probe() == []  # a chain has no layout for sizes to tell apart
    assert harness._zero_items(first) == 0

    def nothing_found(*args, **kwargs):
        raise hypothesis.errors.NoSuchExample("no probe")

    monkeypatch.setattr(hypothesis, "find", nothing_found)
    assert ORACLES["mlp"]().probe() == []

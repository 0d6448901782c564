"""Training the character-level RNN language model by SGD: clipping bounds every update, the unclipped run
shows the trouble the defaults are documented to show, and the NumPy and torch engines take the
same steps. Bad arguments are refused naming the argument."""

import numpy as np
import pytest

from gradproofs.clipping import engine as clipping
from gradproofs.lm import engine as lm, training

EPS = float(np.finfo(np.float64).eps)
SHORT = 40  # steps of the short runs in NumPy
SHORT_TORCH = 20  # and in torch, slower at this size
P = 2 * training.HIDDEN * len(training.VOCABULARY) + training.HIDDEN ** 2 + training.HIDDEN + len(training.VOCABULARY)


@pytest.fixture(scope="module")
def short_runs():
    """The default scenario's first 40 steps, three ways, in NumPy."""
    return {clip: training.train(clip=clip, steps=SHORT) for clip in training.CLIPS}


def _engines(short_runs, clip, device):
    return {"numpy": short_runs[clip], f"torch ({device})": training.train_torch(clip=clip, steps=SHORT_TORCH, device=device)}


def _norm_rounding(update) -> float:
    """Relative error of a computed 2-norm over θ's shapes (:func:`clipping.norm_tolerance`: the
    sums of squares and the root, with a factor 2 to spare); the gradient has θ's shapes too."""
    return clipping.norm_tolerance(list(training.split(update, training.HIDDEN).values()))


def test_value_clipping_bounds_every_entry_and_the_norm_of_every_update(short_runs, device):
    lr, c = training.LR, training.VALUE_THRESHOLD
    for engine, run in _engines(short_runs, "value", device).items():
        assert run.parameters.shape[1] == P
        after = np.abs(run.parameters[1:])
        # Clamped entries: |ĝ_i| ≤ c exactly. θ' = fl(θ − fl(lr·ĝ)) and the recorded change fl(θ' − θ)
        # round three times: |Δθ_i| ≤ lr·c·(1 + eps)² + eps·|θ'_i|·(1 + 3 eps); twice the first-order
        # excess.
        entry_allowance = 4 * EPS * lr * c + 2 * EPS * after
        assert np.all(np.abs(run.updates) <= lr * c + entry_allowance), engine
        # Summing the entries' bounds in the 2-norm: lr·c·√P plus the 2-norm of the allowances, and the
        # computed norm's own rounding.
        for k, update in enumerate(run.updates):
            bound = lr * c * np.sqrt(P) + np.linalg.norm(4 * EPS * lr * c + 2 * EPS * after[k])
            assert run.update_norms[k] <= bound * (1 + _norm_rounding(update)), (engine, k)
        assert np.all(np.isfinite(run.losses)), engine
        assert np.any(np.abs(run.updates) >= lr * c - entry_allowance), engine  # clipping was at work


def test_norm_clipping_bounds_the_norm_of_every_update(short_runs, device):
    lr, tau = training.LR, training.NORM_THRESHOLD
    for engine, run in _engines(short_runs, "norm", device).items():
        for k, update in enumerate(run.updates):
            rho = _norm_rounding(update)
            # torch's rule ĝ = g·min(τ·(1/(n̂ + 1e−6)), 1): n̂ is off by ρ/2 relative, the factor rounds
            # three times and each product once, so ‖ĝ‖ ≤ τ·(1 + ρ/2 + 4 eps); the step rounds as for
            # value clipping: ‖Δθ‖ ≤ lr·‖ĝ‖·(1 + 2 eps) + eps·‖θ'‖. Twice the first-order excess, and the
            # computed norm's rounding.
            allowance = lr * tau * (rho + 12 * EPS) + 2 * EPS * np.linalg.norm(run.parameters[k + 1])
            assert run.update_norms[k] <= (lr * tau + allowance) * (1 + rho), (engine, k)
        assert np.all(np.isfinite(run.losses)), engine
        assert np.any(run.gradient_norms > tau), engine  # clipping was at work


# An unclipped run is chaotic: a one-ulp change of θ_0 grows past 1 % of the loss within 15 steps, so
# another CPU's BLAS (which adds in another order) draws another path. Each claim about a run is checked
# for θ_0 as drawn and moved by one ulp either way in every entry, and claims about the unclipped path are
# made only where it is not yet chaotic (its first EARLY steps: a nudge moves the loss there by < 10⁻⁹).
NUDGES = {"as drawn": lambda theta: theta,
          "one ulp up": lambda theta: np.nextafter(theta, np.inf),
          "one ulp down": lambda theta: np.nextafter(theta, -np.inf)}
EARLY = 6


def _theta0(nudge, seed=training.SEED):
    theta = NUDGES[nudge](training.flatten(training.initial_parameters(seed=seed)))
    assert nudge == "as drawn" or np.all(theta != training.flatten(training.initial_parameters(seed=seed)))
    return theta


@pytest.mark.parametrize("nudge", NUDGES)
def test_the_first_unclipped_steps_overshoot_and_the_clipped_do_not(nudge):
    """The trouble :func:`training.train` documents for its defaults, before chaos sets in: unclipped, the
    first step over 10 times the norm-clipped bound lr·τ, steps 2 and 3 over 25 times, and the loss past
    its first value (the untrained model's) within the first 6 steps; value- and norm-clipped, no loss of
    their first 40 steps reaches the first."""
    theta = _theta0(nudge)
    unclipped = training.train(steps=EARLY, initial=theta)
    first = unclipped.losses[0]
    assert unclipped.update_norms[0] > 10 * training.LR * training.NORM_THRESHOLD
    assert np.all(unclipped.update_norms[2:4] > 25 * training.LR * training.NORM_THRESHOLD)
    assert np.any(unclipped.losses[1:EARLY] > first)
    for clip in ("value", "norm"):
        run = training.train(clip=clip, steps=SHORT, initial=theta)
        assert run.losses[0] == first  # the same θ_0 and data
        assert np.all(np.isfinite(run.losses)), clip
        assert run.losses[1:].max() < first, clip


@pytest.mark.thorough
@pytest.mark.parametrize("nudge", NUDGES)
@pytest.mark.parametrize("seed", range(10))
def test_the_trouble_and_its_remedy_do_not_hang_on_the_seed_or_the_last_bit(seed, nudge):
    """Over the figure's 300 steps, for seeds 0 to 9, θ_0 as drawn and moved by one ulp: unclipped, the
    first step exceeds 5·lr·τ; norm-clipped, no later loss reaches the first. Where the unclipped loss
    first passes its first value is for the chaos to decide (step 3 to beyond 300, among seeds and
    nudges), and value clipping makes no promise either: it bounds each entry, not the step, and
    seed 3 moved down by one ulp climbs above its first loss."""
    theta = _theta0(nudge, seed)
    unclipped, norm = training.train(steps=1, initial=theta), training.train(clip="norm", initial=theta)
    first = unclipped.losses[0]
    assert unclipped.update_norms[0] > 5 * training.LR * training.NORM_THRESHOLD
    assert norm.losses[0] == first
    assert norm.losses[1:].max() < first


@pytest.mark.thorough
def test_the_norm_clipped_run_is_not_chaotic():
    """Why the norm-clipped claims hold on every machine: θ_0 moved by one ulp either way keeps the
    default run's 300 steps within 10⁻⁶ (relative) of its path, loss by loss and entry by entry, while
    the unclipped run's nudges grow past 1 % of the loss within 15 steps."""
    runs = {nudge: training.train(clip="norm", initial=_theta0(nudge)) for nudge in NUDGES}
    path = runs.pop("as drawn")
    unclipped = {nudge: training.train(steps=15, initial=_theta0(nudge)) for nudge in NUDGES}
    for nudge, run in runs.items():
        np.testing.assert_allclose(run.losses, path.losses, rtol=1e-6, atol=0, err_msg=nudge)
        np.testing.assert_allclose(run.parameters, path.parameters, rtol=0,
                                   atol=1e-6 * np.abs(path.parameters).max(), err_msg=nudge)
        moved = np.abs(unclipped[nudge].losses - unclipped["as drawn"].losses)
        assert moved[3] < 1e-9 * unclipped["as drawn"].losses[3], nudge  # the early window is not chaotic
        assert moved.max() > 0.01 * unclipped["as drawn"].losses[0], nudge  # but the unclipped run soon is


def test_the_three_runs_start_from_the_same_parameters(short_runs, device):
    theta0 = training.flatten(training.initial_parameters())
    for run in short_runs.values():
        np.testing.assert_array_equal(run.parameters[0], theta0)
    np.testing.assert_array_equal(training.train_torch(steps=1, device=device).parameters[0], theta0)


# --- the engines agree, step by step -------------------------------------------------------------------

SMALL = dict(hidden=4, seq_length=6, batch=2)
SMALL_STEPS = 3
# Small thresholds, so that every step of the small model is clipped.
THRESHOLDS = {None: None, "value": 0.5, "norm": 1.0}


def _one_step_bounds(theta, step, clip, lr, update):
    """How far two correct float64 engines' losses, gradient norms and next θ may lie apart after one
    SGD step from the same θ on step ``step``'s batch (``update``: one engine's θ' − θ).

    The gradients: each engine within :meth:`lm.Reference.rounding_tolerance` of the exact one, so
    within t = t_numpy + t_torch of each other, entry by entry. Value clipping is 1-Lipschitz in each
    entry, norm clipping g ↦ g·min(τ/(‖g‖ + 1e−6), 1) in the 2-norm, and each engine's clipped
    gradient is within (ρ/2 + 4 eps)·τ of that map's value (ρ: the norm's rounding). The step
    fl(θ − fl(lr·ĝ)) rounds twice, eps·(lr·|ĝ| + |θ'|) for the two engines together.

    The loss: o_t is off by at most e_o = (H + 5 + F)·S_o (the reference's rounding model); each term
    −log ŷ_t[y_t] by 2e_o (log-sum-exp is 1-Lipschitz), 2 max S_o (o − max o), K + 5 for the softmax
    and |log ŷ_t[y_t]| for the log; the sum of the T·B terms adds T·B·E. Twice the first-order sums.
    """
    H, T, B = SMALL["hidden"], SMALL["seq_length"], SMALL["batch"]
    K = len(training.VOCABULARY)
    x, y = training.windows(step, seq_length=T, batch=B)
    parameters = training.split(theta, H)
    reference = lm.reference(x, y, np.zeros((B, H)), **parameters, reduction="sum")
    assert reference.well_conditioned(EPS)
    t = sum(training.flatten(reference.rounding_tolerance(EPS, derivative_from_output=torch_like))
            for torch_like in (False, True))
    exact = reference.exact
    gradient = [np.asarray(getattr(exact, name), dtype=float) for name in ("U", "W", "b", "V", "c")]
    rho = clipping.norm_tolerance(gradient)
    gradient_norm = np.linalg.norm(training.flatten(gradient))

    states = np.abs(np.asarray(exact.states[1:], dtype=float))
    scale = ((states + 1) @ np.abs(parameters["V"]).T + np.abs(parameters["c"])).max(axis=2)  # S_o, (T, B)
    e_o = (H + 5 + reference.forward_error) * scale
    probabilities = np.asarray(exact.probabilities, dtype=float)
    log_target = np.log(np.take_along_axis(probabilities, y[..., None], axis=2)[..., 0])
    loss = float(exact.loss)
    loss_bound = 2 * 2 * EPS * (np.sum(2 * e_o + 2 * scale + K + 5 + np.abs(log_target)) + T * B * abs(loss))

    norm_bound = np.linalg.norm(t) + rho * gradient_norm
    after = np.abs(theta + update)
    if clip == "norm":
        tau = THRESHOLDS["norm"]
        step_bound = 2 * (lr * (np.linalg.norm(t) + (rho + 8 * EPS) * min(tau, gradient_norm))
                          + EPS * (np.linalg.norm(update) + np.linalg.norm(after)))
    else:
        step_bound = 2 * (lr * t + EPS * (np.abs(update) + after))
    return loss, loss_bound, norm_bound, step_bound


def _assert_same_step(label, run, k, other, clip, lr):
    """``other``'s one step from ``run``'s θ_k agrees with ``run``'s step k."""
    theta, update = run.parameters[k], run.updates[k]
    loss, loss_bound, norm_bound, step_bound = _one_step_bounds(theta, k, clip, lr, update)
    np.testing.assert_array_equal(other.parameters[0], theta)
    assert abs(other.losses[0] - run.losses[k]) <= loss_bound, (label, k)
    assert abs(other.losses[0] - loss) <= loss_bound, (label, k)  # and both near the exact loss
    assert abs(other.gradient_norms[0] - run.gradient_norms[k]) <= norm_bound, (label, k)
    difference = other.parameters[1] - run.parameters[k + 1]
    if clip == "norm":
        assert np.linalg.norm(difference) <= step_bound, (label, k)
    else:
        assert np.all(np.abs(difference) <= step_bound), (label, k)


@pytest.mark.parametrize("clip", training.CLIPS)
def test_numpy_and_torch_take_the_same_steps(clip, device):
    """Each engine's step k, from its own θ_k, is the other engine's one step from that θ_k: this
    checks both training loops (batches, zeroed gradients, clipping, the update) without letting
    rounding differences compound over the steps."""
    lr = training.LR
    options = dict(clip=clip, threshold=THRESHOLDS[clip], lr=lr, **SMALL)
    runs = {"numpy": training.train(steps=SMALL_STEPS, **options),
            "torch": training.train_torch(steps=SMALL_STEPS, device=device, **options)}
    np.testing.assert_array_equal(runs["numpy"].parameters[0], runs["torch"].parameters[0])
    for k in range(SMALL_STEPS):
        one_torch_step = training.train_torch(steps=1, initial=runs["numpy"].parameters[k], start=k, device=device,
                                        **options)
        _assert_same_step("torch after numpy", runs["numpy"], k, one_torch_step, clip, lr)
        if k:  # θ_0 is shared: step 0 is the same comparison
            one_numpy_step = training.train(steps=1, initial=runs["torch"].parameters[k], start=k, **options)
            _assert_same_step("numpy after torch", runs["torch"], k, one_numpy_step, clip, lr)


def test_a_resumed_run_continues_the_run_it_resumes():
    whole = training.train(clip="norm", steps=4, **SMALL)
    resumed = training.train(clip="norm", steps=2, initial=whole.parameters[2], start=2, **SMALL)
    np.testing.assert_array_equal(resumed.parameters, whole.parameters[2:])
    np.testing.assert_array_equal(resumed.losses, whole.losses[2:])


def test_an_overflowing_step_turns_both_engines_to_nan_without_raising(device):
    """lr = 1e308 overflows the first update (lr·g is ∞ for entries |g| > 1.8), so θ_1 holds ±∞ and every
    later loss, gradient norm and θ is NaN, in both engines alike."""
    for run in (training.train(lr=1e308, steps=3, **SMALL), training.train_torch(lr=1e308, steps=3, device=device, **SMALL)):
        assert np.isfinite(run.losses[0]) and np.all(np.isfinite(run.parameters[0]))
        assert np.any(np.isinf(run.parameters[1]))
        assert np.all(np.isnan(run.losses[1:])) and np.all(np.isnan(run.gradient_norms[1:]))
        assert np.all(np.isnan(run.parameters[2:]))


def test_windows_are_consecutive_slices_of_the_text():
    tokens, targets = training.windows(1, seq_length=5, batch=3)
    text = "".join(training.VOCABULARY[i] for i in training.TEXT_TOKENS)
    assert text == training.TEXT
    for j in range(3):
        start = 5 * (3 + j)
        assert "".join(training.VOCABULARY[i] for i in tokens[:, j]) == training.TEXT[start:start + 5]
        assert "".join(training.VOCABULARY[i] for i in targets[:, j]) == training.TEXT[start + 1:start + 6]
    count = (len(training.TEXT) - 1) // 5
    np.testing.assert_array_equal(training.windows(count, seq_length=5, batch=1)[0], training.windows(0, seq_length=5,
                                                                                         batch=1)[0])


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(clip="elementwise"), ValueError, "unknown clip 'elementwise'"),
    (dict(clip="value", threshold=-1.0), ValueError, "threshold must be positive"),
    (dict(clip="norm", threshold=0.0), ValueError, "threshold must be positive"),
    (dict(clip="norm", threshold=float("nan")), ValueError, "threshold must be finite"),
    (dict(threshold=15.0), ValueError, "threshold applies to clip='value' or 'norm' only"),
    (dict(lr=-0.1), ValueError, "lr must be positive"),
    (dict(lr=0.0), ValueError, "lr must be positive"),
    (dict(steps=0), ValueError, "steps must be at least 1"),
    (dict(steps=2.0), TypeError, "steps must be an integer"),
    (dict(seed=-1), ValueError, "seed must be at least 0"),
    (dict(hidden=0), ValueError, "hidden must be at least 1"),
    (dict(seq_length=len(training.TEXT)), ValueError, "seq_length must be at most"),
    (dict(seq_length=1000, batch=4), ValueError, "batch must be at most 3"),
    (dict(start=-1), ValueError, "start must be at least 0"),
    (dict(initial=np.zeros(3)), ValueError, "initial must hold the P = "),
    (dict(initial=np.full(P, np.inf)), ValueError, "initial must be finite"),
])
@pytest.mark.parametrize("engine", [training.train, training.train_torch])
def test_training_refuses_bad_arguments(engine, kwargs, error, message):
    with pytest.raises(error, match=message):
        engine(**kwargs)


@pytest.mark.parametrize("call, error, message", [
    (lambda: training.windows(-1), ValueError, "step must be at least 0"),
    (lambda: training.windows(0, seq_length=0), ValueError, "seq_length must be at least 1"),
    (lambda: training.windows(0, batch=100), ValueError, "batch must be at most 66"),
    (lambda: training.split(np.zeros(P + 1), training.HIDDEN), ValueError, f"theta must hold the P = {P} numbers"),
    (lambda: training.parameter_count(0), ValueError, "hidden must be at least 1"),
])
def test_helpers_refuse_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_theta_flattens_and_splits_back():
    assert training.parameter_count(training.HIDDEN) == P == 965
    parameters = training.initial_parameters()
    parts = training.split(training.flatten(parameters), training.HIDDEN)
    assert list(parts) == ["U", "W", "b", "V", "c"]
    for name, value in parameters.items():
        np.testing.assert_array_equal(parts[name], value)


def test_training_leaves_the_callers_parameters_alone():
    theta = training.flatten(training.initial_parameters(hidden=SMALL["hidden"]))
    kept = theta.copy()
    for engine in (training.train, training.train_torch):
        engine(steps=2, initial=theta, **SMALL)
        np.testing.assert_array_equal(theta, kept)


def test_the_default_thresholds_and_the_seed_beside_an_initial_theta():
    # Not parametrized, so that mutation runs can select it. θ_0 × 40 makes ‖∇E‖₂ ≈ 69, above both
    # thresholds: with no threshold, clipping by norm rescales the update to lr·τ·n/(n + 10⁻⁶) with
    # τ = 25 (torch's ε), and clipping by value clamps the largest entries to lr·15.
    theta = training.flatten(training.initial_parameters(hidden=SMALL["hidden"])) * 40
    by_norm = training.train(clip="norm", steps=1, initial=theta, **SMALL)
    n = by_norm.gradient_norms[0]
    assert n > 25
    assert by_norm.update_norms[0] == pytest.approx(0.012 * 25 * n / (n + 1e-6), rel=1e-12)
    by_value = training.train(clip="value", steps=1, initial=theta, **SMALL)
    assert np.max(np.abs(by_value.updates)) == pytest.approx(0.012 * 15, rel=1e-12)
    # The seed goes unused beside an initial θ, but is checked all the same; 0 is a seed.
    with pytest.raises(ValueError) as raised:
        training.train(seed=-1, initial=theta, steps=1, **SMALL)
    assert str(raised.value) == "seed must be at least 0, got -1"
    np.testing.assert_array_equal(training.train(seed=0, initial=theta, steps=1, **SMALL).parameters,
                                  training.train(seed=5, initial=theta, steps=1, **SMALL).parameters)


def test_the_texts_windows_and_the_arguments_at_their_limits():
    # Not parametrized, so that mutation runs can select it: every message in full, each limit from
    # both sides (the longest window, as many windows as the text holds).
    n = len(training.TEXT_TOKENS)
    assert training.windows(0, seq_length=n - 1, batch=1)[0].shape == (n - 1, 1)
    count = (n - 1) // 50
    assert training.windows(0, seq_length=50, batch=count)[0].shape == (50, count)
    refusals = [
        (lambda: training.windows(0, seq_length=n, batch=1), ValueError,
         f"seq_length must be at most {n - 1} (the text's length − 1), got {n}"),
        (lambda: training.windows(0, seq_length=50, batch=count + 1), ValueError,
         f"batch must be at most {count}, the text's windows of seq_length 50, got {count + 1}"),
        (lambda: training.train(threshold=15.0), ValueError,
         "threshold applies to clip='value' or 'norm' only, got threshold=15.0 with clip=None"),
        (lambda: training.train(lr="fast"), TypeError, "lr must be a real number, got str"),
        (lambda: training.train(hidden=0), ValueError, "hidden must be at least 1, got 0"),
        (lambda: training.initial_parameters(hidden=0), ValueError, "hidden must be at least 1, got 0"),
        (lambda: training.windows(0, seq_length=5, batch=0), ValueError, "batch must be at least 1, got 0"),
    ]
    for call, error, message in refusals:
        with pytest.raises(error) as raised:
            call()
        assert str(raised.value) == message


def test_initial_parameters_are_normal_with_the_stated_scale_and_training_records_are_read_only():
    # U and V: N(0, 0.5²) entries (H·K = 336 each): the sample standard deviation within 20 % of 0.5,
    # and no entry beyond 6σ; b and c start at 0.
    parameters = training.initial_parameters()
    for name in ("U", "V"):
        assert 0.4 < parameters[name].std() < 0.6 and np.abs(parameters[name]).max() < 3.0, name
    assert not parameters["b"].any() and not parameters["c"].any()
    record = training.train(steps=1, **SMALL)
    for array in (record.parameters, record.losses, record.gradient_norms):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 0.0

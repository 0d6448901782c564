"""The recurrent networks' benchmark section.

``rnn.bptt`` (NumPy float64) against the hand-written torch loop
``rnn.bptt_torch`` (target numpy/torch at most 1) and ``torch.nn.RNN``
through autograd, ``rnn.bptt_nn_rnn`` (target at most 1.5), on the CPU in
float64, tanh, T = 256, B = 32, I = 64, H = 256, each timed as called (the
torch engines copy the arrays into tensors, and ``bptt_nn_rnn`` builds its
module, in every call). Then the peak memory of one call, its result
included: NumPy's allocations by ``tracemalloc``, which does not see torch's
allocator; and, for every engine, the growth of the resident set in a fresh
process (Linux: the high-water mark VmHWM, reset through
``/proc/self/clear_refs`` after a call on a tiny problem, less VmRSS before
the call), which counts the allocator's own overhead too.

Each NumPy engine is also timed against its floor, as
:mod:`gradproofs.activations.bench` describes.

Run by ``python -m gradproofs.bench`` (the family's declaration names this section); each time is the
best of several repeats, nothing is asserted.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from gradproofs import devices, timing
from gradproofs.activations import bench as floors
from gradproofs.rnn import engine as rnn

RNN_SIZES = (256, 32, 64, 256)  # T, B, I, H
RNN_SEED = 0
RNN_REPEATS = 7
RNN_WARM_UP = 2
RNN_TARGETS = (1.0, 1.5)  # numpy time / the torch loop's, / torch.nn.RNN's


def random_problem(sizes=RNN_SIZES):
    """(x, h0, W_x, W_h, b, dL_dh): N(0, 1) inputs and loss gradients, W_x with N(0, 1/I) entries,
    W_h with N(0, 0.81/H) (‖W_h‖₂ ≈ 1.8; mean |h_t| 0.6, 2% of them above 0.99), small h0 and b."""
    steps, batch, inputs, hidden = sizes
    rng = np.random.default_rng(RNN_SEED)
    return (rng.standard_normal((steps, batch, inputs)), 0.1 * rng.standard_normal((batch, hidden)),
            rng.standard_normal((hidden, inputs)) / np.sqrt(inputs),
            0.9 * rng.standard_normal((hidden, hidden)) / np.sqrt(hidden), 0.1 * rng.standard_normal(hidden),
            rng.standard_normal((steps, batch, hidden)))


def _rnn_floor(x, h0, W_x, W_h, b, dL_dh):
    """The matrix products of one ``rnn.bptt`` call alone, on arrays allocated once: the input terms
    of every step (one product), h_(t−1) W_hᵀ and δ_t W_h at each step, then ∂L/∂W_x, ∂L/∂W_h and
    ∂L/∂x (one product each over all T·B rows)."""
    T, B, inputs = x.shape
    hidden = W_h.shape[0]
    rows, states, deltas = x.reshape(-1, inputs), np.ones((T * B, hidden)), np.ones((T * B, hidden))
    driven, step, grad_x, grad_h, back = (np.empty((T * B, hidden)), np.empty((B, hidden)),
                                          np.empty(W_x.shape), np.empty(W_h.shape), np.empty((T * B, inputs)))

    def products():
        np.matmul(rows, W_x.T, out=driven)
        for t in range(T):
            np.matmul(states[t * B:(t + 1) * B], W_h.T, out=step)
        for t in range(T):
            np.matmul(deltas[t * B:(t + 1) * B], W_h, out=step)
        np.matmul(deltas.T, rows, out=grad_x)
        np.matmul(deltas.T, states, out=grad_h)
        np.matmul(deltas, W_x, out=back)

    return products


def _rnn_engines() -> dict:
    return {"numpy   rnn.bptt": rnn.bptt, "torch   rnn.bptt_torch (loop)": rnn.bptt_torch,
            "torch   rnn.bptt_nn_rnn (nn.RNN)": rnn.bptt_nn_rnn}


def _proc_status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"no {field} in /proc/self/status")


def resident_growth(engine: str) -> float:
    """MB by which one call of ``engine`` raises the resident set, its result included (Linux only).

    Meant for a fresh process: a call on a tiny problem first loads the code
    paths, then the kernel's high-water mark is reset (``/proc/self/clear_refs``)
    and read after the call (VmHWM), less the resident set before it (VmRSS).
    """
    import gc

    devices.torch().set_num_threads(timing.THREADS)
    fn = _rnn_engines()[engine]
    problem = random_problem()
    fn(*random_problem((2, 2, 2, 2)))
    gc.collect()
    with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
        clear_refs.write("5")
    before = _proc_status_kib("VmRSS")
    result = fn(*problem)
    peak = _proc_status_kib("VmHWM")
    del result
    return (peak - before) / 1024


def _fresh_process_growth(engine: str) -> str:
    import subprocess

    code = f"from gradproofs.rnn.bench import resident_growth; print(resident_growth({engine!r}))"
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              timeout=600)
    except (OSError, subprocess.SubprocessError) as error:
        stderr = getattr(error, "stderr", None)
        reason = stderr.strip().splitlines()[-1] if isinstance(stderr, str) and stderr.strip() else str(error)
        return f"not measured ({reason})"
    return f"{float(done.stdout):7.1f} MB"


def _tracemalloc_peak(fn) -> float:
    """The most memory traced at once during ``fn()``, its result included, in MB."""
    import tracemalloc

    tracemalloc.start()
    try:
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
        del result  # held until the peak is read
        return peak / 1e6
    finally:
        tracemalloc.stop()


def _rnn_difference(ours, theirs) -> float:
    """The largest |ours − theirs| over the four gradients, relative to the largest |ours| entry."""
    fields = ("W_x", "W_h", "b", "h0")
    scale = max(float(np.abs(getattr(ours, f)).max()) for f in fields)
    return max(float(np.abs(getattr(ours, f) - getattr(theirs, f).numpy()).max()) for f in fields) / scale


def section() -> None:
    torch = devices.torch()
    torch.set_num_threads(timing.THREADS)
    problem, engines = random_problem(), _rnn_engines()
    steps, batch, inputs, hidden = RNN_SIZES
    print(f"RNN backpropagation through time, CPU, float64, tanh: T {steps}, B {batch}, I {inputs}, "
          f"H {hidden}; torch {torch.__version__}")
    print(f"  {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, OPENBLAS_NUM_THREADS "
          f"{os.environ['OPENBLAS_NUM_THREADS']}; best of {RNN_REPEATS} after {RNN_WARM_UP} warm-up calls")
    times = {}
    for label, fn in engines.items():
        timing.best(lambda: fn(*problem), RNN_WARM_UP)
        times[label] = timing.best(lambda: fn(*problem), RNN_REPEATS)
    floor = timing.best(_rnn_floor(*problem), RNN_REPEATS)
    activation = timing.best(floors.activation_floor("tanh", [(steps, batch, hidden)]), RNN_REPEATS)
    (numpy_label, numpy_s), *others = times.items()
    floors.print_floor(numpy_label, 34, numpy_s, floor, activation)
    ours = engines[numpy_label](*problem)
    for (label, seconds), target in zip(others, RNN_TARGETS):
        ratio = numpy_s / seconds
        difference = _rnn_difference(ours, engines[label](*problem))
        print(f"    {label:<34}{timing.ms(seconds)}  numpy/torch {ratio:5.2f} (target <= {target}: "
              f"{'met' if ratio <= target else 'missed'}); gradients agree to {difference:.1e} of the largest")

    numpy_mb = _tracemalloc_peak(lambda: engines[numpy_label](*problem))
    tensor_mb = _tracemalloc_peak(lambda: torch.empty(2**20, dtype=torch.float64))
    print(f"\n  Peak memory of one call, its result included; one (T, B, H) float64 history is "
          f"{8 * steps * batch * hidden / 1e6:.1f} MB")
    print(f"    tracemalloc (NumPy's allocations)  {numpy_mb:7.1f} MB for rnn.bptt; it does not see torch's "
          f"allocator (an 8.4 MB tensor traces as {tensor_mb * 1e6:.0f} bytes)")
    print("    resident-set growth, each engine in a fresh process after a call on a tiny problem: peak VmHWM "
          "(reset through /proc/self/clear_refs) during the call less VmRSS before it")
    for label in engines:
        print(f"      {label:<32}{_fresh_process_growth(label)}")

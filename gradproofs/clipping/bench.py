"""Clipping's benchmark section.

``clipping.clip_grad_norm`` (torch's convention, NumPy) against
``torch.nn.utils.clip_grad_norm_`` with ``foreach=True`` on the CPU, for 10
float32 arrays of assorted sizes totalling 10⁷ elements (standard normal
entries, max_norm 1): the ratio numpy/torch has a target of at most 1.5.
torch clips in place; ``clip_grad_norm`` returns new arrays, so its time
includes writing 40 MB. Then ``safe_norm=True`` against the plain norm on
the same arrays (target at most 1.5), and on arrays whose squares overflow
float32, where the safe norm recomputes with scaling.

Run by ``python -m gradproofs.bench`` (the family's declaration names this section); each time is the
best of several repeats, nothing is asserted.
"""

from __future__ import annotations

import numpy as np

from gradproofs import devices, timing
from gradproofs.clipping import engine as clipping

CLIP_ELEMENTS = 10_000_000
CLIP_SHARES = (0.3, 0.2, 0.15, 0.1, 0.08, 0.07, 0.05, 0.03, 0.015, 0.005)  # of the elements, per array
CLIP_REPEATS = 15
CLIP_TARGET = 1.5  # clip_grad_norm / torch.nn.utils.clip_grad_norm_
SAFE_TARGET = 1.5  # safe_norm=True / the plain norm


def section() -> None:
    torch = devices.torch()
    torch.set_num_threads(timing.THREADS)
    rng = np.random.default_rng(0)
    sizes = [round(share * CLIP_ELEMENTS) for share in CLIP_SHARES]
    grads = [rng.standard_normal(size, dtype=np.float32) for size in sizes]
    parameters = []
    for g in grads:
        parameter = torch.nn.Parameter(torch.zeros(g.shape))
        parameter.grad = torch.from_numpy(g.copy())
        parameters.append(parameter)
    print(f"Clipping by the global 2-norm, CPU, float32: {len(grads)} arrays, {sum(sizes):,} elements; "
          f"torch {torch.__version__} on {torch.get_num_threads()} threads; best of {CLIP_REPEATS}")
    times = {}
    engines = (("torch.nn.utils.clip_grad_norm_ (foreach, in place)",
                lambda: torch.nn.utils.clip_grad_norm_(parameters, 1.0, foreach=True)),
               ("clipping.clip_grad_norm", lambda: clipping.clip_grad_norm(grads, 1.0)),
               ("clipping.clip_grad_norm, safe_norm", lambda: clipping.clip_grad_norm(grads, 1.0, safe_norm=True)))
    for label, fn in engines:
        fn()
        times[label] = timing.best(fn, CLIP_REPEATS)
    torch_s, plain_s, safe_s = (times[label] for label, _ in engines)
    for label, _ in engines:
        print(f"  {label:<52}{timing.ms(times[label])}")
    ratio = plain_s / torch_s
    print(f"  ratio numpy/torch {ratio:5.2f} (target <= {CLIP_TARGET}: {'met' if ratio <= CLIP_TARGET else 'missed'})")
    ratio = safe_s / plain_s
    print(f"  ratio safe/plain  {ratio:5.2f} (target <= {SAFE_TARGET}: {'met' if ratio <= SAFE_TARGET else 'missed'})")
    overflowing = [g * np.float32(1e20) for g in grads]
    clipping.clip_grad_norm(overflowing, 1.0, safe_norm=True)
    scaled = timing.best(lambda: clipping.clip_grad_norm(overflowing, 1.0, safe_norm=True), CLIP_REPEATS)
    plain = timing.best(lambda: clipping.clip_grad_norm(overflowing, 1.0), CLIP_REPEATS)
    print(f"  entries near 1e20 (the squares overflow): safe {timing.ms(scaled)}, plain {timing.ms(plain)}, "
          f"ratio safe/plain {scaled / plain:5.2f} (the scaled recomputation; no target)")
    parameters = [torch.nn.Parameter(torch.zeros(g.shape)) for g in grads]
    for parameter, g in zip(parameters, grads):
        parameter.grad = torch.from_numpy(g.copy())
    torch.nn.utils.clip_grad_norm_(parameters, 1.0, foreach=True)
    ours, _ = clipping.clip_grad_norm(grads, 1.0)
    difference = max(float(np.max(np.abs(o - p.grad.numpy()))) for o, p in zip(ours, parameters))
    scale = max(float(np.max(np.abs(o))) for o in ours)
    print(f"  clipped gradients agree: largest difference {difference / scale:.1e} of the largest entry")

"""The cliff tamed: SGD on Pascanu's single recurrent unit with and without clipping."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st

from gradproofs import _validate, devices
from gradproofs.derivation import Derivation
from gradproofs.theorem import Evidence, Theorem, register
from gradproofs.errors import InvalidArgument, Mismatch
from gradproofs.clipping import engine as clipping
from gradproofs.clipping.theorems import FAMILY
from gradproofs.rnn import cliff
from gradproofs.formats import FORMATS

__all__ = ["CLIPPINGS", "Training", "train", "train_torch", "EPS64", "SCENARIO", "NORM_THRESHOLD", "step_bound"]

CLIPPINGS = ("none", "value", "norm")


class Training(NamedTuple):
    """SGD on θ = (w, b): the parameters after each step, E_T before each, and ‖Δθ‖₂ per step."""

    parameters: np.ndarray  # (steps + 1, 2)
    losses: np.ndarray      # (steps,)
    step_sizes: np.ndarray  # (steps,)


def train(b, *, w=cliff.W, clip="none", threshold=1.0, lr=0.1, sgd_steps=5, x0=cliff.X0, steps=cliff.T,
          target=cliff.TARGET) -> Training:
    """``sgd_steps`` SGD steps θ ← θ − lr·clip(∇E_T(θ)) from θ = (w, b), in float64.

    ``clip``: "none", "value" (clamp each entry to [−threshold, threshold], torch's
    ``clip_grad_value_``) or "norm" (rescale to global L2 norm ≤ threshold,
    torch's ``clip_grad_norm_``), from :mod:`gradproofs.clipping`.
    """
    _validate.choice("clip", clip, CLIPPINGS)
    lr = _validate.real_scalar("lr", lr)
    threshold = _validate.real_scalar("threshold", threshold)
    if lr <= 0 or threshold <= 0:
        raise InvalidArgument(f"lr and threshold must be positive, got lr={lr}, threshold={threshold}")
    theta = np.array([_validate.real_scalar("w", w), _validate.real_scalar("b", b)])
    history, losses, sizes = [theta.copy()], [], []
    for _ in range(_validate.positive_int("sgd_steps", sgd_steps)):
        result = cliff.gradient(theta[1], w=theta[0], x0=x0, steps=steps, target=target)
        grad = np.array([result.dE_dw, result.dE_db])
        if clip == "value":
            grad = clipping.clip_grad_value([grad], threshold)[0]
        elif clip == "norm":
            grad = clipping.clip_grad_norm([grad], threshold)[0][0]
        theta = theta - lr * grad
        history.append(theta.copy())
        losses.append(result.error)
        sizes.append(float(np.linalg.norm(history[-1] - history[-2])))
    return Training(np.array(history), np.array(losses), np.array(sizes))


def train_torch(b, *, w=cliff.W, clip="none", threshold=1.0, lr=0.1, sgd_steps=5, x0=cliff.X0,
                steps=cliff.T, target=cliff.TARGET, device="cpu") -> Training:
    """The same SGD through torch autograd, ``torch.nn.utils.clip_grad_*_`` and ``torch.optim.SGD``."""
    _validate.choice("clip", clip, CLIPPINGS)
    torch = devices.torch()
    device = devices.resolve(device)
    theta = torch.nn.Parameter(torch.tensor([float(w), float(b)], dtype=torch.float64, device=device))
    optimiser = torch.optim.SGD([theta], lr=float(lr))
    history, losses, sizes = [theta.detach().cpu().numpy().copy()], [], []
    for _ in range(int(sgd_steps)):
        optimiser.zero_grad()
        x = torch.tensor(float(x0), dtype=torch.float64, device=device)
        for _ in range(int(steps)):
            x = theta[0] * torch.sigmoid(x) + theta[1]
        loss = (torch.sigmoid(x) - target) ** 2
        loss.backward()
        if clip == "value":
            torch.nn.utils.clip_grad_value_([theta], threshold)
        elif clip == "norm":
            torch.nn.utils.clip_grad_norm_([theta], threshold)
        optimiser.step()
        history.append(theta.detach().cpu().numpy().copy())
        losses.append(float(loss.detach()))
        sizes.append(float(np.linalg.norm(history[-1] - history[-2])))
    return Training(np.array(history), np.array(losses), np.array(sizes))


EPS64 = FORMATS["float64"].eps
SCENARIO = dict(lr=0.1, sgd_steps=5)  # from b* = 0.5 − 5σ(0.5), w = 5, x₀ = 0.5, T = 50
NORM_THRESHOLD = 1.0


def step_bound(clip: str, threshold: float, lr: float, parameters: int = 2) -> float:
    """The largest step clipping allows: lr·τ (norm) or lr·c·√d (value)."""
    return lr * threshold * (np.sqrt(parameters) if clip == "value" else 1.0)


def _derive() -> Derivation:
    import sympy

    d = Derivation()
    g1, g2, tau, lr, c = sympy.symbols("g_1 g_2 tau eta c", positive=True)
    g = sympy.Matrix([g1, g2])
    clipped = g * tau / sympy.sqrt(g1 ** 2 + g2 ** 2)
    d.equal(r"Norm clipping rescales $g$ to norm $\tau$ when $\|g\| > \tau$, so one SGD step moves $\theta$ by "
            r"exactly $\eta\tau$ then (and by $\eta\|g\| < \eta\tau$ otherwise):",
            sympy.sqrt((lr * clipped).dot(lr * clipped)), lr * tau,
            names={g1 ** 2 + g2 ** 2: sympy.Symbol(r"\|g\|^2")})
    d.equal(r"Value clipping bounds every entry by $c$, so over $d = 2$ parameters the step is at most "
            r"$\eta c\sqrt d$:", sympy.sqrt(sympy.Add(*[(lr * c) ** 2] * 2, evaluate=False), evaluate=False),
            lr * c * sympy.sqrt(2))
    b_star = cliff.unstable_bias()
    runs = {clip: train(b_star, clip=clip, threshold=threshold, **SCENARIO)
            for clip, threshold in (("none", 1.0), ("value", cliff.VALUE_THRESHOLD), ("norm", NORM_THRESHOLD))}
    rows = [r"\begin{array}{l|l}"]
    for rule, field, heading in (("", "step_sizes", r"\|\Delta\theta\|_2 \text{ per step}"),
                                 (r"\hline ", "losses", r"E_{50} \text{ before each step}")):
        rows.append(rf"{rule}\text{{run}} & {heading} \\ \hline")
        rows += [f"\\text{{{clip}}} & {', '.join(f'{v:.3g}' for v in getattr(run, field))} \\\\"
                 for clip, run in runs.items()]
    rows.append(r"\end{array}")
    d.say(f"Five SGD steps ($\\eta = {SCENARIO['lr']}$) on $\\theta = (w, b)$ from the cliff's $b^*$: unclipped, "
          f"value-clipped at {cliff.VALUE_THRESHOLD:g}, norm-clipped at $\\tau = {NORM_THRESHOLD:g}$.", "\n".join(rows))
    largest = float(runs["none"].step_sizes.max())
    d.holds(f"The unclipped run's first step is {largest:.4g}, over 100 times $\\eta\\tau$: the gradient of "
            "$\\approx 779$ throws $\\theta$ off the cliff into a flat, saturated region where it stops learning.",
            largest > 100 * step_bound("norm", NORM_THRESHOLD, SCENARIO["lr"]))
    d.holds("Every clipped step stays within its bound, and norm clipping keeps lowering $E_{50}$.",
            np.all(runs["norm"].step_sizes <= step_bound("norm", NORM_THRESHOLD, SCENARIO["lr"]) * (1 + 4 * EPS64))
            and np.all(runs["value"].step_sizes <= step_bound("value", cliff.VALUE_THRESHOLD, SCENARIO["lr"]) * (1 + 4 * EPS64))
            and np.all(np.diff(runs["norm"].losses[1:]) < 0))
    d.conclude(r"\|\theta_{k+1} - \theta_k\|_2 \le \eta\tau \ \text{(norm)},\quad \le \eta c\sqrt{d}\ \text{(value)}")
    return d


def _check(data, device: str) -> Evidence:
    clip = data.draw(st.sampled_from(["value", "norm"]), label="clipping")
    threshold = data.draw(st.floats(0.01, 20.0), label="threshold")
    lr = data.draw(st.floats(1e-3, 1.0), label="lr")
    offset = data.draw(st.floats(-0.02, 0.02), label="b − b*")
    w = data.draw(st.floats(4.5, 6.0), label="w")
    b = cliff.unstable_bias(w=w) + offset
    bound = step_bound(clip, threshold, lr)
    evidence = None
    for engine, run in (("numpy", train(b, w=w, clip=clip, threshold=threshold, lr=lr, sgd_steps=3)),
                        (f"torch ({device})", train_torch(b, w=w, clip=clip, threshold=threshold, lr=lr,
                                                                sgd_steps=3, device=device))):
        # θ − η·g rounds once per entry, relative to |θ|: 4·eps·(|θ| + ηc) on the step's length.
        rounding = 4 * EPS64 * (np.abs(run.parameters).max() + bound)
        if np.any(run.step_sizes > bound + rounding):
            raise Mismatch(f"{engine}: a {clip}-clipped step of {run.step_sizes.max()!r} exceeds its bound "
                           f"{bound!r} (threshold {threshold}, lr {lr}, w {w}, b {b})")
        evidence = Evidence.bound(run.step_sizes.max(), bound, allowed=bound + rounding).worse(evidence)
    return evidence


register(Theorem(
    id="clipping-tames-the-cliff",
    family=FAMILY.id,
    title="Clipping tames the cliff",
    statement=r"SGD on Pascanu's single recurrent unit: with norm clipping at $\tau$ every step moves the "
              r"parameters at most $\eta\,\tau$, with value clipping at $c$ at most $\eta\,c\sqrt d$, whatever the "
              r"gradient; unclipped, the gradient of $\approx 779$ at the cliff throws the parameters $\approx 78$ "
              "away in one step.",
    latex=r"\|\theta_{k+1} - \theta_k\|_2 \le \eta\,\tau",
    source="Pascanu, Mikolov & Bengio (2013), §3.2, Algorithm 1 and Figure 6",
    kind="bound",
    engines=("sympy", "numpy", "torch"),
    derive=_derive,
    check=_check,
))

"""Training the character-level RNN language model by SGD, unclipped and clipped, on a generated text.

:data:`TEXT` is four short phrases repeated (3320 characters, K = 21: nothing to
download or ship); :func:`windows` cuts it into each step's batch; :func:`train`
(NumPy float64, the BPTT of :mod:`gradproofs.lm.engine`) and :func:`train_torch`
(``nn.RNN``, ``nn.Linear``, ``torch.optim.SGD``) take SGD steps from the same θ_0,
unclipped, value-clipped at 15 or norm-clipped at τ, and record every step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradproofs import _validate, devices
from gradproofs.activations import engine as activations
from gradproofs.errors import InvalidArgument
from gradproofs.lm import engine
from gradproofs.rnn import cliff

__all__ = [
    "PHRASES", "TEXT", "VOCABULARY", "TEXT_TOKENS", "CLIPS", "VALUE_THRESHOLD", "NORM_THRESHOLD", "LR", "STEPS",
    "HIDDEN", "SEQ_LENGTH", "BATCH", "SEED", "INITIAL_SCALE", "Training", "flatten", "parameter_count", "split",
    "initial_parameters", "windows", "train", "train_torch"
]

PHRASES = ("the cat sat on the mat. ", "a dog ran to the park. ", "she sees the sun. ", "we like red fish. ")
TEXT = "".join(PHRASES) * 40  # 3320 characters, generated: nothing to download or ship
VOCABULARY = "".join(sorted(set(TEXT)))  # K = 21 characters
TEXT_TOKENS = np.array([VOCABULARY.index(ch) for ch in TEXT])
CLIPS = (None, "value", "norm")
VALUE_THRESHOLD = cliff.VALUE_THRESHOLD  # 15: "when the slope exceeds 15, set it to 15"
NORM_THRESHOLD = 25.0  # τ
LR = 0.012
STEPS = 300
HIDDEN, SEQ_LENGTH, BATCH, SEED = 16, 50, 4, 2
INITIAL_SCALE = 0.5  # U and V's entries are N(0, 0.5²)
_PARAMETERS = ("U", "W", "b", "V", "c")


@dataclass(frozen=True)
class Training:
    """SGD on θ = (U, W, b, V, c), flattened in that order into P = 2HK + H² + H + K numbers.

    ``parameters[k]`` is θ before step k (the last row, θ after the last step),
    ``losses[k]`` E(θ_k) on step k's batch and ``gradient_norms[k]`` ‖∇E(θ_k)‖₂
    before clipping (torch's total norm: the 2-norm of the per-parameter 2-norms).
    """

    parameters: np.ndarray      # (steps + 1, P)
    losses: np.ndarray          # (steps,)
    gradient_norms: np.ndarray  # (steps,)

    def __post_init__(self):
        for array in (self.parameters, self.losses, self.gradient_norms):
            array.flags.writeable = False  # a record: shared safely

    @property
    def updates(self) -> np.ndarray:
        """The parameter changes θ_(k+1) − θ_k, (steps, P)."""
        return np.diff(self.parameters, axis=0)

    @property
    def update_norms(self) -> np.ndarray:
        """‖θ_(k+1) − θ_k‖₂ per step."""
        return np.linalg.norm(self.updates, axis=1)


def flatten(parameters) -> np.ndarray:
    """θ: U, W, b, V, c (a dict, or a sequence in that order) as one float64 vector."""
    values = [parameters[name] for name in _PARAMETERS] if isinstance(parameters, dict) else parameters
    return np.concatenate([np.asarray(v, dtype=np.float64).reshape(-1) for v in values])


def parameter_count(hidden: int) -> int:
    """P = 2HK + H² + H + K, the numbers in θ = (U, W, b, V, c) for H = ``hidden``."""
    H, K = _validate.positive_int("hidden", hidden), len(VOCABULARY)
    return 2 * H * K + H * H + H + K


def split(theta, hidden: int) -> dict:
    """The inverse of :func:`flatten`: U (H, K), W (H, H), b (H,), V (K, H), c (K,) as views of θ."""
    K, H, size = len(VOCABULARY), hidden, parameter_count(hidden)
    theta = np.asarray(theta)
    if theta.shape != (size,):
        raise InvalidArgument(f"theta must hold the P = {size} numbers of θ = (U, W, b, V, c) for hidden {hidden}, "
                         f"got shape {theta.shape}")
    shapes = dict(U=(H, K), W=(H, H), b=(H,), V=(K, H), c=(K,))
    ends = np.cumsum([int(np.prod(shape)) for shape in shapes.values()])
    return {name: part.reshape(shape) for (name, shape), part in zip(shapes.items(), np.split(theta, ends[:-1]))}


def initial_parameters(seed: int = SEED, hidden: int = HIDDEN) -> dict:
    """θ_0 from ``numpy.random.default_rng(seed)``: U and V with N(0, 0.5²) entries, W with
    N(0, 1/H) entries (spectral radius about 1), b = 0 and c = 0."""
    rng = np.random.default_rng(_validate.positive_int("seed", seed, minimum=0))
    H, K = _validate.positive_int("hidden", hidden), len(VOCABULARY)
    U = INITIAL_SCALE * rng.standard_normal((H, K))
    W = rng.standard_normal((H, H)) / np.sqrt(H)
    return dict(U=U, W=W, b=np.zeros(H), V=INITIAL_SCALE * rng.standard_normal((K, H)), c=np.zeros(K))


def _window_count(seq_length, batch) -> int:
    """N = ⌊(len − 1)/T⌋, the text's windows of T = ``seq_length``, after checking T and B = ``batch``."""
    seq_length = _validate.positive_int("seq_length", seq_length)
    if seq_length > len(TEXT_TOKENS) - 1:
        raise InvalidArgument(f"seq_length must be at most {len(TEXT_TOKENS) - 1} (the text's length − 1), "
                         f"got {seq_length}")
    count = (len(TEXT_TOKENS) - 1) // seq_length
    if _validate.positive_int("batch", batch) > count:
        raise InvalidArgument(f"batch must be at most {count}, the text's windows of seq_length {seq_length}, "
                         f"got {batch}")
    return count


def windows(step: int, *, seq_length: int = SEQ_LENGTH, batch: int = BATCH):
    """Step ``step``'s batch: (tokens, targets), each (T, B), from :data:`TEXT`.

    The text is cut into its N = ⌊(len − 1)/T⌋ consecutive windows of T inputs
    and the T targets one character on (min-char-rnn's ``inputs``/``targets``);
    step k takes windows kB, …, kB + B − 1, counted modulo N.
    """
    count = _window_count(seq_length, batch)
    starts = seq_length * ((_validate.positive_int("step", step, minimum=0) * batch + np.arange(batch)) % count)
    offsets = np.arange(seq_length)[:, None] + starts
    return TEXT_TOKENS[offsets], TEXT_TOKENS[offsets + 1]


@dataclass(frozen=True)
class _Arguments:
    clip: str | None
    threshold: float | None
    lr: float
    steps: int
    hidden: int
    shape: dict  # seq_length and batch, for :func:`windows`
    initial: np.ndarray
    start: int


def _training_arguments(clip, threshold, lr, steps, seed, hidden, seq_length, batch, initial, start) -> _Arguments:
    if not any(clip is option for option in CLIPS):
        raise InvalidArgument(f"unknown clip {clip!r}; expected None, 'value' or 'norm'")
    if clip is None and threshold is not None:
        raise InvalidArgument(f"threshold applies to clip='value' or 'norm' only, got threshold={threshold!r} "
                         "with clip=None")
    if clip is not None:
        default = VALUE_THRESHOLD if clip == "value" else NORM_THRESHOLD
        threshold = default if threshold is None else _validate.real_scalar("threshold", threshold)
        if threshold <= 0:
            raise InvalidArgument(f"threshold must be positive, got {threshold}")
    lr = _validate.real_scalar("lr", lr)
    if lr <= 0:
        raise InvalidArgument(f"lr must be positive, got {lr}")
    steps = _validate.positive_int("steps", steps)
    size = parameter_count(hidden)
    _window_count(seq_length, batch)
    start = _validate.positive_int("start", start, minimum=0)
    if initial is None:
        initial = flatten(initial_parameters(seed, hidden))
    else:
        _validate.positive_int("seed", seed, minimum=0)
        initial = _validate.real_vector("initial", initial)
        if initial.size != size:
            raise InvalidArgument(f"initial must hold the P = {size} numbers of θ = (U, W, b, V, c) for hidden "
                             f"{hidden}, got {initial.size}")
    return _Arguments(clip, threshold, lr, steps, int(hidden), dict(seq_length=int(seq_length), batch=int(batch)),
                      np.array(initial), start)


def train(*, clip=None, threshold=None, lr=LR, steps=STEPS, seed=SEED, hidden=HIDDEN, seq_length=SEQ_LENGTH,
          batch=BATCH, initial=None, start=0) -> Training:
    """Plain SGD θ ← θ − lr·clip(∇E(θ)) on the character model of :data:`TEXT`, in NumPy float64.

    Each step takes :func:`windows` (B windows of T characters), starts every
    window from h_0 = 0, and differentiates E summed over the batch and its
    steps (``reduction="sum"``, as min-char-rnn sums over its window) by the
    BPTT of :func:`gradproofs.lm.engine.backward`. ``clip``: None; "value", every entry clamped to
    [−c, c] with c = ``threshold`` (default 15: "when the slope exceeds 15, set
    it to 15"); or "norm", the gradient rescaled to 2-norm at most τ =
    ``threshold`` (default :data:`NORM_THRESHOLD`), both as torch does it
    (:mod:`gradproofs.clipping`). θ_0 is :func:`initial_parameters` of
    ``seed`` unless ``initial`` (a flat θ, as :attr:`Training.parameters` rows)
    is given; ``start`` is the first step's number, so a run resumes where
    another stopped. Non-finite numbers propagate as IEEE arithmetic makes them;
    the loss is :func:`gradproofs.lm.engine.backward`'s log-sum-exp form, finite where a target
    probability underflows, as torch's log-softmax is.

    The defaults (lr = 0.012, τ = 25, H = 16, T = 50, B = 4, seed 2) show the
    trouble clipping is for. Unclipped, the first step lr·‖∇E‖₂ is already
    12.7 times the norm-clipped bound lr·τ = 0.3, steps 2 and 3 over 25 times
    it, and at step 3 the loss passes its first value, the untrained model's.
    From there on an unclipped run is chaotic: a one-ulp change of every entry
    of θ_0 moves the loss by 10⁻¹² at step 3 and by over a tenth of it at step 9, so
    which later step jumps highest hangs on the last bit of every sum (another
    CPU's BLAS draws another path). What holds for seeds 0 to 9 and θ_0 moved
    by one ulp either way: the first unclipped step exceeds 7·lr·τ, the
    unclipped loss passes its first value within the 300 steps, and the
    norm-clipped run (not chaotic: moving θ_0 by one ulp moves its path by
    about as much) never reaches it again. Value clipping bounds each entry, not the step (a step can still
    be lr·15·√P ≈ 5.6, P = 965): its runs turn chaotic too, and seed 3 moved
    down by one ulp climbs above its first loss.
    """
    from gradproofs.clipping import engine as clipping

    a = _training_arguments(clip, threshold, lr, steps, seed, hidden, seq_length, batch, initial, start)
    tanh = activations.get("tanh")
    h0 = np.zeros((a.shape["batch"], a.hidden))
    theta, history, losses, norms = a.initial, [a.initial], [], []
    for step in range(a.start, a.start + a.steps):
        x, y = windows(step, **a.shape)
        with np.errstate(all="ignore"):  # IEEE overflow and NaN, as torch computes them
            result = engine.recurrence(x, y, h0, *split(theta, a.hidden).values(), "sum", tanh.numpy, tanh.numpy_derivative,
                                engine.softmax, engine.log_sum_exp)
            grads = [result.U, result.W, result.b, result.V, result.c]
            if a.clip == "norm":
                grads, (norm,) = clipping.clip_grad_norm(grads, a.threshold)
            else:
                norm = clipping.total_norm(grads)
                if a.clip == "value":
                    grads = clipping.clip_grad_value(grads, a.threshold)
            theta = theta - a.lr * flatten(grads)
        history.append(theta)
        losses.append(result.loss)
        norms.append(norm)
    return Training(np.array(history), np.array(losses, dtype=np.float64), np.array(norms, dtype=np.float64))


def train_torch(*, clip=None, threshold=None, lr=LR, steps=STEPS, seed=SEED, hidden=HIDDEN,
                seq_length=SEQ_LENGTH, batch=BATCH, initial=None, start=0, device="cpu") -> Training:
    """The same training as a torch user writes it, in float64 on ``device``: ``nn.RNN`` (one-hot
    inputs, ``weight_ih_l0`` = U, ``bias_ih_l0`` = b, ``bias_hh_l0`` fixed at 0), ``nn.Linear``
    (V, c), ``F.cross_entropy(reduction="sum")``, ``torch.nn.utils.clip_grad_value_`` or
    ``clip_grad_norm_`` and ``torch.optim.SGD``."""
    a = _training_arguments(clip, threshold, lr, steps, seed, hidden, seq_length, batch, initial, start)
    torch, tensor = devices.tensors(device)
    functional = torch.nn.functional
    K, H, sample = len(VOCABULARY), a.hidden, tensor(0.0)
    options = dict(device=sample.device, dtype=sample.dtype)
    module = torch.nn.RNN(K, H, nonlinearity="tanh", **options)
    output = torch.nn.Linear(H, K, **options)
    parameters = [module.weight_ih_l0, module.weight_hh_l0, module.bias_ih_l0, output.weight, output.bias]
    with torch.no_grad():
        for parameter, value in zip(parameters, split(a.initial, H).values()):
            parameter.copy_(tensor(value))
        module.bias_hh_l0.zero_()
    module.bias_hh_l0.requires_grad_(False)
    optimiser = torch.optim.SGD(parameters, lr=a.lr)
    h0 = torch.zeros((1, a.shape["batch"], H), **options)

    def theta():
        return torch.cat([p.detach().reshape(-1) for p in parameters]).cpu().numpy()

    history, losses, norms = [theta()], [], []
    for step in range(a.start, a.start + a.steps):
        x, y = (torch.as_tensor(v, device=sample.device) for v in windows(step, **a.shape))
        optimiser.zero_grad()
        states, _ = module(functional.one_hot(x, K).to(sample.dtype), h0)
        loss = functional.cross_entropy(output(states).reshape(-1, K), y.reshape(-1), reduction="sum")
        loss.backward()
        if a.clip == "norm":
            norm = torch.nn.utils.clip_grad_norm_(parameters, a.threshold)
        else:
            norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in parameters]))
            if a.clip == "value":
                torch.nn.utils.clip_grad_value_(parameters, a.threshold)
        optimiser.step()
        history.append(theta())
        losses.append(float(loss.detach()))
        norms.append(float(norm))
    return Training(np.array(history), np.array(losses), np.array(norms))

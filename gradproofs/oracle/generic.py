"""check_gradients: any differentiable function, against the exact gradient of its spec at fn's precision.

The user writes the mathematics as a *spec*, a function of named tensors in torch operations
returning a loss (or a tensor, which the oracle contracts with a drawn cotangent), and names each
input's dimensions. For each example Hypothesis draws the dimensions' sizes and the inputs
(normal numbers or zeros of the declared precision; a cotangent's entries 0 or at least
:data:`COTANGENT_FLOOR` in magnitude, since a correct kernel may scale a sum whose products underflow,
Σ(ḡ·(x − μ))·σ⁻¹ for Σ ḡ·x̂, and the rounding model counts a subnormal product's absolute error only at
the spec's own scale); the spec is traced to a graph of ATen operations
(:mod:`gradproofs.oracle.graph`, once per shape), and gradproofs' own rules evaluate and
differentiate that graph on bounded arrays (:mod:`gradproofs.oracle.rounding`): the reference
gradient and, entry by entry, the running error bound of a correct implementation at the
declared precision. fn gets the same inputs (NumPy arrays or torch tensors of that precision)
and returns their gradients; every entry must lie within its bound.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from gradproofs import _validate
from gradproofs.compare import Agreement, Expected
from gradproofs.errors import InvalidArgument
from gradproofs.formats import FORMATS
from gradproofs.oracle import conventions, graph, options, rounding, rules
from gradproofs.oracle.harness import Case, Oracle, judgeable

__all__ = ["DEFAULT_SIZES", "DEFAULT_VALUES", "Problem", "Gradients", "check_gradients", "check_module"]

DEFAULT_SIZES = (1, 4)  # a dimension that ``sizes`` does not name
DEFAULT_VALUES = (-1.0, 1.0)  # a float input that ``values`` does not name: uniform in this range
COTANGENT_FLOOR = 2.0 ** -10  # the smallest magnitude of a drawn cotangent's non-zero entries
SMALL = 256  # the most input entries, in all, of a problem whose reference is mpmath's with reference='auto'


def _spec(name: str, value):
    if value is None or not callable(value):
        raise InvalidArgument(f"{name} must be the mathematics: a function of the named tensors written with torch "
                              f"operations, got {value!r}")
    return value


def _shapes(name: str, value) -> dict:
    if not isinstance(value, Mapping) or not value:
        raise InvalidArgument(f"{name} must name each input's dimensions, e.g. {{'x': ('B', 'D'), 'W': ('D', 'D')}}, "
                              f"got {value!r}")
    shapes = {}
    for key, dims in value.items():
        dims = (dims,) if isinstance(dims, (str, int)) else tuple(dims)
        for dim in dims:
            if isinstance(dim, bool) or not isinstance(dim, (str, int)) or (isinstance(dim, int) and dim < 0):
                raise InvalidArgument(f"{name}[{key!r}] must hold dimension names or sizes ≥ 0, got {dim!r}")
        shapes[key] = dims
    return shapes


def _sizes(name: str, value) -> dict:
    sizes = {}
    for dim, size in (value or {}).items():
        low, high = (size, size) if isinstance(size, int) else tuple(size)
        _validate.positive_int(f"{name}[{dim!r}]", low, minimum=0)
        _validate.positive_int(f"{name}[{dim!r}]", high, minimum=0)
        if low > high:
            raise InvalidArgument(f"{name}[{dim!r}] = {size!r}: the smallest size exceeds the largest")
        sizes[dim] = (low, high)
    return sizes


def _values(name: str, value) -> dict:
    ranges = {}
    for key, declared in (value or {}).items():
        if isinstance(declared, tuple) and len(declared) == 2 and declared[0] == "index":
            ranges[key] = ("index", declared[1])
            continue
        try:
            low, high = (float(v) for v in declared)
        except (TypeError, ValueError):
            raise InvalidArgument(f"{name}[{key!r}] must be (low, high) for floats or ('index', dimension) for "
                                  f"integers below a dimension's size, got {declared!r}") from None
        if not (np.isfinite(low) and np.isfinite(high) and low < high):
            raise InvalidArgument(f"{name}[{key!r}] = {declared!r} must be finite, low < high")
        ranges[key] = (low, high)
    return ranges


def _accumulation(name: str, value):
    return None if value is None else FORMATS[options.PRECISION.validated(value)].name


SPEC = options.Option("spec", None, "the mathematics: a function of the named tensors written with torch "
                                    "operations, returning the loss, or a tensor that the oracle contracts with "
                                    "a drawn cotangent (then fn takes that cotangent last)", check=_spec,
                      domain="a function (required)")
SHAPES = options.Option("shapes", None, "each input's dimensions, by name or size, in the spec's argument order: "
                                        "`{'x': ('B', 'D'), 'W': ('D', 'D')}`", check=_shapes,
                        domain="a dict (required)")
SIZES = options.Option("sizes", None, "each dimension's size or range of sizes: `{'B': (1, 4), 'D': 8}` (one "
                                      f"not named: {DEFAULT_SIZES[0]} to {DEFAULT_SIZES[1]})", check=_sizes,
                       domain="a dict")
VALUES = options.Option("values", None, "each input's values: `(low, high)` for floats (one not named: "
                                        f"{DEFAULT_VALUES}), `('index', 'C')` for integers below dimension C's "
                                        "size (labels, indices)", check=_values, domain="a dict")
ACCUMULATION = options.Option("accumulation", None, "the format fn accumulates its sums and dot products in "
                                                    "(None: the precision itself, the worst a correct kernel does)",
                              check=_accumulation, domain=", ".join(f"`{name!r}`" for name in FORMATS))
ARRAYS = options.Option("arrays", "numpy", "what fn is given: NumPy arrays or torch tensors (on `device`) of the "
                                           "precision's dtype", values=("numpy", "torch"))
REFERENCE = options.Option("reference", "auto", "the arithmetic of the reference gradient: `'mpmath'` (40 "
                                                "significant digits), `'hardware'` (float64; long double for a "
                                                f"float64 fn, where the platform has it); `'auto'`: mpmath where the "
                                                f"inputs hold at most {SMALL} entries in all, else hardware",
                           values=("auto", "mpmath", "hardware"))
DEVICE = options.Option("device", "cpu", "the torch device of the tensors fn is given (with `arrays='torch'`)",
                        check=lambda name, value: _validate.choice(name, value, ("cpu", "cuda")))


@dataclass(frozen=True)
class Problem:
    """One example: each dimension's size, each input's values (normal floats or zeros of the precision),
    and the cotangent of a tensor-valued spec (None for a loss)."""

    sizes: dict
    arrays: dict
    cotangent: np.ndarray | None


class Gradients(Oracle):
    """Test ``fn(*inputs) -> gradients`` against the exact gradient of ``spec``, at fn's precision.

    fn takes the spec's inputs (and the cotangent, last, where the spec returns a tensor) as NumPy
    arrays or torch tensors of ``precision``'s dtype and returns their gradients (in the spec's order,
    or as ``returns`` declares). Each entry must lie within the running error bound of a correct
    implementation at that precision (:mod:`gradproofs.oracle.rounding`), around the reference: the
    spec's traced graph differentiated with gradproofs' own rules. Raises
    :class:`gradproofs.Mismatch` on the smallest counterexample of each kind of disagreement;
    returns a Report when every example agrees.
    """

    name = "gradients"
    function = "check_gradients"
    signature = "fn(*inputs[, cotangent]) -> gradients"
    option_records = (SPEC, SHAPES, SIZES, VALUES,
            options.PRECISION.but(default="float32", about="the format fn stores its inputs and results in, and is "
                                                           "judged at; `'tf32'`: float32, with matmul's and "
                                                           "convolution's inputs rounded to TF32 (10 significand "
                                                           "bits) as NVIDIA GPUs do where TF32 is allowed",
                                  domain=", ".join(f"`{name!r}`" for name in FORMATS if name != "float32")),
            ACCUMULATION, REFERENCE, ARRAYS, DEVICE, options.RETURNS, options.ARGUMENTS, options.NEAR_POWERS_OF_TWO)

    def settle(self) -> None:
        parameters = list(inspect.signature(self.spec).parameters)
        if list(self.shapes) != parameters:
            raise InvalidArgument(f"shapes must name the spec's arguments in order, {parameters}; it names "
                                  f"{list(self.shapes)}")
        unknown = [name for name in self.values if name not in self.shapes]
        if unknown:
            raise InvalidArgument(f"values names {unknown[0]!r}, which is not an argument of the spec")
        dims = {dim for shape in self.shapes.values() for dim in shape if isinstance(dim, str)}
        for name, declared in self.values.items():
            if declared[0] == "index" and declared[1] not in dims:
                raise InvalidArgument(f"values[{name!r}] indexes dimension {declared[1]!r}, which no input has")
        stray = [dim for dim in self.sizes if dim not in dims]
        if stray:
            raise InvalidArgument(f"sizes names dimension {stray[0]!r}, which no input has")
        self.dtype = "float32" if self.precision == "tf32" else self.precision  # what fn is given and returns
        if self.arrays == "numpy" and self.dtype not in ("float64", "float32", "float16"):
            raise InvalidArgument(f"NumPy has no {self.precision}: declare arrays='torch' to be given tensors")
        self.floats = tuple(name for name in self.shapes if self.values.get(name, DEFAULT_VALUES)[0] != "index")
        self.returns = conventions.Returns(self.returns, known=self.floats, default=self.floats,
                                           function=self.function)
        self.traces: dict = {}
        self.scalar = self._returns_loss()
        known = tuple(self.shapes) + (() if self.scalar else ("cotangent",))
        self.arguments = conventions.declared_arguments(self, known)

    def subject(self, fn) -> str:
        from gradproofs.oracle.harness import qualified_name

        options = "".join(f", {key}={qualified_name(value) if callable(value) else repr(value)}"
                          for key, value in self.options.items())
        return f"{self.function}({qualified_name(fn)}{options})"

    # --- tracing ---

    def traced(self, shapes: dict, arrays: dict | None = None) -> graph.Graph:
        """The spec's graph at these shapes (traced once per shapes)."""
        key = tuple(tuple(shape) for shape in shapes.values())
        if key not in self.traces:
            self.traces[key] = graph.trace(self.spec, shapes, arrays, self.dtype)
        return self.traces[key]

    def _returns_loss(self) -> bool:
        """Whether the spec returns a loss (a scalar) rather than a tensor: traced at the smallest sizes."""
        sizes = {dim: max(low, 1) for dim, (low, _) in self._ranges().items()}
        shapes = {name: self._shape(dims, sizes) for name, dims in self.shapes.items()}
        arrays = {name: np.full(shape, 0.5) if name in self.floats else np.zeros(shape, dtype=np.int64)
                  for name, shape in shapes.items()}
        return self.traced(shapes, arrays).shape == ()

    def _ranges(self) -> dict:
        dims = dict.fromkeys(dim for shape in self.shapes.values() for dim in shape if isinstance(dim, str))
        return {dim: self.sizes.get(dim, DEFAULT_SIZES) for dim in dims}

    @staticmethod
    def _shape(dims: tuple, sizes: dict) -> tuple:
        return tuple(sizes[dim] if isinstance(dim, str) else dim for dim in dims)

    def _precision(self) -> rounding.Precision:
        return rounding.Precision.declared(self.precision, self.accumulation)

    # --- drawing ---

    def strategy(self):
        from hypothesis import strategies as st
        from hypothesis.extra import numpy as hnp

        storage = FORMATS[self.dtype]

        def floats(shape, low, high, floor):
            """Arrays of numbers in [low, high] stored in the precision, none of them of magnitude below
            ``floor`` (at least the smallest normal): 0 where the range holds it, else ±floor."""
            def normal(a):
                a = rounding.stored(a, storage)
                small = 0.0 if low <= 0 <= high else np.copysign(floor, a)
                return np.where(np.abs(a) < floor, small, a)

            return hnp.arrays(np.float64, shape, elements=st.floats(low, high, allow_subnormal=False)).map(normal)

        def size(low, high):
            if self.near_powers_of_two:
                near = sorted({n for k in range(0, 12) for n in (2 ** k - 1, 2 ** k, 2 ** k + 1) if low <= n <= high})
                return st.sampled_from(near or [low])
            return st.integers(low, high)

        @st.composite
        def problems(draw):
            sizes = {dim: draw(size(*span), label=f"size of {dim}") for dim, span in self._ranges().items()}
            arrays = {}
            for name, dims in self.shapes.items():
                shape = self._shape(dims, sizes)
                declared = self.values.get(name, DEFAULT_VALUES)
                if declared[0] == "index":
                    bound = sizes[declared[1]]
                    judgeable(bound > 0 or not np.prod(shape))
                    arrays[name] = draw(hnp.arrays(np.int64, shape, elements=st.integers(0, max(bound - 1, 0))),
                                        label=name)
                else:
                    arrays[name] = draw(floats(shape, *declared, storage.smallest_normal), label=name)
            cotangent = None
            if not self.scalar:
                shape = self.traced({n: a.shape for n, a in arrays.items()}, arrays).shape
                cotangent = draw(floats(shape, -1.0, 1.0, COTANGENT_FLOOR), label="cotangent")
            return Problem(sizes, arrays, cotangent)

        return problems()

    # --- judging ---

    def multiprecise(self, example: Problem) -> bool:
        """Whether ``example``'s reference is computed in mpmath (the ``reference`` option)."""
        if self.reference == "auto":
            return sum(array.size for array in example.arrays.values()) <= SMALL
        return self.reference == "mpmath"

    def expected(self, example: Problem) -> dict:
        """{name: Expected}: the reference gradient of each checked input (in mpmath or in the hardware's
        float64 or long double, as :meth:`multiprecise` says), its scale |v| + e and its tolerance e/scale, e
        the running error bound (with the reference's rounding to float64 for judging); an example whose
        result the bound cannot reach is not judged."""
        arrays = example.arrays
        traced = self.traced({name: a.shape for name, a in arrays.items()}, arrays)
        A = rounding.Rounded(self._precision())
        values = graph.evaluate(traced, A, arrays)
        judgeable(np.all(np.isfinite(np.asarray(graph.output(traced, values).value, dtype=np.float64))))
        cotangent = example.cotangent if example.cotangent is not None else np.float64(1.0)
        bounded = graph.gradients(traced, A, values, cotangent)
        reference = {name: g.value for name, g in bounded.items()}
        if self.multiprecise(example):
            M = rules.Multiprecision()
            reference = graph.gradients(traced, M, graph.evaluate(traced, M, arrays), M.array(cotangent))
        expected = {}
        for name in self.returns.fields:
            g, value = bounded[name], reference[name]
            exact = np.asarray(value, dtype=np.float64)
            error = g.error + np.abs(np.asarray(value - exact, dtype=np.float64))
            unbounded = ~np.isfinite(error)  # not judged: the bound cannot reach these entries
            scale = np.where(unbounded, np.maximum(np.abs(exact), 1.0), np.abs(exact) + error)
            with np.errstate(invalid="ignore", divide="ignore"):
                tolerance = np.where(unbounded, np.inf, np.where(scale > 0, error / np.where(scale > 0, scale, 1), 0))
            expected[name] = Expected(exact, scale, tolerance, shape_of=f"the shape of {name}")
        return expected

    def case(self, example: Problem) -> Case:
        """fn's arguments for ``example`` (copies of the precision's dtype) and its sizes in words."""
        given = {**{name: self._passed(array) for name, array in example.arrays.items()},
                 **({"cotangent": self._passed(example.cotangent)} if example.cotangent is not None else {})}
        return Case({name: given[name] for name in self.arguments},
                    ", ".join(f"{dim} = {size}" for dim, size in example.sizes.items()))

    def check(self, fn, example: Problem) -> Agreement:
        from gradproofs.compare import judge

        expected = self.expected(example)
        precision = self._precision()
        reason = (f"the running error bound of a correct implementation storing {self.dtype}"
                  + (", rounding matmul's and convolution's inputs to tf32" if precision.multiplicands else "")
                  + f", accumulating in {(precision.accumulation or precision.storage).name}, math functions within "
                  f"{precision.ulps:g} ulps" + (", around a 40-digit mpmath reference" if self.multiprecise(example)
                                                else ""))

        def judgement(result, _):
            return judge("fn", self.returns.read(result), self.returns.expected(expected), precision=self.precision,
                         reason=reason)

        return self.verdict(fn, self.case(example), judgement, kinds=self.returns.kinds())

    def used(self, fn, example: Problem) -> np.ndarray:
        """The fraction of its tolerance each judged entry of fn's gradients uses on ``example`` (entries whose
        bound is 0 or unbounded left out): how tight the bound is for code that passes."""
        from gradproofs.compare import to_numpy
        from gradproofs.oracle.harness import call

        expected = self.expected(example)
        got = self.returns.read(call(fn, self.case(example))[0])
        fractions = []
        for name, want in expected.items():
            bound = want.scale * want.tolerance
            kept = np.isfinite(bound) & (bound > 0)
            fractions.append((np.abs(to_numpy(got[name]) - want.exact) / np.where(kept, bound, 1))[kept])
        return np.concatenate(fractions) if fractions else np.zeros(0)

    def _passed(self, array: np.ndarray):
        """An input as fn is given it: of the precision's dtype (integers as int64), NumPy or torch."""
        integral = array.dtype.kind in "iu"
        if self.arrays == "numpy":
            return array.copy() if integral else array.astype(self.dtype)
        import torch

        tensor = torch.from_numpy(array.copy())
        return tensor.to(self.device) if integral else tensor.to(getattr(torch, self.dtype)).to(self.device)


check_gradients = options.check_function(Gradients)


def check_module(module, *, shapes: dict, spec=None, parameters: bool = True, **options):
    """Check torch's autograd through ``module`` (a ``torch.nn.Module``, or a function of tensors such as a
    custom ``autograd.Function``'s ``apply``) at its own dtype and device, against the exact gradient of its
    own forward traced in float64 (its first result, where it returns several, as ``nn.GRU``), or of
    ``spec`` where given (taking the same inputs, then the module's
    parameters by name, dots as underscores and a ``p`` before a leading digit: ``0.weight`` is ``p0_weight``).

    ``shapes`` names the forward's inputs' dimensions, as for :func:`check_gradients`, which takes the other
    options (``sizes``, ``values``, ``precision`` — by default the parameters' dtype, else float32 —,
    ``accumulation``, ``max_examples`` …); with ``parameters=True`` a module's parameters are inputs too,
    drawn in the range of their own values (widened by 1 where they are all equal, as a norm's weight of
    ones) and checked.
    """
    import copy

    import torch

    named = dict(module.named_parameters()) if parameters and isinstance(module, torch.nn.Module) else {}
    keys = {name: name.replace(".", "_") if name[0].isalpha() else "p" + name.replace(".", "_") for name in named}
    first = next(iter(named.values()), None)
    dtype = first.dtype if first is not None else torch.float32
    device = first.device if first is not None else torch.device("cpu")
    exact = copy.deepcopy(module).double().cpu() if isinstance(module, torch.nn.Module) else module
    inputs = list(shapes)

    def forward(model, tensors, weights):
        out = model(*tensors) if not weights else torch.func.functional_call(model, dict(zip(named, weights)),
                                                                              tuple(tensors))
        return out[0] if isinstance(out, tuple) else out

    def own_spec(*tensors):
        return forward(exact, tensors[:len(inputs)], tensors[len(inputs):])

    def fn(*arguments):
        given, cotangent = arguments[:len(inputs) + len(named)], arguments[len(inputs) + len(named):]
        leaves = [t.detach().requires_grad_() if t.is_floating_point() else t for t in given]
        out = forward(module, leaves[:len(inputs)], leaves[len(inputs):])
        floats = [t for t in leaves if t.is_floating_point()]
        grads = torch.autograd.grad(out, floats, cotangent[0] if cotangent else None, allow_unused=True)
        return tuple(torch.zeros_like(t) if g is None else g for t, g in zip(floats, grads))

    all_shapes = {**shapes, **{keys[name]: tuple(p.shape) for name, p in named.items()}}
    held = {}
    for name, p in named.items():
        low, high = float(p.detach().min()), float(p.detach().max())
        held[keys[name]] = (low, high) if low < high else (low - 1, high + 1)
    chosen = spec or own_spec
    if spec is None:
        own_spec.__signature__ = inspect.Signature([inspect.Parameter(n, inspect.Parameter.POSITIONAL_ONLY)
                                                    for n in all_shapes])
    options.setdefault("precision", str(dtype).removeprefix("torch."))
    values = {**held, **options.pop("values", {})}
    return check_gradients(fn, spec=chosen, shapes=all_shapes, values=values, arrays="torch",
                           device=str(device.type), **options)

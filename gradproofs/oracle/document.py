"""derivations/gradients.md: check_gradients's reference and tolerance, operation by operation.

``gradproofs derive`` renders it beside the families' documents: the precisions a kernel may
declare (from :class:`gradproofs.oracle.rounding.Precision`), the rounding model's bound for each
kind of operation with the identity it rests on checked by SymPy as the file is written, and each
rule's VJP (:mod:`gradproofs.oracle.rules`): for the pointwise and arithmetic operations SymPy
differentiates the rule's own forward and the rule's VJP must equal that derivative; for the
others the rule's own statement, proved in ``tests/test_generic_rules.py``.
"""

from __future__ import annotations

import numpy as np

from gradproofs.derivation import Derivation
from gradproofs.errors import DerivationError
from gradproofs.formats import FORMATS
from gradproofs.oracle import rounding, rules

__all__ = ["NAME", "render"]

NAME = "gradients.md"

# Pointwise operations shown with SymPy's derivative of the rule's forward: (operation, options,
# whether x must be positive for the formula to be real).
POINTWISE = [
    ("aten.neg.default", {}, False),
    ("aten.exp.default", {}, False),
    ("aten.log.default", {}, True),
    ("aten.log1p.default", {}, True),
    ("aten.sqrt.default", {}, True),
    ("aten.rsqrt.default", {}, True),
    ("aten.pow.Tensor_Scalar", {"exponent": 2.5}, True),
    ("aten.tanh.default", {}, False),
    ("aten.sigmoid.default", {}, False),
    ("aten.silu.default", {}, False),
    ("aten.gelu.default", {}, False),
    ("aten.gelu.default", {"approximate": "tanh"}, False),
]
# Arithmetic of two tensors a and b: (operation, options, the schema's name for b, which must be positive).
ARITHMETIC = [
    ("aten.add.Tensor", {"alpha": 2}, "other", ""),
    ("aten.sub.Tensor", {"alpha": 2}, "other", ""),
    ("aten.mul.Tensor", {}, "other", ""),
    ("aten.div.Tensor", {}, "other", "b"),
    ("aten.pow.Tensor_Tensor", {}, "exponent", "a"),
]


# What each other rule's VJP does, by one of its operations: the rule's docstring, typeset.
STATEMENTS = {
    "aten.add.Scalar": r"$y = a + \alpha b$: $\bar a = \bar g$, $\bar b = \alpha \bar g$.",
    "aten.sub.Scalar": r"$y = a - \alpha b$: $\bar a = \bar g$, $\bar b = -\alpha \bar g$.",
    "aten.rsub.Scalar": r"$y = b - \alpha a$: $\bar a = -\alpha \bar g$, $\bar b = \bar g$.",
    "aten.mul.Scalar": r"$y = ab$: $\bar a = \bar g b$, $\bar b = \bar g a$.",
    "aten.div.Scalar": r"$y = a/b$: $\bar a = \bar g/b$, $\bar b = -\bar g a/b^2$.",
    "aten.abs.default": r"$\bar x = \bar g \operatorname{sign}(x)$, and $0$ at $x = 0$ (torch's choice).",
    "aten.relu.default": r"$\bar x = \bar g$ where $x > 0$, else $0$ (torch's choice at $x = 0$).",
    "aten.softplus.default": r"$\bar x = \bar g\,\sigma(\beta x)$, and $\bar g$ where $\beta x$ exceeds the "
                             r"threshold (where torch returns $x$ itself).",
    "aten.sum.default": r"each summed entry gets its sum's cotangent.",
    "aten.mean.default": r"each of the $n$ entries averaged gets its mean's cotangent over $n$.",
    "aten.amax.default": r"the maximum's cotangent goes to the entry that attains it, shared evenly among tied ones.",
    "aten.amin.default": r"the minimum's cotangent goes to the entry that attains it, shared evenly among tied ones.",
    "aten._softmax.default": r"$\partial y_i/\partial x_j = y_i(\delta_{ij} - y_j)$, so "
                             r"$\bar x = y \odot (\bar g - \sum_j \bar g_j y_j)$.",
    "aten._log_softmax.default": r"$\partial y_i/\partial x_j = \delta_{ij} - \mathrm{softmax}(x)_j$, so "
                                r"$\bar x = \bar g - e^{y} \sum_j \bar g_j$.",
    "aten.where.self": r"each entry's cotangent goes to the branch the condition chose; the other gets $0$.",
    "aten.clamp.default": r"$\bar x = \bar g$ where $\min \le x \le \max$, ends included (torch's choice), else "
                          r"$0$; a tensor bound gets the rest.",
    "aten.clamp_min.default": "clamp's, with no upper bound.",
    "aten.clamp_max.default": "clamp's, with no lower bound.",
    "aten.maximum.default": r"the cotangent goes to the larger argument, half to each at a tie (torch's choice).",
    "aten.minimum.default": r"the cotangent goes to the smaller argument, half to each at a tie (torch's choice).",
    "aten.view.default": "the cotangent reshaped back to the input's shape: the entries keep their order.",
    "aten.clone.default": "a copy or a cast: the cotangent passes through (the reference keeps exact values; "
                          "the precision is judged, not modelled here).",
    "aten.permute.default": "the cotangent permuted back by the inverse permutation.",
    "aten.transpose.int": "the cotangent with the two axes swapped back.",
    "aten.flip.default": "the cotangent flipped back along the same axes.",
    "aten.t.default": "the cotangent transposed back.",
    "aten.expand.default": "each entry gets the sum of its copies' cotangents, over the broadcast axes.",
    "aten.cat.default": "the cotangent cut back into the pieces, along the same axis.",
    "aten.split.Tensor": "the pieces' cotangents put back side by side.",
    "aten.unbind.int": "the slices' cotangents stacked back along the axis.",
    "aten.stack.default": "the cotangent's slices along the new axis, one per stacked tensor.",
    "aten.slice.Tensor": "the cotangent at the sliced entries of an array of zeros of the input's shape.",
    "aten.select.int": "the cotangent at the selected entries of an array of zeros of the input's shape.",
    "aten.index_select.default": "the cotangent added at the selected rows of an array of zeros of the input's "
                                 "shape: a row picked twice gets both.",
    "aten.gather.default": "the cotangent added at the gathered entries of an array of zeros of the input's "
                           "shape: an entry gathered twice gets both.",
    "aten.embedding.default": "each row's cotangents summed; the row `padding_idx` gets none (torch's choice).",
    "aten.mm.default": r"$\bar A = \bar G B^{\top}$, $\bar B = A^{\top} \bar G$ (batched over the leading axis "
                       r"for bmm).",
    "aten.addmm.default": r"$y = \beta s + \alpha M_1 M_2$: $\bar s = \beta \bar g$, "
                          r"$\bar M_1 = \alpha \bar g M_2^{\top}$, $\bar M_2 = \alpha M_1^{\top} \bar g$.",
    "aten.convolution.default": r"with the padded input $\tilde x$, stride $s$ and dilation $d$, "
                                r"$\bar w_{o,c,k} = \sum_{n,p} \bar g_{n,o,p}\, \tilde x_{n,c,ps + kd}$, "
                                r"$\bar{\tilde x}_{n,c,ps + kd}$ gains $\sum_o \bar g_{n,o,p} w_{o,c,k}$ (then the "
                                r"padding is cut off), and $\bar b_o = \sum_{n,p} \bar g_{n,o,p}$.",
    "aten.native_layer_norm.default": r"$y = w \hat x + b$ with $\hat x = (x - \mu)/\sqrt{v + \epsilon}$ over the "
                                      r"last axes: $\bar{\hat x} = w \bar g$, $\bar w = \sum \bar g \hat x$ and "
                                      r"$\bar b = \sum \bar g$ over the leading axes, and $\bar x$ through $\mu$ and "
                                      r"$v$.",
    "aten.native_batch_norm.default": r"layer norm's over the batch and spatial axes, per channel, in training; in "
                                      r"inference $\bar x = r \bar{\hat x}$ with $r = (v + \epsilon)^{-1/2}$ of the "
                                      r"running variance $v$, whose running statistics, where they are inputs, get "
                                      r"their cotangents too.",
    "aten.mse_loss.default": r"$\partial (x - t)^2/\partial x = 2(x - t)$, divided by the count for the mean.",
    "aten.nll_loss_forward.default": r"$L = -\sum_i w_{t_i} x_{i, t_i}$ (over $W = \sum_i w_{t_i}$ for the "
                                     r"mean): $\bar x_{i, t_i} = -w_{t_i} \bar g$ (over $W$), and each class "
                                     r"weight gets its cotangent through $L$ and $W$.",
}


def _powers_of_two(value: float) -> str:
    return f"$2^{{{int(np.log2(value))}}}$"


def _precisions() -> list[str]:
    """The table of what each declared precision means to the rounding model."""
    lines = ["| `precision` | each result stored with $u$ | sums and dot products with $U$ | matmul's inputs "
             "| underflow $\\eta$ |", "|---|---|---|---|---|"]
    for name in FORMATS:
        precision = rounding.Precision.declared(name)
        u = _powers_of_two(precision.storage.unit_roundoff)
        inputs = (f"rounded to TF32 ($u_m$ = {_powers_of_two(precision.multiplicands.unit_roundoff)})"
                  if precision.multiplicands else "as stored")
        lines.append(f"| `'{name}'` | {u} | {u} unless `accumulation` is declared | {inputs} | "
                     f"{_powers_of_two(precision.underflow)} |")
    return lines


def _model() -> Derivation:
    """The rounding model's bounds, each on the identity SymPy checks."""
    import sympy

    a, b, alpha, beta, c = sympy.symbols("a b alpha beta c", real=True)
    A, B, eA, eB = sympy.symbols("A B e_a e_b", nonnegative=True)
    k, u = sympy.symbols("k U", positive=True)
    x1, x2 = sympy.symbols("x_1 x_2", real=True)
    model = Derivation()
    model.say("A bounded value is the reference's $v$ with a bound $e$ on how far a correct implementation's "
              "computed $\\hat v$ may lie from it, $|\\hat v - v| \\le e$. Storing a result of size $m$ adds "
              "$\\rho(m) = u\\,m + \\eta$ (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., "
              "§2.2, with $\\eta$ the smallest subnormal for results below the smallest normal number). Each "
              "bound below is what the inputs' errors $\\alpha$, $\\beta$ (at most $e_a$, $e_b$) carry into "
              "the result, before that rounding.")
    model.equal("A sum or difference carries both errors: $e = e_a + e_b$.", (a + alpha) + (b + beta) - (a + b),
                alpha + beta, label="(a + \\alpha) + (b + \\beta) - (a + b)")
    model.equal("A product carries each error times the other factor, and their product: "
                "$e = |a| e_b + |b| e_a + e_a e_b$.", (a + alpha) * (b + beta) - a * b,
                a * beta + b * alpha + alpha * beta)
    model.equal("A quotient: with $|b + \\beta| \\ge |b| - e_b > 0$, $e = (|a| e_b + |b| e_a)/(|b|(|b| - e_b))$; "
                "where $|b| \\le e_b$ the divisor may be 0 and the bound is infinite.",
                (a + alpha) / (b + beta) - a / b, (b * alpha - a * beta) / (b * (b + beta)))
    model.say(f"A math function $f$ (exp, log, log1p, sqrt, tanh, erf, $x^p$) moves an error $\\alpha$ by "
              f"$f'(\\xi)\\alpha$ for some $\\xi$ between $a$ and $a + \\alpha$ (the mean value theorem): "
              f"$e = L e_a + \\lambda(|v| + L e_a)$, $L$ the largest $|f'|$ on $[a - e_a, a + e_a]$ and "
              f"$\\lambda(m) = 2 \\cdot {rounding.LIBRARY_ULPS:g}\\,u\\,m + \\eta$ the library's own error, "
              f"{rounding.LIBRARY_ULPS:g} ulps of the result (1 ulp is at most $2u$ of it); erf's in ulps of "
              "$\\max(|v|, 1)$, since kernels compute it accurately in absolute terms only.")
    gamma = lambda n: n * u / (1 - n * u)  # noqa: E731
    model.equal("A sum of $n$ terms in any order: each term passes through at most $n$ additions, each "
                "rounding by a factor $1 + \\delta$, $|\\delta| \\le U$, and $|\\prod (1 + \\delta_i) - 1| "
                "\\le \\gamma_n = nU/(1 - nU)$ (Higham, Lemma 3.1). The induction step: one more rounding "
                "of a product within $\\gamma_k$ is within", gamma(k) + u + u * gamma(k), (k + 1) * u / (1 - k * u),
                label="\\gamma_k + U + U\\gamma_k")
    model.equal("which is below $\\gamma_{k+1}$ by", gamma(k + 1) - (k + 1) * u / (1 - k * u),
                (k + 1) * u ** 2 / ((1 - (k + 1) * u) * (1 - k * u)), label="\\gamma_{k+1} - (k+1)U/(1 - kU)")
    model.say("non-negative while $(k + 1)U < 1$. So a sum's bound is $\\sum e_i + \\gamma_n(\\sum |v_i| + "
              "\\sum e_i)$, with $U$ the accumulation's unit roundoff (Higham, eq. (4.4)); where $nU \\ge 1$ it is "
              "infinite.")
    model.equal("A dot product of length $n$ (matmul, a convolution's window) is a sum of products: with "
                "$|a| \\le A$, $|b| \\le B$, its bound is formed from two products of bounds instead of four "
                "(Higham, eq. (3.5)),", (A + eA) * (B + eB) - A * B, A * eB + eA * B + eA * eB,
                label="|a|e_b + e_a|b| + e_a e_b")
    model.say("plus $\\gamma_n$ of $(|a| + e_a)(|b| + e_b)$, and $n\\eta$ (of the accumulation's format) for "
              "products below the smallest normal number, whose rounding error is absolute, not relative. With "
              "`precision='tf32'` each input of matmul and of a convolution is first rounded to TF32: its bound "
              f"grows by $u_m(|a| + e_a) + \\eta_m$, $u_m$ = {_powers_of_two(FORMATS['tf32'].unit_roundoff)}.")
    model.say("A bias $s$ on a dot product's result (addmm's, a convolution's) is added once after it, or is the "
              "accumulator's first term and then rounded up to $n$ more times: one sum of $n + 1$ terms, bounded "
              "in any order by $\\gamma_{n+1}$ of their magnitudes. The bound of the addition after the dot "
              "product grows by $(\\gamma_{n+1} - \\gamma_n) \\sum (|a_i| + e_{a_i})(|b_i| + e_{b_i}) + "
              "\\gamma_{n+1}(|s| + e_s)$, which covers both.")
    softmax = sympy.exp(x1 - c) / (sympy.exp(x1 - c) + sympy.exp(x2 - c))
    model.equal("Softmax subtracts a shift $c$ (the largest entry) before $e^x$; any $c$ gives the same value, so "
                "an implementation's computed shift cancels and adds no error:", softmax,
                sympy.exp(x1) / (sympy.exp(x1) + sympy.exp(x2)))
    model.say("A comparison is uncertain where $|a - b| \\le e_a + e_b$: a correct implementation may find "
              "either answer. A choice by an uncertain condition (`where`, relu's and clamp's kinks, a maximum) "
              "is bounded by both branches, $e = \\max(e_x, e_y) + |v_x - v_y|$. Moving, copying and selecting "
              "entries moves their bounds and adds nothing.")
    return model


def _derivative(operation: str, options: dict, arguments: dict) -> Derivation:
    """SymPy's derivative of the rule's forward at scalar symbols, equal to the rule's VJP (else an error);
    GELU's cubic coefficient, the float64 number nearest 0.044715, shown as c."""
    import sympy

    c = sympy.Rational(rules.GELU_CUBIC)
    names = {c: sympy.Symbol("c"), 3 * c: 3 * sympy.Symbol("c")}

    exact = rules.Exact()
    rule = rules.RULES[operation]
    tensors = {name: np.array([symbol], dtype=object) for name, symbol in arguments.items()}
    g = sympy.Symbol("gbar")
    y = rule.forward(exact, **tensors, **options)
    vjp = rule.vjp(exact, np.array([g], dtype=object), y, **tensors, **options)
    shown = Derivation()
    for name, symbol in arguments.items():
        shown.equal(name, vjp[name][0], g * sympy.diff(y[0], symbol), label=f"\\bar{{{sympy.latex(symbol)}}}",
                    lines=len(sympy.latex(vjp[name][0])) > 90, names=names)
    return shown


def _with(options: dict) -> str:
    return "".join(f", `{key}={value!r}`" for key, value in options.items())


def _rules() -> list[str]:
    import sympy

    x, positive = sympy.Symbol("x", real=True), sympy.Symbol("x", positive=True)
    a, b, pa, pb = sympy.Symbol("a", real=True), sympy.Symbol("b", real=True), sympy.Symbol(
        "a", positive=True), sympy.Symbol("b", positive=True)
    lines = ["", "### Pointwise functions", "",
             "Each rule's forward at a symbol $x$, differentiated by SymPy; the rule's VJP of a cotangent "
             "$\\bar g$ must equal $\\bar g\\, \\partial y/\\partial x$ (shown where the two print differently)."]
    for operation, options, needs_positive in POINTWISE:
        shown = _derivative(operation, options, {"self": positive if needs_positive else x})
        lines += ["", f"- `{operation}`{_with(options)}" + (" ($x > 0$)" if needs_positive else "")
                  + (f", with $c$ = {rules.GELU_CUBIC} (its float64 value)" if "approximate" in options else ""),
                  *_display(shown.steps[0].latex, "  ")]
    lines += ["", "### Arithmetic"]
    for operation, options, second, positive_one in ARITHMETIC:
        shown = _derivative(operation, options, {"self": pa if positive_one == "a" else a,
                                                 second: pb if positive_one == "b" else b})
        lines += ["", f"- `{operation}`{_with(options)}" + (f" (${positive_one} > 0$)" if positive_one else ""),
                  *_display(" \\qquad ".join(
                      step.latex for step in shown.steps), "  ")]
    shown_names = {operation for operation, *_ in POINTWISE + ARITHMETIC}
    groups: dict = {}
    for name, rule in rules.RULES.items():
        if rule.vjp is not None:
            groups.setdefault(rule.vjp, []).append(name)
    lines += ["", "### The other operations", "",
              "Each proved in `tests/test_generic_rules.py`: SymPy differentiates $\\sum c \\odot y$ on small "
              "symbolic tensors, the piecewise ones at exact points on each side of every kink, and at the kinks "
              "and ties the rule makes torch's choice, judged by torch's autograd.", ""]
    for names in groups.values():
        names = [name for name in names if name not in shown_names]
        if not names:
            continue
        stated = [STATEMENTS[name] for name in names if name in STATEMENTS]
        if len(stated) != 1:
            raise DerivationError(f"{names} need one statement in STATEMENTS, not {len(stated)}")
        lines.append(f"- {', '.join(f'`{name}`' for name in names)}: {stated[0]}")
    constant = [name for name, rule in rules.RULES.items() if rule.vjp is None]
    lines += ["", "Not differentiable (comparisons, logic, constants, `detach`): "
              + ", ".join(f"`{name}`" for name in constant) + "."]
    return lines


def _display(latex: str, indent: str = "") -> list[str]:
    return ["", f"{indent}$$", *(f"{indent}{line}" for line in latex.splitlines()), f"{indent}$$"]


def render() -> str:
    """The document's Markdown, byte-for-byte deterministic."""
    lines = [
        "# Any differentiable function: each operation's rule and its rounding bound",
        "",
        "`check_gradients` traces the spec to ATen operations and evaluates the graph with gradproofs' own rule "
        "for each operation, forward and VJP: that is the reference (in mpmath's 40 digits for small problems, "
        "else in float64, or long double for a float64 kernel where the platform has one wider). The same rules "
        "run on bounded values: a running error analysis of a correct implementation at the declared precision, which is the tolerance, entry by "
        "entry. This document states both.",
        "",
        "*Generated by `gradproofs derive` from `gradproofs/oracle/rules.py` and `gradproofs/oracle/rounding.py`: "
        "every display below was checked by SymPy when this file was written; `tests/test_generic_rules.py` "
        "proves every rule and `tests/test_generic_rounding.py` tests every bound. Do not edit by hand.*",
        "",
        "## The precisions",
        "",
        "Each result is rounded to the storage format; sums and dot products accumulate in `accumulation` "
        "where declared (`'float32'` for a bfloat16 kernel that accumulates in float32), else in the storage "
        "format itself, the worst a correct kernel does. The reference's own rounding is added to $u$ and $U$.",
        "",
        *_precisions(),
        "",
        "## The rounding model",
        "",
    ]
    for number, step in enumerate(_model().steps, 1):
        item = f"{number}. "
        lines += [item + step.text, *(_display(step.latex, " " * len(item)) if step.latex else []), ""]
    lines += ["## Each operation's rule", "",
              "A rule's VJP takes the cotangent $\\bar g$ of the result and returns each differentiable argument's "
              "cotangent; a cotangent of a broadcast argument is summed back to its shape. The rounding bound of "
              "an operation is that of the arithmetic its rule performs, composed by the rules above.",
              *_rules()]
    return "\n".join(lines) + "\n"

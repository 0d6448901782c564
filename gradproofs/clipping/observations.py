"""What the frameworks' clipping functions were observed to do: the evidence behind each convention.

``gradproofs.clipping`` reproduces torch, TensorFlow, Keras and optax operation by
operation; where its docstring, its tests or the clipping theorems say what a
framework does, they cite a row here ("observed row N"). Each row says what
was seen, in which releases, how it was seen (read in the framework's source,
run and printed, a published test of the framework ported, or compared bit
for bit with the live library over drawn cases) and which tests hold the model
to it. ``derivations/clipping.md`` prints the whole table (:func:`markdown`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RELEASES", "HOW", "FORMULAS", "Observation", "OBSERVATIONS", "observation", "markdown"]

# The releases observed; ci/constraints.txt pins the same ones, and CI compares against them.
RELEASES = {
    "torch": "torch 2.13.0 (CPU build)",
    "tensorflow": "tensorflow-cpu 2.21.0",
    "keras": "Keras 3.15.1 on the TensorFlow backend",
    "optax": "optax 0.2.8 on jax 0.10.2 with x64",
}

HOW = {
    "source": "read in the framework's source",
    "run": "run on the CPU and printed",
    "published": "a published test of the framework, its values ported (`tests/test_clipping_published.py`)",
    "live": "compared bit for bit with the live library over drawn cases (`tests/test_clipping_live.py`; "
            "3,000 per function in CI)",
    "recorded": "recorded from the live libraries on fixed cases, kept in `tests/recorded/clipping.json` "
                "(`python tests/recording.py` records them again), so that the model is judged against them "
                "where the libraries are not installed",
}

# Each framework's formula, read in its source (n: the norm, c: the threshold).
FORMULAS = (
    ("", "torch `clip_grad_norm_`", "TF `clip_by_global_norm`", "Keras 3 optimizer",
     "optax `clip_by_global_norm`", "Pascanu 2013, Alg. 1"),
    ("scale", "`min(c/(n+1e-6), 1)`, always multiplied",
     "`c·min(1/n, 1/c)`; an infinite or NaN n turns every entry NaN on purpose",
     "`clipnorm`: each variable alone, TF's `clip_by_norm`; `global_clipnorm`: TF's global formula",
     "keep if `n < c`, else `(g/n)·c`", "if `n ≥ c`: `g·c/n`"),
    ("epsilon", "1e-6, in the norm's dtype", "none", "none", "none", "none"),
    ("at n == c", "shrinks by the epsilon", "unchanged (up to one rounding)", "unchanged (up to rounding)",
     "takes the clip branch", "clips (a no-op in exact arithmetic)"),
    ("norm", "per-array norms, then the norm of those; any p, ±∞", "global L2", "each array's L2 (global: L2)",
     "global L2", "L2"),
    ("returns", "n before clipping (the promoted dtype; empty input: 0.0)", "(list, n)", "nothing",
     "the clipped tree", "the clipped gradient"),
)


@dataclass(frozen=True)
class Observation:
    """One row: what was ``observed``, in which ``frameworks`` (keys of RELEASES), ``how`` (keys of
    HOW) and the ``tests`` (``file::function``) that hold gradproofs.clipping to it."""

    number: int
    observed: str
    frameworks: tuple[str, ...]
    how: tuple[str, ...]
    tests: tuple[str, ...]


_CLIPPING = "tests/test_clipping.py::"
_LIVE = "tests/test_clipping_live.py::"
_PUBLISHED = "tests/test_clipping_published.py::"
_ALL = ("torch", "tensorflow", "keras", "optax")

OBSERVATIONS = (
    Observation(1, "g = [3, 4], c = 1: TensorFlow and optax give [0.6, 0.8]; torch [0.59999990, 0.79999983] "
                   "(its epsilon); all report n = 5.",
                _ALL, ("run", "published"),
                (_CLIPPING + "test_row_1_three_four_clipped_to_one",
                 _PUBLISHED + "test_torch_clip_grad_norm_large_gradients_are_clipped_to_max_norm")),
    Observation(2, "n == c (g = [3, 4], c = 5): torch shrinks by c/(c + 1e-6); TensorFlow leaves g (c·(1/c)); "
                   "optax takes its clip branch; Pascanu's test $n \\ge c$ clips.",
                _ALL, ("source", "run"), (_CLIPPING + "test_row_2_at_n_equal_to_c",)),
    Observation(3, "Zero gradients, c > 0: unchanged everywhere.",
                _ALL, ("run",), (_CLIPPING + "test_row_3_zero_gradients_are_unchanged",)),
    Observation(4, "Zero gradients, c = 0: torch gives zeros (NaN in float16, where 1/(0 + 1e-6) is ∞); "
                   "TensorFlow NaN; optax NaN (0/0); Keras ignores $c \\le 0$.",
                _ALL, ("run",), (_CLIPPING + "test_row_4_zero_gradients_at_c_zero",
                                 _CLIPPING + "test_row_4_torch_in_float16_gives_nan_where_float32_gives_zeros")),
    Observation(5, "c < 0: torch and optax flip the sign ([−0.6, −0.8]); TensorFlow's global clip leaves g; "
                   "`tf.clip_by_norm` gives zeros; Keras ignores it.",
                _ALL, ("run",), (_CLIPPING + "test_row_5_negative_threshold",)),
    Observation(6, "c = +∞: torch and optax leave g; TensorFlow 2.21 gives NaN (∞·0), and so does Keras.",
                _ALL, ("run",), (_CLIPPING + "test_row_6_infinite_threshold",)),
    Observation(7, "An infinite entry: torch returns n = ∞ and [nan, 0] (∞·0); with `error_if_nonfinite=True` "
                   "it raises and leaves the gradients as they were; TensorFlow's global clip turns every "
                   "entry NaN.",
                ("torch", "tensorflow"), ("run", "published"),
                (_CLIPPING + "test_row_7_an_infinite_entry",
                 _PUBLISHED + "test_torch_clip_grad_norm_error_if_nonfinite")),
    Observation(8, "A NaN entry: NaN everywhere, in every framework.",
                _ALL, ("run",), (_CLIPPING + "test_row_8_a_nan_entry",)),
    Observation(9, "float32 [3e20, 4e20]: the norm 5e20 fits, but the squares overflow: torch's n is ∞ and the "
                   "gradients become zeros; TensorFlow gives NaN.",
                ("torch", "tensorflow", "optax"), ("run",), (_CLIPPING + "test_row_9_squares_overflow_float32",)),
    Observation(10, "float16 [300]×1000: torch's norm is 9488 (it accumulates in float32) and it clips right; "
                    "TensorFlow gives NaN and optax zeros ($300^2$ is ∞ in float16).",
                ("torch", "tensorflow", "optax"), ("run",), (_CLIPPING + "test_row_10_float16_squares_overflow",)),
    Observation(11, "Empty input, or every gradient None: torch returns 0.0 (and warns once on an exhausted "
                    "generator); its `clip_grad_value_` raises; TensorFlow returns ([], 0.0); Keras raises.",
                _ALL, ("run", "published"),
                (_CLIPPING + "test_row_11_nothing_to_clip",
                 _CLIPPING + "test_row_11_torch_warns_once_on_an_empty_generator_and_value_clipping_raises",
                 _PUBLISHED + "test_torch_clip_grad_norm_warns_once_on_an_exhausted_generator",
                 _PUBLISHED + "test_keras_empty_gradients")),
    Observation(12, "$g_1 = [3, 4]$, $g_2 = [12]$, c = 1: the global scale 1/13 gives [0.2308, 0.3077], [0.9231]; "
                    "Keras's `clipnorm` clips each variable alone: [0.6, 0.8], [1.0].",
                _ALL, ("run", "published"),
                (_CLIPPING + "test_row_12_global_against_per_variable",
                 _PUBLISHED + "test_keras_clip_norm_value_and_global_norm")),
    Observation(13, "torch's norm types: p = 1 on [3, −4] gives 7; ∞ gives 4; p = 0.5 on [1, 1] gives 4; "
                    "p = −2 gives 2.4; p = 0 on [3, 0, −4] gives 1 (it counts non-zero array norms); 'fro' "
                    "raises; an empty gradient with p = ±∞ raises.",
                ("torch",), ("run", "source"),
                (_CLIPPING + "test_row_13_torch_norm_types", _CLIPPING + "test_row_13_what_each_convention_refuses")),
    Observation(14, "float32 and float64 gradients together: torch promotes the norm to float64; TensorFlow "
                    "raises (`tf.stack` of mixed dtypes).",
                ("torch", "tensorflow"), ("run",), (_CLIPPING + "test_row_14_mixed_dtypes",)),
    Observation(15, "Clipping by value with c < 0: torch and optax set every entry to c, TensorFlow to −c; "
                    "c = 0 gives zeros (−0.0 for negative entries); NaN entries stay NaN.",
                ("torch", "tensorflow", "optax"), ("run", "published"),
                (_CLIPPING + "test_row_15_value_clipping", _CLIPPING + "test_value_clipping_as_the_libraries_returned_it",
                 _PUBLISHED + "test_torch_clip_grad_value", _PUBLISHED + "test_tensorflow_clip_by_value")),
    Observation(16, "Sparse gradients: torch raises NotImplementedError; TensorFlow's IndexedSlices with "
                    "repeated indices are clipped by the norm of their values.",
                ("torch", "tensorflow"), ("run",), (_CLIPPING + "test_row_16_sparse_gradients_are_refused",)),
    Observation(17, "A bare tensor and a one-element list give identical results in torch; None gradients "
                    "are skipped.",
                ("torch",), ("run", "published"),
                (_CLIPPING + "test_row_17_bare_array_and_none",
                 _PUBLISHED + "test_torch_clip_grad_norm_takes_a_single_tensor")),
    Observation(18, "Flush to zero: TensorFlow's and XLA's CPU kernels count subnormal operands and results "
                    "as zeros of their sign (entries, squares, products, thresholds). float32 "
                    "[1e-39, −2e-39], c = 1: TensorFlow gives [0, −0]; float32 [9e-20]×100, c = 1.8e-19: the "
                    "norm is 0 and g stays; Keras's `clipnorm=1e-38` on [0.0] gives NaN; `optax.clip(1.0)` "
                    "and `tf.clip_by_value` map 3.92e-41 to 0. torch keeps subnormals.",
                _ALL, ("run", "live"),
                (_CLIPPING + "test_tensorflow_keras_and_optax_flush_subnormals_to_zero_on_the_cpu",
                 _LIVE + "test_tensorflow_clip_by_global_norm", _LIVE + "test_optax_clip_by_global_norm")),
    Observation(19, "optax divides by multiplying: XLA computes t/n as t·(1/n) for leaves of more than one "
                    "entry (one-entry leaves keep the division): float32 [1, 6], c = 1 gives "
                    "[0.16439898, 0.98639393], the quotient 0.98639387.",
                ("optax",), ("run", "live"),
                (_CLIPPING + "test_optax_divides_by_multiplying_with_the_reciprocal",
                 _LIVE + "test_optax_clip_by_global_norm")),
    Observation(20, "TensorFlow adds float16 in float16: float16 [0.1]×1000, c = 1 gives the norm 3.162 and "
                    "0.03162 in TensorFlow and Keras (optax's `jnp.sum` accumulates in float32: 3.16).",
                ("tensorflow", "keras", "optax"), ("run", "live"),
                (_CLIPPING + "test_tensorflow_adds_float16_in_float16", _LIVE + "test_keras_norm_clipping")),
    Observation(21, "torch rounds its epsilon 1e-6 to float16 (1.0133e-6) before adding it to a float16 norm: "
                    "float16 [0.00012123584747314453], c = 1e-4 gives 9.912e-5.",
                ("torch",), ("run", "live"),
                (_CLIPPING + "test_torch_quirks_reproduced_here_too", _LIVE + "test_torch_clip_grad_norm_")),
    Observation(22, "torch's `clip_grad_value_` on float16 raises for a finite |c| > 65504 (\"value cannot be "
                    "converted to type c10::Half without overflow\"), on the CPU.",
                ("torch",), ("run", "live"),
                (_CLIPPING + "test_torch_quirks_reproduced_here_too", _LIVE + "test_torch_clip_grad_value_")),
    Observation(23, "optax, small cases: with x64 the norm of an all-None list is float64; `optax.clip(-0.0)` "
                    "keeps −0.0; value clipping accepts an all-None list.",
                ("optax",), ("run", "live"), (_CLIPPING + "test_optax_small_cases", _LIVE + "test_value_clipping")),
    Observation(24, "TensorFlow converts a Python number to a constant through a cache keyed by its value, and "
                    "0.0 == −0.0: within one process, whichever zero came first stands for both, so a threshold "
                    "of −0.0 gives a result that depends on what ran before. Checked in fresh processes only.",
                ("tensorflow",), ("run",), (_LIVE + "test_tensorflow_zero_thresholds_in_fresh_processes",)),
    Observation(25, "27 fixed cases, every convention by norm and by value: Eigen's split into halves (20,003 "
                    "float32, 9,001 float64 and 3,203 float16 entries, at offsets that are not whole packets), "
                    "sums whose last bits depend on the order, squares that overflow, flushed subnormals, ∞, "
                    "NaN, ±0, thresholds of 0, −0, ∞ and a subnormal, mixed dtypes: each library's norm, bit "
                    "for bit, and its clipped arrays.",
                _ALL, ("recorded", "live"),
                (_CLIPPING + "test_the_model_gives_what_the_libraries_gave_on_the_recorded_cases",
                 _LIVE + "test_the_libraries_still_give_the_recorded_results")),
)


def observation(number: int) -> Observation:
    """The row ``number`` (a KeyError naming it if there is none)."""
    for row in OBSERVATIONS:
        if row.number == number:
            return row
    raise KeyError(f"no observed row {number}; rows are 1 to {len(OBSERVATIONS)}")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown() -> str:
    """The evidence as Markdown: the releases, each framework's formula, then every row."""
    lines = ["## Appendix: the frameworks as observed", "",
             "What each framework was seen to do, the evidence `gradproofs.clipping` and its tests cite as "
             "\"observed row N\" (`gradproofs/clipping/observations.py`). Releases:", ""]
    lines += [f"- {framework}: {release}" for framework, release in RELEASES.items()]
    lines += ["", "Each framework's formula, read in its source ($n$ the norm, $c$ the threshold):", ""]
    header, *rows = FORMULAS
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]
    lines += ["", "How a row was observed: " + "; ".join(f"*{key}*, {text}" for key, text in HOW.items()) + ".",
              "", "| row | observed | frameworks | how | tests |", "|---|---|---|---|---|"]
    for row in OBSERVATIONS:
        tests = "<br>".join(f"`{test}`" for test in row.tests)
        lines.append(f"| {row.number} | {_cell(row.observed)} | {', '.join(row.frameworks)} | "
                     f"{', '.join(row.how)} | {tests} |")
    return "\n".join(lines)

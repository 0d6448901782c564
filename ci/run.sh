#!/usr/bin/env bash
# What CI runs, from a clean clone. First the newcomer's path: the README's two Quick-start
# commands as written, in a fresh virtual environment with neither extra and without MathJax.
# Then the full stage: a fresh virtual environment, the CPU build of torch first, the project
# with its plots and frameworks extras, MathJax (Node), the README's test command, the
# differential properties against the live libraries, the opt-in checks, then verify, the
# derivations' staleness check and the report.
set -euo pipefail
cd "$(dirname "$0")/.."

# The README's Quick start as written there: each command in a shell of its own, whose status is
# that of its last step, so that a failing install fails CI too.
mapfile -t quick_start < <(bash ci/quick_start.sh)
if [ "${#quick_start[@]}" -ne 2 ]; then
  echo "ci: the README's Quick start should be two commands, read ${#quick_start[@]}" >&2
  exit 1
fi
newcomer="$(mktemp -d)"
python3 -m venv "$newcomer/venv"
(
  # shellcheck disable=SC1091
  source "$newcomer/venv/bin/activate"
  python -m pip install --quiet --upgrade pip
  python -m pip install --quiet torch==2.13.0  # the CPU build (the README: PyTorch's CPU wheel index)
  for command in "${quick_start[@]}"; do
    echo "ci: $command"
    bash -c "$command"
  done
)
rm -rf "$newcomer"
echo "ci: the newcomer's path (the Quick start without extras) done at ${SECONDS} s"

venv="${GRADPROOFS_VENV:-.venv}"
rm -rf "$venv"
python3 -m venv "$venv"
# shellcheck disable=SC1091
source "$venv/bin/activate"
python -m pip install --quiet --upgrade pip
python -m pip install --quiet torch==2.13.0          # the CPU build, before anything can pull a CUDA one
# The frameworks extra (TensorFlow, Keras, jax, optax) after the CPU torch: the clipping conventions
# are checked against these libraries and their autodiff joins the engines (without it those tests skip).
python -m pip install --quiet -c ci/constraints.txt ".[plots,frameworks]"
# MathJax 3 for tests/test_derivations_render.py (typesets every formula of derivations/ as GitHub does)
npm install --silent --no-save --prefix ci mathjax-full@3.2.2
echo "ci: installed in ${SECONDS} s"

# The README's test command, the Quick start's second:
bash -c "${quick_start[1]}"
echo "ci: the README's test command done at ${SECONDS} s"

# The demonstrations left out of the default run: planted bugs caught, the command line, the figures.
python -m pytest -m "slow and not thorough"
echo "ci: the slow demonstrations done at ${SECONDS} s"

# Every clipping convention against its library, 3,000 drawn cases per function.
python -m pytest -m "differential and not thorough" --hypothesis-profile gradproofs-differential
echo "ci: the differential properties done at ${SECONDS} s"

# The opt-in checks: correct implementations in every precision pass 1000 examples per check,
# a bug only the longest sequences show is caught in at least 99 of 100 runs, and the clipping
# oracle passes the libraries themselves (1000 examples each).
python -m pytest tests/test_oracle_precision.py --hypothesis-profile gradproofs-thorough
python -m pytest -m thorough --hypothesis-profile gradproofs-thorough
echo "ci: the thorough checks done at ${SECONDS} s"

gradproofs verify
gradproofs derive --check
gradproofs report --out "$(mktemp -d)"
echo "ci: done in ${SECONDS} s"

#!/usr/bin/env bash
# What CI runs, from a clean clone: a fresh virtual environment, the CPU build
# of torch first, the project with its test and plots extras, the README's test
# command, the main job, the frameworks extra and its checks, then the
# derivations' staleness check and the report.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${GRADPROOFS_VENV:-.venv}"
rm -rf "$venv"
python3 -m venv "$venv"
# shellcheck disable=SC1091
source "$venv/bin/activate"
python -m pip install --quiet --upgrade pip
python -m pip install --quiet torch==2.13.0          # the CPU build, before anything can pull a CUDA one
python -m pip install --quiet -c ci/constraints.txt ".[plots]"

# The README's test command, verbatim (tests/test_readme.py keeps the two equal):
pip install -c ci/constraints.txt ".[test]" && python -m pytest

# The frameworks extra (TensorFlow, Keras, jax, optax), after the CPU torch, and every clipping
# convention against its library, 3,000 drawn cases per function (without the extra these skip).
python -m pip install --quiet -c ci/constraints.txt ".[frameworks]"
python -m pytest -m "differential and not thorough" --hypothesis-profile differential

# The opt-in checks: correct implementations in every precision pass 1000 examples per check,
# a bug only the longest sequences show is caught in at least 99 of 100 runs, and the clipping
# oracle passes the libraries themselves (1000 examples each).
python -m pytest tests/test_oracle_precision.py --hypothesis-profile thorough
python -m pytest -m thorough --hypothesis-profile thorough

gradproofs verify
gradproofs derive --check
gradproofs report --out "$(mktemp -d)"

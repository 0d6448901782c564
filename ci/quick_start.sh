#!/usr/bin/env bash
# Prints the README's Quick start, the commands of its first sh block, one a line, as written there.
set -euo pipefail
awk '/^```sh$/ {inside = 1; next} inside && /^```$/ {exit} inside' "$(dirname "$0")/../README.md"

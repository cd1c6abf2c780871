#!/usr/bin/env bash
# Create .venv (if missing) and install harness into it with its test tools. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${HARNESS_VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
"$venv/bin/python" -m pip install --quiet -e '.[test]'
echo "harness installed in $venv: $("$venv/bin/harness" --version)"

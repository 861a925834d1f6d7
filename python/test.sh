#!/usr/bin/env bash
# Builds the Python package (maturin, through pip) into a fresh virtual environment,
# target/py, and runs its tests; the comparisons with the command line need the release
# binary that `cargo test --release` builds first.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv --clear target/py
target/py/bin/pip install -q './python[test]'
target/py/bin/python -m pytest -q -p no:cacheprovider --import-mode=importlib python/tests

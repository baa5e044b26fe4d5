#!/usr/bin/env bash
# Set up the project's virtualenv and run every check CI runs: ruff, mypy, pytest, and the
# policy tests again with the minimum declared versions (scripts/test_min_versions.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
bash scripts/test_min_versions.sh

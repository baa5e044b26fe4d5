#!/usr/bin/env bash
# Run the policy tests once more with the lowest versions pyproject.toml declares for the
# libraries the packs run on (pulumi, pulumi-policy, pydantic), in .venv-min/. It reuses pip's
# cache; tests/policy/test_sdk_schema.py is left out (it reads the provider SDKs, whose own
# floors are not what this run checks).
set -euo pipefail
cd "$(dirname "$0")/.."
pins=$(sed -nE 's/^ *"(pulumi|pulumi-policy|pydantic)>=([0-9.]+).*/\1==\2/p' pyproject.toml)
test "$(echo "$pins" | wc -l)" -eq 3 || { echo "error: floors not found in pyproject.toml" >&2; exit 1; }
python3 -m venv .venv-min
pip=(.venv-min/bin/python -m pip install --quiet --disable-pip-version-check)
# shellcheck disable=SC2086
"${pip[@]}" $pins pyyaml jsonschema "pytest>=8" "pytest-timeout>=2.3"
"${pip[@]}" --no-deps -e .
echo "policy tests with $(echo $pins)"
.venv-min/bin/python -m pytest -q -p no:cacheprovider tests/policy \
  --ignore=tests/policy/test_sdk_schema.py

#!/usr/bin/env bash
# Set up the project's virtualenv and preview a stack offline with all three policy packs.
# Usage: scripts/preview.sh [STACK] [extra `inferstack preview` flags]   (default stack: onprem-prod)
set -euo pipefail
cd "$(dirname "$0")/.."
stack="${1:-onprem-prod}"
shift || true
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
exec .venv/bin/inferstack preview --stack "$stack" \
  --policy-pack policy_packs/baseline --policy-pack policy_packs/hipaa --policy-pack policy_packs/gdpr "$@"

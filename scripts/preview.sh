#!/usr/bin/env bash
# Set up the project's virtualenv and preview a stack offline with the policy packs its
# compliance frameworks call for (baseline always; hipaa and gdpr when the stack names them).
# Usage: scripts/preview.sh [STACK] [extra `inferstack preview` flags]   (default stack: onprem-prod)
set -euo pipefail
cd "$(dirname "$0")/.."
stack="${1:-onprem-prod}"
shift || true
config="stacks/Pulumi.${stack}.yaml"
if [ ! -f "$config" ]; then
  echo "error: no stack '$stack' (no $config); stacks: $(ls stacks | sed -n 's/^Pulumi\.\(.*\)\.yaml$/\1/p' | tr '\n' ' ')" >&2
  exit 2
fi

# Install only the extra of the stack's target (onprem and jetson: kubernetes), as its descriptor
# in components/inferstack/targets.py names it; that module needs nothing but the standard
# library, so it is read before anything is installed.
extra=$(PYTHONPATH=components python3 - "$config" <<'EOF'
import re
import sys

from inferstack import targets

with open(sys.argv[1], encoding="utf-8") as file:
    found = re.search(r"^\s*inferstack:target:\s*[\"']?([\w-]+)", file.read(), re.MULTILINE)
target = targets.REGISTRY.get(found[1]) if found else None
print(target.extra if target else "all")  # the preview names the problem after a full install
EOF
)

# Install (again) only when the project's dependencies changed since this extra's last install.
stamp=".venv/.inferstack-installed-$extra"
if [ ! -x .venv/bin/python ] || [ ! -f "$stamp" ] || ! cmp -s pyproject.toml "$stamp"; then
  echo "setting up .venv: pip install -e '.[$extra]' for stack $stack (pip's progress follows)" >&2
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install --disable-pip-version-check --progress-bar off -e ".[$extra]" >&2
  cp pyproject.toml "$stamp"
  echo "setup done" >&2
fi

packs=$(.venv/bin/python - "$config" <<'EOF'
import sys

from inferstack.deployment import load_stack_config

frameworks = load_stack_config(sys.argv[1], check_target=False).deployment.compliance.frameworks
print(" ".join(["baseline", *[f for f in ("hipaa", "gdpr", "owasp-llm") if f in frameworks]]))
EOF
)
args=()
for pack in $packs; do args+=(--policy-pack "policy_packs/$pack"); done
echo "previewing $stack offline with packs: $packs" >&2
exec .venv/bin/inferstack preview --stack "$stack" "${args[@]}" "$@"

"""The guard's parts of a serving pod: its checkpoint staged in the device cache, its import.

The guard checkpoint (:mod:`inferstack.jetson.guard`) is fetched by an init container with the
fleet's fetch image and the Hub token, once per revision and device; the server's start-up
script imports it into Ollama's store, quantized, next to the main model.
"""

from __future__ import annotations

from typing import Any

from inferstack.jetson import gateway
from inferstack.jetson.guard import GUARD_FILES, GUARD_QUANTIZE, GuardPlan
from inferstack.jetson.site import Site
from inferstack.kubernetes import pod
from inferstack.kubernetes.layout import MODEL_MOUNT
from inferstack.kubernetes.plan import ServingPlan
from inferstack.kubernetes.runtime_data import env, secret_env

Manifest = dict[str, Any]

# Fetch the guard checkpoint's files at its pinned revision into the device cache (once).
_GUARD_DOWNLOAD = """\
set -eu
if [ -e "$GUARD_DIR/.complete" ]; then exit 0; fi
mkdir -p "$GUARD_DIR"
if [ -n "${HF_TOKEN:-}" ]; then set -- -H "Authorization: Bearer $HF_TOKEN"; else set --; fi
hub="${HF_ENDPOINT:-https://huggingface.co}"
for file in $GUARD_FILES; do
  curl -fL --retry 5 --connect-timeout 30 --speed-limit 1024 --speed-time 300 "$@" \\
    -o "$GUARD_DIR/$file.part" "$hub/$GUARD_REPO/resolve/$GUARD_REVISION/$file"
  mv "$GUARD_DIR/$file.part" "$GUARD_DIR/$file"
done
touch "$GUARD_DIR/.complete"
"""


def guard_dir(guard: GuardPlan) -> str:
    """Where the guard checkpoint lives in the device cache: one directory per revision."""
    return f"{MODEL_MOUNT}/guard/{guard.repo.lower().replace('/', '-')}/{guard.revision}"


def guard_env(guard: GuardPlan) -> list[Manifest]:
    """What the server's import step needs to create the guard model in Ollama's store."""
    return [
        env("GUARD_DIR", guard_dir(guard)),
        env("GUARD_MODEL", guard.ollama_name),
        env("GUARD_CONTEXT", str(guard.context)),
        env("GUARD_QUANTIZE", GUARD_QUANTIZE),
    ]


def guard_fetch_container(
    site: Site, sp: ServingPlan, guard: GuardPlan, image: str, mount: Manifest
) -> Manifest:
    """Stage the guard checkpoint in the device cache, with the fetch image and the Hub token."""
    token = [secret_env("HF_TOKEN", sp.hf_token)] if sp.hf_token is not None else []
    variables = [
        env("GUARD_DIR", guard_dir(guard)),
        env("GUARD_REPO", guard.repo),
        env("GUARD_REVISION", guard.revision),
        env("GUARD_FILES", " ".join(GUARD_FILES)),
        *token,
        *site.mirror_env(),
    ]
    return {
        "name": "guard-download",
        "image": site.image(image),
        "imagePullPolicy": "IfNotPresent",
        "command": ["sh", "-c", _GUARD_DOWNLOAD],
        "env": [env("TMPDIR", "/tmp"), *variables],
        "resources": {
            "requests": {"cpu": "100m", "memory": "64Mi"},
            "limits": {"cpu": "1", "memory": "256Mi"},
        },
        "securityContext": pod.container_security_context(),
        "volumeMounts": [mount, {"name": gateway.SCRATCH_VOLUME, "mountPath": "/tmp"}],
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }

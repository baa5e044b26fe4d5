"""The init container's scripts that fill the model cache before the server starts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from inferstack.kubernetes.layout import HUB_CACHE, OLLAMA_DIR
from inferstack.kubernetes.runtime_data import (
    ServerCommand,
    env,
    gguf_path,
    model_location,
    secret_env,
)

if TYPE_CHECKING:
    from inferstack.kubernetes.plan import ServingPlan

_HF_DOWNLOAD = """\
import os
from huggingface_hub import snapshot_download

snapshot_download(
    repo_id=os.environ["MODEL_REPO"],
    revision=os.environ.get("MODEL_REVISION") or None,
    ignore_patterns=["original/*", "*.pth"],
)
"""

_GGUF_DOWNLOAD = """\
set -eu
dest="$MODEL_FILE"
if [ -s "$dest" ]; then exit 0; fi
mkdir -p "$(dirname "$dest")"
if [ -n "${HF_TOKEN:-}" ]; then set -- -H "Authorization: Bearer $HF_TOKEN"; else set --; fi
hub="${HF_ENDPOINT:-https://huggingface.co}"
file=$(curl -fsSL --connect-timeout 30 --max-time 300 "$@" \\
  "$hub/api/models/$MODEL_REPO/tree/$MODEL_REVISION" \\
  | tr ',' '\\n' | sed -n 's/.*"path": *"\\([^"]*\\)".*/\\1/p' \\
  | grep -i "$MODEL_QUANT\\.gguf\\$" | head -n 1)
if [ -z "$file" ]; then echo "no *$MODEL_QUANT.gguf in $MODEL_REPO@$MODEL_REVISION" >&2; exit 1; fi
curl -fL --retry 5 --connect-timeout 30 --speed-limit 1024 --speed-time 300 "$@" \\
  -o "$dest.part" "$hub/$MODEL_REPO/resolve/$MODEL_REVISION/$file"
mv "$dest.part" "$dest"
"""

_OLLAMA_PULL = """\
set -eu
ollama serve >/tmp/ollama-pull.log 2>&1 &
server=$!
tries=0
until ollama list >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -ge 120 ]; then cat /tmp/ollama-pull.log >&2; exit 1; fi
  sleep 1
done
ollama pull "$OLLAMA_PULL"
kill "$server"
"""


def download_command(plan: ServingPlan) -> ServerCommand | None:
    """The init container's command that fills the model cache; None when nothing downloads.

    It runs in the runtime's own image (already pulled for the server), with the Hub token,
    which the server itself never receives.
    """
    ref = plan.model
    if not ref.downloads:
        return None
    assert ref.repo is not None
    token = [secret_env("HF_TOKEN", plan.hf_token)] if plan.hf_token is not None else []
    quiet = [env("HF_HUB_DISABLE_TELEMETRY", "1"), env("DO_NOT_TRACK", "1")]
    if plan.runtime == "ollama":
        variables = [
            env("OLLAMA_MODELS", OLLAMA_DIR),
            env("OLLAMA_PULL", model_location(ref, "ollama")),
        ]
        return ServerCommand(["sh", "-c"], [_OLLAMA_PULL], [*variables, *quiet])
    if plan.runtime == "llamacpp":
        return gguf_download_command(plan)
    variables = [
        env("MODEL_REPO", ref.repo),
        env("MODEL_REVISION", ref.revision or ""),
        env("HF_HUB_CACHE", HUB_CACHE),
    ]
    return ServerCommand(["python3", "-c"], [_HF_DOWNLOAD], [*variables, *token, *quiet])


def gguf_download_command(plan: ServingPlan) -> ServerCommand:
    """Fetch the GGUF file of ``plan.model``'s quantization into :func:`gguf_path`.

    A POSIX shell script around curl: it runs in any image that has both, and it honours
    ``HF_ENDPOINT`` as huggingface_hub does, so a site's hub mirror serves the file.
    """
    ref = plan.model
    assert ref.repo is not None
    variables = [
        env("MODEL_REPO", ref.repo),
        env("MODEL_REVISION", ref.revision or "main"),
        env("MODEL_QUANT", ref.quant or ""),
        env("MODEL_FILE", gguf_path(ref)),
    ]
    token = [secret_env("HF_TOKEN", plan.hf_token)] if plan.hf_token is not None else []
    quiet = [env("HF_HUB_DISABLE_TELEMETRY", "1"), env("DO_NOT_TRACK", "1")]
    return ServerCommand(["sh", "-c"], [_GGUF_DOWNLOAD], [*variables, *token, *quiet])

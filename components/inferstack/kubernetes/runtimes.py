"""What differs between serving runtimes: command lines, environment, model download, metrics."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from inferstack.kubernetes.layout import GGUF_DIR, HUB_CACHE, MODEL_MOUNT, OLLAMA_DIR

if TYPE_CHECKING:
    from inferstack.deployment import ModelSpec, SecretRef
    from inferstack.kubernetes.plan import ServingPlan

Manifest = dict[str, Any]

SUPPORTED_RUNTIMES = ("vllm", "tgi", "ollama", "llamacpp")
GGUF_RUNTIMES = ("ollama", "llamacpp")
# Marlin kernels need compute capability 8.0 (Ampere) or newer.
PRE_AMPERE_GPUS = frozenset({"T4", "V100", "V100-16GB", "V100-32GB"})


@dataclass(frozen=True)
class ModelRef:
    """Where the weights come from, resolved from ``model.source`` (default ``hf://<id>``)."""

    scheme: Literal["hf", "pvc"]
    served_name: str
    repo: str | None = None
    revision: str | None = None
    claim: str | None = None
    path: str = ""
    quant: str | None = None  # GGUF quantization tag, e.g. Q4_K_M

    @property
    def downloads(self) -> bool:
        """Weights fetched by an init container (pvc:// sources are already on a volume)."""
        return self.scheme == "hf"


def model_ref(model: ModelSpec) -> ModelRef:
    source = model.source or f"hf://{model.id}"
    scheme, rest = source.split("://", 1)
    quant = model.dtype.removeprefix("gguf-").upper() if model.dtype.startswith("gguf-") else None
    if scheme == "pvc":
        claim, _, path = rest.partition("/")
        return ModelRef("pvc", model.id, claim=claim, path=path.strip("/"), quant=quant)
    repo, _, revision = rest.partition("@")
    return ModelRef("hf", model.id, repo=repo, revision=revision or None, quant=quant)


def model_location(ref: ModelRef, runtime: str) -> str:
    """What the server is told to load."""
    if ref.scheme == "pvc":
        return f"{MODEL_MOUNT}/{ref.path}".rstrip("/")
    assert ref.repo is not None
    if runtime == "llamacpp":
        return gguf_path(ref)
    if runtime == "ollama":
        return f"hf.co/{ref.repo}:{ref.quant}"
    # vLLM and TGI resolve the repo id from the hub cache the init container filled.
    return ref.repo


def gguf_path(ref: ModelRef) -> str:
    """The cached GGUF file of ``ref``: one file per repository, revision and quantization.

    Caches outlive releases (a device cache, a shared PVC): a path without the revision would
    keep serving whichever revision was fetched first.
    """
    assert ref.repo is not None
    return f"{GGUF_DIR}/{_slug(ref.repo)}/{ref.revision or 'main'}/{ref.quant or 'model'}.gguf"


def env(name: str, value: str) -> Manifest:
    return {"name": name, "value": value}


def secret_env(name: str, secret: SecretRef) -> Manifest:
    """An env var read from an existing Secret at pod start: never a literal in the manifest."""
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret.name, "key": secret.key}}}


@dataclass(frozen=True)
class ServerCommand:
    command: list[str]
    args: list[str]
    env: list[Manifest]


def server_command(plan: ServingPlan) -> ServerCommand:
    """The server's command line and environment for ``plan.runtime``."""
    builders = {"vllm": _vllm, "tgi": _tgi, "ollama": _ollama, "llamacpp": _llamacpp}
    return builders[plan.runtime](plan)


# Telemetry that would leave the cluster; and with weights on the volume, no Hub access at all.
_OFFLINE = [
    env("HF_HUB_OFFLINE", "1"),
    env("HF_HUB_DISABLE_TELEMETRY", "1"),
    env("DO_NOT_TRACK", "1"),
]


def _vllm(plan: ServingPlan) -> ServerCommand:
    ref = plan.model
    args = [
        "--model", model_location(ref, "vllm"),
        "--served-model-name", ref.served_name,
        "--host", "0.0.0.0",
        "--port", str(plan.port),
        "--max-model-len", str(plan.context),
        "--max-num-seqs", str(plan.concurrency),
        "--gpu-memory-utilization", f"{plan.gpu_memory_utilization:g}",
        "--tensor-parallel-size", str(plan.gpu_count),
        *_vllm_dtype(plan.dtype, plan.gpu_type),
    ]  # fmt: skip
    if ref.revision:
        args += ["--revision", ref.revision]
    variables = [*_OFFLINE, env("VLLM_NO_USAGE_STATS", "1"), env("HF_HUB_CACHE", HUB_CACHE)]
    if plan.api_key is not None:
        variables.append(secret_env("VLLM_API_KEY", plan.api_key))
    command = ["python3", "-m", "vllm.entrypoints.openai.api_server"]
    return ServerCommand(command, [*args, *plan.extra_args], variables)


def _vllm_dtype(dtype: str, gpu_type: str) -> list[str]:
    marlin = "" if gpu_type in PRE_AMPERE_GPUS else "_marlin"
    return {
        "bf16": ["--dtype", "bfloat16"],
        "fp16": ["--dtype", "float16"],
        "fp8": ["--quantization", "fp8"],
        # Pre-quantized int8 (W8A8) checkpoints declare their scheme; vLLM reads it.
        "int8": ["--dtype", "auto"],
        "int4-awq": ["--quantization", f"awq{marlin}"],
        "int4-gptq": ["--quantization", f"gptq{marlin}"],
    }[dtype]


def _tgi(plan: ServingPlan) -> ServerCommand:
    ref = plan.model
    args = [
        "--model-id", model_location(ref, "tgi"),
        "--hostname", "0.0.0.0",
        "--port", str(plan.port),
        "--max-input-tokens", str(plan.context - 1),
        "--max-total-tokens", str(plan.context),
        "--max-concurrent-requests", str(plan.concurrency),
        "--num-shard", str(plan.gpu_count),
        "--cuda-memory-fraction", f"{plan.gpu_memory_utilization:g}",
        "--payload-limit", str(plan.max_request_bytes),
        "--usage-stats", "off",
        *{
            "bf16": ["--dtype", "bfloat16"],
            "fp16": ["--dtype", "float16"],
            "fp8": ["--quantize", "fp8"],
            "int8": [],  # read from the checkpoint's quantization_config
            "int4-awq": ["--quantize", "awq"],
            "int4-gptq": ["--quantize", "gptq"],
        }[plan.dtype],
    ]  # fmt: skip
    if ref.revision:
        args += ["--revision", ref.revision]
    variables = [*_OFFLINE, env("HF_HUB_CACHE", HUB_CACHE), env("HUGGINGFACE_HUB_CACHE", HUB_CACHE)]
    if plan.api_key is not None:
        variables.append(secret_env("API_KEY", plan.api_key))
    return ServerCommand(["text-generation-launcher"], [*args, *plan.extra_args], variables)


def _ollama(plan: ServingPlan) -> ServerCommand:
    pvc = plan.model.scheme == "pvc"
    models = model_location(plan.model, "ollama") if pvc else OLLAMA_DIR
    variables = [
        env("OLLAMA_HOST", f"0.0.0.0:{plan.port}"),
        env("OLLAMA_MODELS", models),
        env("OLLAMA_CONTEXT_LENGTH", str(plan.context)),
        env("OLLAMA_NUM_PARALLEL", str(plan.concurrency)),
        env("OLLAMA_MAX_QUEUE", str(plan.concurrency * 8)),
        env("OLLAMA_MAX_LOADED_MODELS", "1"),
        # Keep the model in GPU memory: unloading on idle adds a reload to the next request.
        env("OLLAMA_KEEP_ALIVE", "-1"),
        env("DO_NOT_TRACK", "1"),
    ]
    return ServerCommand(["ollama"], ["serve", *plan.extra_args], variables)


def _llamacpp(plan: ServingPlan) -> ServerCommand:
    # llama-server splits -c across its -np slots: give each slot the full context.
    args = [
        "-m", model_location(plan.model, "llamacpp"),
        "--alias", plan.model.served_name,
        "--host", "0.0.0.0",
        "--port", str(plan.port),
        "-c", str(plan.context * plan.concurrency),
        "-np", str(plan.concurrency),
        "-ngl", "999",
        "--metrics",
        # The bundled web UI would be a second, unaudited way in.
        "--no-webui",
    ]  # fmt: skip
    variables = [env("DO_NOT_TRACK", "1")]
    if plan.api_key is not None:
        variables.append(secret_env("LLAMA_API_KEY", plan.api_key))
    return ServerCommand(["/app/llama-server"], [*args, *plan.extra_args], variables)


# -- model download (init container) ---------------------------------------------------------

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


# -- metrics ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuntimeMetrics:
    """Prometheus series a runtime exports. Tuples hold a name and the names it had before
    (vLLM renamed some between releases); queries try each with ``or``."""

    running: tuple[str, ...]
    waiting: tuple[str, ...]
    kv_cache_usage: tuple[str, ...] = ()
    ttft_bucket: tuple[str, ...] = ()
    tpot_bucket: tuple[str, ...] = ()
    generation_tokens: tuple[str, ...] = ()
    prompt_tokens: tuple[str, ...] = ()
    requests: tuple[str, ...] = ()


RUNTIME_METRICS: dict[str, RuntimeMetrics] = {
    "vllm": RuntimeMetrics(
        running=("vllm:num_requests_running",),
        waiting=("vllm:num_requests_waiting",),
        kv_cache_usage=("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"),
        ttft_bucket=("vllm:time_to_first_token_seconds_bucket",),
        tpot_bucket=(
            "vllm:inter_token_latency_seconds_bucket",
            "vllm:time_per_output_token_seconds_bucket",
        ),
        generation_tokens=("vllm:generation_tokens_total",),
        prompt_tokens=("vllm:prompt_tokens_total",),
        requests=("vllm:request_success_total",),
    ),
    "tgi": RuntimeMetrics(
        running=("tgi_batch_current_size",),
        waiting=("tgi_queue_size",),
        tpot_bucket=("tgi_request_mean_time_per_token_duration_bucket",),
        generation_tokens=("tgi_request_generated_tokens_sum",),
        prompt_tokens=("tgi_request_input_length_sum",),
        requests=("tgi_request_success",),
    ),
    "llamacpp": RuntimeMetrics(
        running=("llamacpp:requests_processing",),
        waiting=("llamacpp:requests_deferred",),
        kv_cache_usage=("llamacpp:kv_cache_usage_ratio",),
        generation_tokens=("llamacpp:tokens_predicted_total",),
        prompt_tokens=("llamacpp:prompt_tokens_total",),
    ),
    # Ollama exports no Prometheus metrics.
}


def series(names: tuple[str, ...], selector: str) -> str:
    """``name{selector}``, or ``(a{selector} or b{selector})`` across renamed metrics."""
    if not names:
        raise ValueError("no metric names")
    parts = [f"{name}{{{selector}}}" for name in names]
    return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"


def rate(names: tuple[str, ...], selector: str, window: str) -> str:
    """``rate(name{selector}[window])``, across renamed metrics with ``or``."""
    if not names:
        raise ValueError("no metric names")
    parts = [f"rate({name}{{{selector}}}[{window}])" for name in names]
    return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"


def _slug(repo: str) -> str:
    return re.sub(r"[^a-z0-9.-]+", "-", repo.lower()).strip("-")

"""The server's command line and environment, per serving runtime."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from inferstack.kubernetes.layout import HUB_CACHE, OLLAMA_DIR
from inferstack.kubernetes.runtime_data import ServerCommand, env, model_location, secret_env

if TYPE_CHECKING:
    from inferstack.kubernetes.plan import ServingPlan

Manifest = dict[str, Any]

# Marlin kernels need compute capability 8.0 (Ampere) or newer.
PRE_AMPERE_GPUS = frozenset({"T4", "V100", "V100-16GB", "V100-32GB"})

# vLLM's --tool-call-parser per model family (vLLM docs, "Tool Calling"), matched on the id.
TOOL_CALL_PARSERS: tuple[tuple[str, str], ...] = (
    ("llama-4", "llama4_pythonic"),
    ("llama-3", "llama3_json"),
    ("mixtral", "mistral"),
    ("mistral", "mistral"),
    ("ministral", "mistral"),
    ("qwen", "hermes"),
    ("hermes", "hermes"),
    ("granite", "granite"),
    ("deepseek-v3", "deepseek_v3"),
    ("gpt-oss", "openai"),
)
TOOL_PARSER_FLAG = "--tool-call-parser"


def tool_call_parser(model_id: str) -> str | None:
    """vLLM's tool-call parser for a model id; None when its family is not known here."""
    lowered = model_id.lower()
    return next((parser for key, parser in TOOL_CALL_PARSERS if key in lowered), None)


def _declared(plan: ServingPlan, runtime: str) -> list[str]:
    """The flags of serving.trust_remote_code and serving.tool_calling (checked beforehand)."""
    flags = ["--trust-remote-code"] if plan.trust_remote_code else []
    if plan.tool_calling and runtime == "vllm":
        flags.append("--enable-auto-tool-choice")
        given = any(arg.split("=", 1)[0] == TOOL_PARSER_FLAG for arg in plan.extra_args)
        parser = tool_call_parser(plan.model.served_name) or tool_call_parser(plan.model.repo or "")
        if not given and parser is not None:
            flags += [TOOL_PARSER_FLAG, parser]
    if plan.tool_calling and runtime == "llamacpp":
        # llama-server parses tool calls with the model's chat template.
        flags.append("--jinja")
    return flags


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
    args += _revision_and_kv_cache(plan)
    args += _declared(plan, "vllm")
    variables = [*_OFFLINE, env("VLLM_NO_USAGE_STATS", "1"), env("HF_HUB_CACHE", HUB_CACHE)]
    if plan.api_key is not None:
        variables.append(secret_env("VLLM_API_KEY", plan.api_key))
    if plan.otlp_traces_endpoint is not None:
        args += ["--otlp-traces-endpoint", plan.otlp_traces_endpoint]
        variables += _otel_env(plan, protocol="grpc")
    command = ["python3", "-m", "vllm.entrypoints.openai.api_server"]
    return ServerCommand(command, [*args, *plan.extra_args], variables)


def _revision_and_kv_cache(plan: ServingPlan) -> list[str]:
    """The flags vLLM and TGI spell alike: the pinned revision, and an FP8 KV cache."""
    args = ["--revision", plan.model.revision] if plan.model.revision else []
    if plan.kv_cache_dtype == "fp8":
        args += ["--kv-cache-dtype", "fp8"]
    return args


def _otel_env(plan: ServingPlan, *, protocol: str) -> list[Manifest]:
    """The OpenTelemetry SDK settings of a runtime that exports to the collector.

    The collector is the one place traces are sampled (whole traces, the same choice on every
    replica): the runtime follows the caller's decision when one comes with the request and
    otherwise sends every span to the collector, which is in-cluster and cheap to reach.
    """
    return [
        env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", protocol),
        env("OTEL_SERVICE_NAME", plan.names.base),
        env("OTEL_TRACES_SAMPLER", "parentbased_always_on"),
    ]


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
    args += _revision_and_kv_cache(plan)
    # TGI's Messages API takes tools without a flag.
    args += _declared(plan, "tgi")
    variables = [*_OFFLINE, env("HF_HUB_CACHE", HUB_CACHE), env("HUGGINGFACE_HUB_CACHE", HUB_CACHE)]
    if plan.api_key is not None:
        variables.append(secret_env("API_KEY", plan.api_key))
    if plan.otlp_traces_endpoint is not None:
        # TGI exports over gRPC and names its service itself.
        args += ["--otlp-endpoint", plan.otlp_traces_endpoint]
        args += ["--otlp-service-name", plan.names.base]
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
        *_declared(plan, "llamacpp"),
    ]  # fmt: skip
    variables = [env("DO_NOT_TRACK", "1")]
    if plan.api_key is not None:
        variables.append(secret_env("LLAMA_API_KEY", plan.api_key))
    return ServerCommand(["/app/llama-server"], [*args, *plan.extra_args], variables)

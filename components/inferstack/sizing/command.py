"""``inferstack fit``: will a model fit the hardware, as its runtime decides at startup."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from inferstack import targets

EXIT_OK = 0
EXIT_VIOLATION = 1


def register(commands: Any) -> None:
    """Add ``fit`` to the CLI's subcommands (``argparse._SubParsersAction``)."""
    fit = commands.add_parser(
        "fit",
        help="check that a model fits the hardware (memory, context, concurrency)",
        description=(
            "Size one replica as its runtime decides at startup: vLLM, TGI and LMI start when "
            "their KV budget holds one max-length sequence (more concurrent sequences queue); "
            "llama.cpp and Ollama allocate every slot's context up front. Exit 0 fits, 1 does "
            "not, 2 invalid input."
        ),
    )
    fit.add_argument("--model", metavar="ID", help="catalog or locked model id, alias or bare name")
    fit.add_argument(
        "--model-config",
        metavar="PATH",
        help="a private model's config.json or directory, instead of a catalog id",
    )
    fit.add_argument("--target", required=True, choices=targets.NAMES, help="deployment target")
    fit.add_argument(
        "--instance-type",
        metavar="T",
        help="SKU, GPU model (onprem) or Jetson module; default: the cheapest that fits",
    )
    fit.add_argument(
        "--dtype",
        default="bf16",
        metavar="D",
        help="weight format: bf16 fp16 fp8 int8 int4-awq int4-gptq gguf-q4_k_m gguf-q5_k_m "
        "gguf-q8_0 (default bf16)",
    )
    fit.add_argument(
        "--context",
        type=int,
        metavar="N",
        help="tokens per sequence (max_model_len); default as in the spec: min(the model's, 8192)",
    )
    fit.add_argument(
        "--concurrency",
        type=int,
        default=1,
        metavar="N",
        help="sequences in flight (serving.max_concurrency); default 1",
    )
    fit.add_argument(
        "--runtime",
        metavar="R",
        help="vllm tgi lmi ollama llamacpp mlc; default: the target's runtime for the dtype "
        "(vLLM, or Ollama for GGUF)",
    )
    fit.add_argument(
        "--gpu-count",
        type=int,
        metavar="N",
        help="most GPUs per replica (onprem: compute.gpu_count); default: what the hardware has",
    )
    fit.add_argument(
        "--kv-cache-dtype",
        choices=("auto", "fp8"),
        default="auto",
        help="KV-cache format (serving.kv_cache_dtype): auto follows the weights, fp8 halves a "
        "16-bit cache (vLLM --kv-cache-dtype fp8)",
    )
    fit.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    fit.set_defaults(handler=cmd_fit)


def cmd_fit(args: argparse.Namespace) -> int:
    from inferstack import sizing

    args.model = fit_model(args)
    gpu_count = args.gpu_count if targets.get(args.target).hardware == "gpu" else None
    hardware = args.instance_type or sizing.smallest_fitting(
        args.model,
        args.target,
        dtype=args.dtype,
        context=args.context,
        concurrency=args.concurrency,
        runtime=args.runtime,
        gpu_count=gpu_count,
        kv_cache_dtype=args.kv_cache_dtype,
    )
    if hardware is None:
        _print_no_fit(args)
        return EXIT_VIOLATION
    report = sizing.fit(
        args.model,
        args.target,
        hardware,
        dtype=args.dtype,
        context=args.context,
        concurrency=args.concurrency,
        runtime=args.runtime,
        gpu_count=args.gpu_count,
        kv_cache_dtype=args.kv_cache_dtype,
    )
    data: dict[str, Any] = report.to_json()
    if args.format == "json":
        import json

        print(json.dumps(data, indent=2))
    else:
        print(_fit_table(report.summary(), data))
    return EXIT_OK if report.fits else EXIT_VIOLATION


def fit_model(args: argparse.Namespace) -> Any:
    """The model ``fit`` sizes: a catalog or locked id, or a ModelInfo from --model-config."""
    if args.model_config is None:
        if not args.model:
            raise ValueError("give --model ID (catalog or locked) or --model-config PATH")
        return args.model
    from inferstack.catalog.config import model_from_config

    path = Path(args.model_config)
    if not path.exists():
        raise ValueError(f"--model-config {path} does not exist; give a config.json or directory")
    return model_from_config(path, model_id=args.model)


def _print_no_fit(args: argparse.Namespace) -> None:
    from inferstack import sizing

    runtime = args.runtime or sizing.default_runtime(args.target, args.dtype)
    context = args.context or sizing.default_context(args.model)
    if args.format == "json":
        import json

        keys = ("memory_gb", "usable_gb", "tensor_parallel", "smallest_fitting")
        rest = ("max_context", "max_concurrency", "decode_tokens_per_s_ceiling")
        evaluated = {
            "target": args.target,
            "hardware": None,
            "runtime": runtime,
            "context": context,
            "concurrency": args.concurrency,
            "kv_cache_tokens": 0,
        }
        print(json.dumps({"fits": False, **dict.fromkeys(keys + rest), **evaluated}, indent=2))
        return
    print(
        f"No {args.target} hardware in the catalog fits {_model_name(args.model)} "
        f"({args.dtype} on {runtime}, context {context}, concurrency {args.concurrency})."
    )


def _model_name(model: Any) -> str:
    return str(getattr(model, "id", model))


def _fit_table(summary: str, data: dict[str, Any]) -> str:
    memory = data.get("memory_gb") or {}
    rows = [
        ("hardware", data.get("hardware")),
        ("runtime", data.get("runtime")),
        ("context", data.get("context")),
        ("concurrency", data.get("concurrency")),
        ("weights", _gb(memory.get("weights"))),
        ("kv cache", _gb(memory.get("kv_cache"))),
        ("overhead", _gb(memory.get("overhead"))),
        ("total", _gb(memory.get("total"))),
        ("usable", _gb(data.get("usable_gb"))),
        ("tensor parallel", data.get("tensor_parallel")),
        ("kv cache tokens", data.get("kv_cache_tokens")),
        ("max context", data.get("max_context")),
        ("max concurrency", data.get("max_concurrency")),
        ("decode ceiling", _rate(data.get("decode_tokens_per_s_ceiling"))),
        ("smallest fitting", data.get("smallest_fitting") or "none"),
    ]
    lines = [summary, ""]
    lines.extend(f"  {label:<17} {value}" for label, value in rows if value is not None)
    if data.get("advisory"):
        lines.append(f"  warning: {data['advisory']}")
    lines.extend(f"  fix: {item}" for item in data.get("suggestions") or ())
    return "\n".join(lines)


def _gb(value: Any) -> str | None:
    return None if value is None else f"{float(value):.1f} GB"


def _rate(value: Any) -> str | None:
    return None if value is None else f"{float(value):.0f} tokens/s"

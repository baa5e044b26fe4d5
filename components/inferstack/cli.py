"""The ``inferstack`` command: preview a stack offline, render manifests, size a model.

Exit codes: 0 no mandatory violation (or the model fits); 1 a mandatory violation, or with
``--strict`` a finding unverifiable at preview (or the model does not fit); 2 invalid input,
reported as one ``error:`` line. ``INFERSTACK_DEBUG=1`` re-raises.
Heavy modules (Pulumi, the cloud SDKs) load inside the commands, so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from inferstack import targets

EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_INVALID = 2
REPORT_FORMATS = ("table", "json", "sarif", "markdown")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed usage or help already
        return exc.code if isinstance(exc.code, int) else EXIT_INVALID
    try:
        code: int = args.handler(args)
        return code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (`| head`) went away: stop quietly, as other command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:
        if os.environ.get("INFERSTACK_DEBUG") == "1":
            raise
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return EXIT_INVALID


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("inferstack")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def one_line(exc: BaseException) -> str:
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    text = " ".join(text.split())
    return text or type(exc).__name__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inferstack",
        description="Secure LLM inference stacks: offline preview with policy packs, "
        "Kubernetes manifests, model sizing.",
    )
    parser.add_argument(
        "--version", action="version", version=f"inferstack {_version()}", help="print the version"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    preview = commands.add_parser(
        "preview",
        help="run a stack (or every stack) offline and check it against policy packs",
        description="Run the stack's program under recording mocks and evaluate policy packs "
        "over Pulumi's analyzer protocol, as `pulumi preview --policy-pack` does. With --all, "
        "every stack in the project's stack directory (or each --stack named), each with the "
        "packs its compliance.frameworks call for, in one combined report.",
    )
    which = preview.add_mutually_exclusive_group()
    which.add_argument("--config", metavar="FILE", help="any stack config file (not with --all)")
    preview.add_argument(
        "--stack",
        action="append",
        default=[],
        metavar="NAME",
        help="reads stacks/Pulumi.NAME.yaml; with --all, repeatable to preview only those",
    )
    which.add_argument(
        "--all",
        action="store_true",
        help="preview every stack with baseline plus the packs its compliance.frameworks "
        "name (hipaa, gdpr) and any --policy-pack; each pack process starts once",
    )
    preview.add_argument(
        "--policy-pack",
        action="append",
        default=[],
        metavar="DIR",
        help="policy pack directory (repeatable)",
    )
    preview.add_argument(
        "--policy-pack-config",
        action="append",
        default=[],
        metavar="FILE",
        help="JSON config: policy name (or 'all') -> enforcement level or object; "
        "one for all packs or one per pack",
    )
    preview.add_argument(
        "--format",
        choices=REPORT_FORMATS,
        default="table",
        help="table (default), json, sarif (with --all: a run per stack) or markdown",
    )
    preview.add_argument("--output", metavar="FILE", help="write the report here, not stdout")
    preview.add_argument(
        "--quiet",
        action="store_true",
        help="table format: print only the findings and the verdict line (for CI logs)",
    )
    preview.add_argument(
        "--strict",
        action="store_true",
        help="fail on findings unverifiable at preview: sets every policy's 'unverifiable' "
        "config to 'mandatory' and exits 1 when any is found (for pull-request gates)",
    )
    preview.add_argument(
        "--update",
        action="store_true",
        help="run as `pulumi up` would (mocked outputs known) instead of a preview",
    )
    preview.set_defaults(handler=cmd_preview)

    render = commands.add_parser(
        "render",
        help="write Kubernetes YAML for an onprem or jetson stack",
        description="Run the stack in update mode and write one manifest per Kubernetes object.",
    )
    _stack_arguments(render)
    render.add_argument("--out", required=True, metavar="DIR", help="output directory")
    render.set_defaults(handler=cmd_render)

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

    models = commands.add_parser("models", help="lock the models the stacks deploy")
    actions = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    lock = actions.add_parser(
        "lock",
        help="fetch what sizing needs of each model from the Hugging Face Hub (network)",
        description="Resolve each model's revision on the Hub (HF_TOKEN for gated models, "
        "HF_ENDPOINT for a mirror) and write its config.json, checkpoint bytes, GGUF sizes, "
        "revision and sha256 hashes to the lock, which preview, render and fit read offline.",
    )
    lock.add_argument(
        "models",
        nargs="*",
        metavar="MODEL",
        help="org/name or hf://org/name@revision; default: every model of every stack",
    )
    lock.add_argument("--stacks", metavar="DIR", help="stack configs (default: the project's)")
    lock.add_argument(
        "--output", metavar="FILE", help="lock file (default: models.lock.yaml beside the stacks)"
    )
    lock.set_defaults(handler=cmd_models_lock)
    return parser


def _stack_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--stack", metavar="NAME", help="reads stacks/Pulumi.NAME.yaml")
    which.add_argument("--config", metavar="FILE", help="any stack config file")


# -- preview ---------------------------------------------------------------------------------


def cmd_preview(args: argparse.Namespace) -> int:
    from inferstack.preview.command import preview

    return preview(args)


def stack_config_path(args: argparse.Namespace) -> Path:
    if args.config:
        return Path(args.config)
    from inferstack.preview import StackConfigError, find_project_root

    root = find_project_root(Path.cwd())
    if root is None:
        raise StackConfigError(
            "no Pulumi.yaml in this directory or above; run from the project or use --config FILE"
        )
    directory = root / _stack_config_dir(root)
    path = directory / f"Pulumi.{args.stack}.yaml"
    if not path.is_file():
        known = sorted(
            p.name[len("Pulumi.") : -len(".yaml")] for p in directory.glob("Pulumi.*.yaml")
        )
        hint = f"stacks: {', '.join(known)}" if known else f"no stack configs in {directory}"
        raise StackConfigError(f"stack '{args.stack}' not found: {path} does not exist ({hint})")
    return path


def models_lock_beside(config_path: Path) -> contextlib.AbstractContextManager[None]:
    """Read the models lock beside the stack config while its program runs, when there is one."""
    from inferstack.catalog import lock

    path = config_path.parent / lock.LOCK_FILE
    return lock.use(path) if path.is_file() else contextlib.nullcontext()


def _stack_config_dir(root: Path) -> str:
    import yaml

    project = yaml.safe_load((root / "Pulumi.yaml").read_text(encoding="utf-8")) or {}
    return str(project.get("stackConfigDir", ".")) if isinstance(project, dict) else "."


def _emit(text: str, output: str | None) -> None:
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


# -- render ----------------------------------------------------------------------------------


def cmd_render(args: argparse.Namespace) -> int:
    from inferstack.preview import RenderError, render, run_stack

    config_path = stack_config_path(args)
    with models_lock_beside(config_path):
        run = run_stack(config_path, preview=False)
    written = render(run, args.out)
    if not written:
        raise RenderError(
            f"stack {run.stack} (target {run.target}) registers no Kubernetes objects; "
            "render is for the onprem and jetson targets"
        )
    print(f"wrote {len(written)} manifests to {args.out}")
    for path in written:
        print(f"  {path}")
    return EXIT_OK


# -- fit -------------------------------------------------------------------------------------


def cmd_fit(args: argparse.Namespace) -> int:
    from inferstack import sizing, targets

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


# -- models lock -----------------------------------------------------------------------------


def cmd_models_lock(args: argparse.Namespace) -> int:
    from inferstack.catalog import lock

    stacks = Path(args.stacks) if args.stacks else _project_stacks_dir()
    if args.models:
        refs = [_model_ref(name) for name in args.models]
    else:
        refs = lock.stack_models(stacks)
        if not refs:
            raise lock.LockError(f"no stack config in {stacks} names a model to lock")
    output = Path(args.output) if args.output else stacks / lock.LOCK_FILE
    written = lock.write_lock(output, refs)
    print(f"locked {len(written)} model(s) in {output}")
    for model_id in written:
        print(f"  {model_id}")
    return EXIT_OK


def _model_ref(name: str) -> Any:
    from inferstack.catalog import lock

    if name.startswith("hf://"):
        return lock.ModelRef(lock.parse_source(lock.ModelRef(name, name))[0], name)
    return lock.ModelRef(name)


def _project_stacks_dir() -> Path:
    from inferstack.preview import StackConfigError, find_project_root

    root = find_project_root(Path.cwd())
    if root is None:
        raise StackConfigError(
            "no Pulumi.yaml in this directory or above; run from the project or use --stacks DIR"
        )
    return root / _stack_config_dir(root)


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


if __name__ == "__main__":
    sys.exit(main())

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

from inferstack.catalog import command as models_command
from inferstack.packs import command as packs_command
from inferstack.redteam import command as redteam_command
from inferstack.sizing import command as fit_command

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

    fit_command.register(commands)
    models_command.register(commands)
    packs_command.register(commands)
    redteam_command.register(commands)
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
    directory = root / stack_config_dir(root)
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


def stack_config_dir(root: Path) -> str:
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


if __name__ == "__main__":
    sys.exit(main())

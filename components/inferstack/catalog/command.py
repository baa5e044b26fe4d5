"""``inferstack models lock``: resolve the stacks' models on the Hub into the lock file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from inferstack.subcommands import group_action

EXIT_OK = 0


def register(commands: Any) -> None:
    """Add ``models lock`` to the CLI's subcommands (``argparse._SubParsersAction``)."""
    lock = group_action(
        commands,
        "models",
        "lock the models the stacks deploy",
        "lock",
        summary="fetch what sizing needs of each model from the Hugging Face Hub (network)",
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
    from inferstack.cli import stack_config_dir

    return root / stack_config_dir(root)

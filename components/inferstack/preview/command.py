"""The ``inferstack preview`` command: one stack, or every stack of the project (``--all``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from inferstack.cli import (
    EXIT_OK,
    EXIT_VIOLATION,
    _emit,
    models_lock_beside,
    stack_config_dir,
    stack_config_path,
)


def preview(args: argparse.Namespace) -> int:
    """`inferstack preview`: one stack, or every stack with ``--all``."""
    if args.all:
        return preview_all(args)
    if len(args.stack) > 1:
        raise ValueError("--stack is given more than once: add --all to preview several stacks")
    if not args.stack and not args.config:
        raise ValueError("give --stack NAME, --config FILE, or --all")
    if args.stack and args.config:
        raise ValueError("give --stack NAME or --config FILE, not both")
    from inferstack.preview import Report, analyze, load_pack_config, render_report, run_stack
    from inferstack.preview.plan import stack_plan

    args.stack = args.stack[0] if args.stack else None
    config_path = stack_config_path(args)
    pack_configs = [load_pack_config(path) for path in args.policy_pack_config]
    with models_lock_beside(config_path):
        run = run_stack(config_path, preview=not args.update)
        plan = stack_plan(config_path)
    evaluation = analyze(run, args.policy_pack, pack_configs or None, strict=args.strict)
    report = Report(run, evaluation, strict=args.strict, plan=plan)
    _emit(render_report(report, args.format, quiet=args.quiet), args.output)
    if args.output:
        print(
            f"{report.verdict}: {report.counts_line()} in {len(run.resources)} resources; "
            f"report written to {args.output}"
        )
    return EXIT_VIOLATION if report.failed else EXIT_OK


def preview_all(args: argparse.Namespace) -> int:
    from inferstack.preview import Report, StackConfigError, load_pack_config
    from inferstack.preview.batch import preview_stacks
    from inferstack.preview.reporters.combined import failed, render_combined, verdict_line

    root = find_project_root_or_fail("--config FILE")
    directory = root / stack_config_dir(root)
    known = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in directory.glob("Pulumi.*.yaml"))
    names = list(dict.fromkeys(args.stack)) or known
    if not names:
        raise StackConfigError(f"no stack configs (Pulumi.NAME.yaml) in {directory}")
    for name in names:
        if name not in known:
            raise StackConfigError(
                f"stack '{name}' not found in {directory} (stacks: {', '.join(known)})"
            )
    if len(args.policy_pack_config) > 1:
        raise ValueError(
            "with --all, give one --policy-pack-config: it applies to every pack of every stack"
        )
    pack_configs = [load_pack_config(path) for path in args.policy_pack_config]
    previews = preview_stacks(
        [directory / f"Pulumi.{name}.yaml" for name in names],
        root / "policy_packs",
        [Path(p) for p in args.policy_pack],
        pack_configs or None,
        strict=args.strict,
        preview=not args.update,
    )
    reports = [
        Report(item.run, item.evaluation, strict=args.strict, plan=item.plan) for item in previews
    ]
    _emit(render_combined(reports, args.format, quiet=args.quiet), args.output)
    if args.output:
        print(f"{verdict_line(reports)}; report written to {args.output}")
    return EXIT_VIOLATION if failed(reports) else EXIT_OK


def find_project_root_or_fail(alternative: str) -> Path:
    from inferstack.preview import StackConfigError, find_project_root

    root = find_project_root(Path.cwd())
    if root is None:
        raise StackConfigError(
            f"no Pulumi.yaml in this directory or above; run from the project or use {alternative}"
        )
    return root

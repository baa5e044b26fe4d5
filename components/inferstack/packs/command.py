"""``inferstack packs export``: the packs' command-line face (the CLI registers it)."""

from __future__ import annotations

import argparse
from typing import Any

from inferstack.subcommands import group_action


def register(commands: Any) -> None:
    """Add ``packs export`` to the CLI's subcommands (``argparse._SubParsersAction``)."""
    export = group_action(
        commands,
        "packs",
        "the policy packs, for use in any repository",
        "export",
        summary="write pack directories that `pulumi preview --policy-pack DIR/<pack>` loads",
        description="Write each pack's PulumiPolicy.yaml, __main__.py, config.example.json and "
        "a requirements.txt pinning this inferstack release (no cloud SDK needed).",
    )
    export.add_argument("directory", metavar="DIR", help="where to write one directory per pack")
    export.add_argument(
        "--pack",
        action="append",
        default=[],
        metavar="NAME",
        help="baseline, hipaa, gdpr or owasp-llm (repeatable); default: all four",
    )
    export.set_defaults(handler=export_command)


def export_command(args: argparse.Namespace) -> int:
    from inferstack import packs

    for path in packs.export(args.directory, args.pack):
        print(f"wrote {path}")
    return 0

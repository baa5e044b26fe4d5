"""``inferstack redteam summarize REPORT``: pass rates of a garak run (the CLI registers it)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from inferstack.subcommands import group_action


def register(commands: Any) -> None:
    """Add ``redteam summarize`` to the CLI's subcommands (``argparse._SubParsersAction``)."""
    summarize = group_action(
        commands,
        "redteam",
        "scheduled garak scans: read their reports",
        "summarize",
        summary="pass rates per probe and per OWASP risk from a garak report.jsonl",
        description="Read a garak report.jsonl (from the scan's report store) and print the "
        "pass rate of each probe and of each OWASP risk its probes cover. Prompts and answers "
        "are not read.",
    )
    summarize.add_argument("report", metavar="REPORT", help="a garak <prefix>.report.jsonl")
    summarize.add_argument(
        "--format", choices=("table", "json"), default="table", help="output format"
    )
    summarize.add_argument("--output", metavar="FILE", help="write to FILE instead of stdout")
    summarize.set_defaults(handler=summarize_command)


def summarize_command(args: argparse.Namespace) -> int:
    from inferstack.redteam.report import render_json, render_table, summarize

    summary = summarize(Path(args.report))
    text = render_json(summary) if args.format == "json" else render_table(summary)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    return 0

"""``preview --all``: one report over many stacks, in every format.

- table: each stack's table, then a stack x pack summary and one verdict line;
- json: ``{"stacks": [<one --format json object per stack>], "summary": {...}}``;
- sarif: one SARIF log with a run per stack (each run's ``automationDetails.id`` names it);
- markdown: a summary table for a pull-request comment, then each stack's plan and findings
  (the per-stack control tables stay in ``--stack NAME --format markdown``: ten of them would
  not fit a comment).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from inferstack.preview.reporters.common import Report
from inferstack.preview.reporters.json_report import json_document
from inferstack.preview.reporters.markdown import render_markdown
from inferstack.preview.reporters.sarif import sarif_document
from inferstack.preview.reporters.table import render_table

RULE = "=" * 100


def failed(reports: Sequence[Report]) -> list[str]:
    """Names of the stacks that block a deployment."""
    return [report.run.stack for report in reports if report.failed]


def pack_counts(report: Report) -> dict[str, dict[str, int]]:
    """Per pack that ran on the stack: its mandatory, advisory and unverifiable findings."""
    counts = {
        pack.name: {"mandatory": 0, "advisory": 0, "unverifiable": 0}
        for pack in report.evaluation.packs
    }
    for finding in report.violations:
        level = "mandatory" if finding.enforcement == "mandatory" else "advisory"
        for pack in finding.packs:
            counts.setdefault(pack, {"mandatory": 0, "advisory": 0, "unverifiable": 0})
            counts[pack][level] += 1
    for finding in report.unverifiable:
        for pack in finding.packs:
            counts.setdefault(pack, {"mandatory": 0, "advisory": 0, "unverifiable": 0})
            counts[pack]["unverifiable"] += 1
    return counts


def summary(reports: Sequence[Report]) -> dict[str, Any]:
    totals = {"resources": 0, "mandatory": 0, "advisory": 0, "unverifiable": 0}
    for report in reports:
        for key, value in report.summary().items():
            totals[key] += value
    return {
        "stacks": len(reports),
        "failed": failed(reports),
        **totals,
        "packs": {report.run.stack: pack_counts(report) for report in reports},
    }


def verdict_line(reports: Sequence[Report]) -> str:
    bad = failed(reports)
    data = summary(reports)
    text = (
        f"{'FAIL' if bad else 'PASS'}: {len(reports)} stacks, {len(bad)} failed; "
        f"{data['mandatory']} mandatory, {data['advisory']} advisory violations, "
        f"{data['unverifiable']} unverifiable at preview in {data['resources']} resources"
    )
    return f"{text} (failed: {', '.join(bad)})" if bad else text


def render_combined(reports: Sequence[Report], fmt: str = "table", *, quiet: bool = False) -> str:
    if fmt == "table":
        return render_combined_table(reports, quiet=quiet)
    if fmt == "json":
        document = {"stacks": [json_document(r) for r in reports], "summary": summary(reports)}
        return json.dumps(document, indent=2) + "\n"
    if fmt == "sarif":
        return json.dumps(combined_sarif(reports), indent=2) + "\n"
    if fmt == "markdown":
        return render_combined_markdown(reports)
    raise ValueError(f"unknown report format '{fmt}' (use one of table, json, sarif, markdown)")


def combined_sarif(reports: Sequence[Report]) -> dict[str, Any]:
    if not reports:
        return {"version": "2.1.0", "runs": []}
    documents = [sarif_document(report) for report in reports]
    head = documents[0]
    return {
        "$schema": head["$schema"],
        "version": head["version"],
        "runs": [run for document in documents for run in document["runs"]],
    }


# -- table -----------------------------------------------------------------------------------


def render_combined_table(reports: Sequence[Report], *, quiet: bool = False) -> str:
    parts: list[str] = []
    for report in reports:
        if quiet and not (report.violations or report.unverifiable or report.failed):
            continue
        title = [f"Stack {report.run.stack} ({report.run.target or 'unset'})", ""] if quiet else []
        parts.extend([RULE, *title, render_table(report, quiet=quiet)])
    parts.extend([RULE, *matrix(reports), "", verdict_line(reports)])
    return "\n".join(parts) + "\n"


def pack_cells(reports: Sequence[Report], separator: str) -> tuple[list[str], list[list[str]]]:
    """The packs any stack ran, and per report one cell per pack: its mandatory, advisory and
    unverifiable findings joined by ``separator``, or '-' where the pack did not run."""
    packs = list(dict.fromkeys(p.name for r in reports for p in r.evaluation.packs))
    counts = {report.run.stack: pack_counts(report) for report in reports}
    levels = ("mandatory", "advisory", "unverifiable")
    cells = [
        [
            "-" if found is None else separator.join(str(found[level]) for level in levels)
            for found in (counts[report.run.stack].get(pack) for pack in packs)
        ]
        for report in reports
    ]
    return packs, cells


def matrix(reports: Sequence[Report]) -> list[str]:
    """Stack x pack: mandatory/advisory/unverifiable findings per pack, '-' where it did not run."""
    packs, cells = pack_cells(reports, "/")
    header = ["stack", *packs, "result"]
    rows = [
        [report.run.stack, *row, report.verdict] for report, row in zip(reports, cells, strict=True)
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = [
        "Summary: findings per stack and pack (mandatory/advisory/unverifiable; - not applied)",
        "  " + "  ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True)),
    ]
    lines.extend(
        "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    )
    return [line.rstrip() for line in lines]


# -- markdown --------------------------------------------------------------------------------


def render_combined_markdown(reports: Sequence[Report]) -> str:
    packs, cells_by_report = pack_cells(reports, " / ")
    lines = [
        f"# inferstack preview: {len(reports)} stacks",
        "",
        f"**{verdict_line(reports)}**",
        "",
        "Findings per pack: mandatory / advisory / unverifiable at preview; - where the pack "
        "does not apply to the stack's `compliance.frameworks`.",
        "",
        "| Stack | Target | " + " | ".join(f"`{p}`" for p in packs) + " | Result |",
        "|---|---|" + "---|" * len(packs) + "---|",
    ]
    for report, cells in zip(reports, cells_by_report, strict=True):
        result = "**FAIL**" if report.failed else "PASS"
        lines.append(
            f"| `{report.run.stack}` | {report.run.target or 'unset'} | "
            + " | ".join(cells)
            + f" | {result} |"
        )
    lines.append("")
    for report in reports:
        lines.extend(_stack_section(report))
    return "\n".join(lines).rstrip() + "\n"


def _stack_section(report: Report) -> list[str]:
    plan = report.plan
    lines = [f"## `{report.run.stack}`: {report.verdict}", ""]
    if plan is not None:
        cost = (
            f"${plan.monthly_cost_usd:,.0f}/month"
            if plan.monthly_cost_usd is not None
            else "not priced"
        )
        budget = (
            f" of ${plan.monthly_budget_usd:,.0f}" if plan.monthly_budget_usd is not None else ""
        )
        lines.extend(
            [
                f"{plan.model} ({plan.dtype}) on {plan.hardware}, "
                f"{plan.replicas} warm replica(s), tensor parallel {plan.tensor_parallel}; "
                f"{plan.memory_gb:.1f} of {plan.usable_gb:.1f} GB usable; {cost}{budget}.",
                "",
            ]
        )
    body = render_markdown(report)
    findings = _section(body, "## Findings")
    unknown = _section(body, "## Unverifiable at preview")
    lines.extend(findings or ["No policy violations.", ""])
    lines.extend(unknown)
    packs = " ".join(f"--policy-pack {_shown(p.directory)}" for p in report.evaluation.packs)
    lines.extend(
        [
            f"Controls, framework by framework: `inferstack preview --stack {report.run.stack} "
            f"{packs} --format markdown`.",
            "",
        ]
    )
    return lines


def _shown(directory: Path) -> str:
    """A pack directory as a command line in the project would name it."""
    base = Path.cwd().resolve()
    path = directory.resolve()
    return path.relative_to(base).as_posix() if path.is_relative_to(base) else path.as_posix()


def _section(markdown: str, heading: str) -> list[str]:
    """The lines of one ``## `` section of a per-stack report, heading included."""
    lines = markdown.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(heading)), None)
    if start is None:
        return []
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return ["#" + lines[start], *lines[start + 1 : end]]

"""``--format table``: what a person reads in a terminal, most severe first."""

from __future__ import annotations

import textwrap
from itertools import groupby

from inferstack.preview.reporters.common import Report, resource_label
from inferstack.preview.results import SEVERITIES, Finding, level_rank, severity_rank

WIDTH = 100
INDENT = "      "


def render_table(report: Report) -> str:
    run = report.run
    packs = ", ".join(f"{pack.name}@{pack.version}" for pack in report.evaluation.packs)
    mode = "preview" if run.preview else "update"
    lines = [
        f"Stack {run.stack} (target {run.target or 'unset'}, {mode}): "
        f"{len(run.resources)} resources; policy packs: {packs or 'none'}",
        "",
    ]
    ordered = sorted(
        report.violations, key=lambda f: (severity_rank(f.severity), level_rank(f.enforcement))
    )
    for severity, group in groupby(ordered, key=lambda f: f.severity):
        items = list(group)
        lines.append(f"{severity.upper()} ({len(items)})")
        for finding in items:
            lines.extend(_finding_lines(finding))
        lines.append("")
    if not report.violations:
        lines.extend(["No policy violations.", ""])
    if report.unverifiable:
        lines.append(f"UNVERIFIABLE AT PREVIEW ({len(report.unverifiable)})")
        for finding in report.unverifiable:
            lines.extend(_unverifiable_lines(finding, strict=report.strict))
        lines.append("")
    lines.append(_summary_line(report))
    return "\n".join(lines) + "\n"


def _finding_lines(finding: Finding) -> list[str]:
    marker = "x" if finding.enforcement == "mandatory" else "!"
    lines = [
        f"  {marker} {finding.enforcement:<9} {finding.policy}  [{', '.join(finding.packs)}]",
        f"{INDENT}resource: {resource_label(finding.urn)}",
    ]
    lines.extend(_wrapped(finding.message))
    if finding.controls:
        lines.append(f"{INDENT}controls: {', '.join(finding.controls)}")
    if finding.remediation:
        lines.extend(_wrapped(finding.remediation, label="fix: "))
    return lines


def _unverifiable_lines(finding: Finding, *, strict: bool) -> list[str]:
    blocking = strict or finding.enforcement == "mandatory"
    marker = "x" if blocking else "?"
    level = "mandatory" if blocking else "advisory"
    lines = [
        f"  {marker} {level:<9} {finding.policy}  [{', '.join(finding.packs)}]",
        f"{INDENT}resource: {resource_label(finding.urn)}",
        f"{INDENT}unknown: {finding.path or 'a value the policy reads'}",
    ]
    lines.extend(_wrapped(finding.message))
    if finding.controls:
        lines.append(f"{INDENT}controls: {', '.join(finding.controls)}")
    return lines


def _wrapped(text: str, *, label: str = "") -> list[str]:
    paragraph = " ".join(text.split())
    return textwrap.wrap(
        label + paragraph,
        width=WIDTH,
        initial_indent=INDENT,
        subsequent_indent=INDENT + " " * len(label),
    )


def _summary_line(report: Report) -> str:
    counts = dict.fromkeys(SEVERITIES, 0)
    for finding in report.violations:
        counts[finding.severity] = counts.get(finding.severity, 0) + 1
    by_severity = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    text = f"{report.verdict}: {report.counts_line()} in {len(report.run.resources)} resources"
    return f"{text} ({by_severity})" if by_severity else text

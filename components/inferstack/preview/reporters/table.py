"""``--format table``: what a person reads in a terminal, most severe first."""

from __future__ import annotations

import textwrap
from itertools import groupby

from inferstack.preview.analyzer import SEVERITIES, Violation, severity_rank
from inferstack.preview.reporters.common import Report, resource_label

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
        report.violations,
        key=lambda v: (severity_rank(v.severity), v.enforcement != "mandatory"),
    )
    for severity, group in groupby(ordered, key=lambda v: v.severity):
        items = list(group)
        lines.append(f"{severity.upper()} ({len(items)})")
        for violation in items:
            lines.extend(_violation_lines(violation))
        lines.append("")
    if not report.violations:
        lines.extend(["No policy violations.", ""])
    lines.append(_summary_line(report))
    return "\n".join(lines) + "\n"


def _violation_lines(violation: Violation) -> list[str]:
    marker = "x" if violation.enforcement == "mandatory" else "!"
    lines = [
        f"  {marker} {violation.enforcement:<9} {violation.policy}  [{violation.pack}]",
        f"{INDENT}resource: {resource_label(violation.urn)}",
    ]
    lines.extend(_wrapped(violation.message))
    if violation.controls:
        lines.append(f"{INDENT}controls: {', '.join(violation.controls)}")
    if violation.remediation:
        lines.extend(_wrapped(violation.remediation, label="fix: "))
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
    for violation in report.violations:
        counts[violation.severity] = counts.get(violation.severity, 0) + 1
    by_severity = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    verdict = "FAIL" if report.mandatory else "PASS"
    text = (
        f"{verdict}: {report.mandatory} mandatory, {report.advisory} advisory violations "
        f"in {len(report.run.resources)} resources"
    )
    return f"{text} ({by_severity})" if by_severity else text

"""``--format table``: what a person reads in a terminal.

First the plan (target, region, model, hardware, replicas, fit, cost against the budget), then
the resources grouped by kind with short names, then the findings grouped by policy (each policy
once, with the resources it hit and its fix), then the verdict. ``quiet`` keeps only the
findings and the verdict, for CI logs.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from inferstack.preview.plan import Plan
from inferstack.preview.recorder import STACK_TYPE, CapturedResource
from inferstack.preview.reporters.common import Report, resource_label
from inferstack.preview.results import SEVERITIES, Finding, level_rank, severity_rank

WIDTH = 100
INDENT = "      "


def render_table(report: Report, *, quiet: bool = False) -> str:
    lines = [] if quiet else [_title(report), "", *_plan_lines(report.plan), *_resources(report)]
    lines.extend(_findings(report))
    lines.append(_summary_line(report))
    return "\n".join(lines) + "\n"


def _title(report: Report) -> str:
    run = report.run
    packs = ", ".join(f"{pack.name}@{pack.version}" for pack in report.evaluation.packs)
    mode = "preview" if run.preview else "update"
    return (
        f"Stack {run.stack} (target {run.target or 'unset'}, {mode}): "
        f"{len(run.resources)} resources; policy packs: {packs or 'none'}"
    )


# -- plan ------------------------------------------------------------------------------------


def _plan_lines(plan: Plan | None) -> list[str]:
    if plan is None:
        return []
    rows = [
        ("target", f"{plan.target}, region {plan.region or '-'}"),
        ("model", f"{plan.model} ({plan.dtype} on {plan.runtime})"),
        ("hardware", f"{plan.hardware}; {_count(plan.replicas, 'warm replica')}"),
        ("tensor parallel", str(plan.tensor_parallel)),
        ("fit", _fit(plan)),
        ("monthly cost", _cost(plan)),
    ]
    return ["Plan", *(f"  {label:<16} {value}" for label, value in rows), ""]


def _fit(plan: Plan) -> str:
    text = f"{plan.memory_gb:.1f} of {plan.usable_gb:.1f} GB usable per replica"
    if not plan.fits:
        return f"{text}: does NOT fit"
    return f"{text} ({plan.headroom_gb:.1f} GB headroom)"


def _cost(plan: Plan) -> str:
    if plan.monthly_cost_usd is None:
        return "not priced (owned hardware)" if not plan.priced else "no catalog price"
    text = f"${plan.monthly_cost_usd:,.0f} for {_count(plan.replicas, 'warm replica')}"
    if plan.monthly_budget_usd is None:
        return f"{text} (no cost.monthly_budget_usd)"
    share = plan.monthly_cost_usd / plan.monthly_budget_usd
    return f"{text}, {share:.0%} of the ${plan.monthly_budget_usd:,.0f} budget"


# -- resources -------------------------------------------------------------------------------


def _resources(report: Report) -> list[str]:
    prefix = report.plan.name if report.plan else None
    groups: dict[str, list[str]] = {}
    for resource in report.run.resources:
        if resource.type == STACK_TYPE:
            continue
        groups.setdefault(kind(resource.type), []).append(short_name(resource, prefix))
    if not groups:
        return []
    total = sum(len(names) for names in groups.values())
    lines = [f"Resources ({total})"]
    width = max(len(name) for name in groups)
    for name, members in groups.items():
        # Sorted: the mocks register resources concurrently, so capture order is not stable.
        lines.extend(_wrapped(", ".join(sorted(members)), first=f"  {name:<{width}}  "))
    return [*lines, ""]


def kind(resource_type: str) -> str:
    """``Deployment (kubernetes apps)`` for ``kubernetes:apps/v1:Deployment``."""
    parts = resource_type.split(":")
    if len(parts) != 3:
        return resource_type
    package, module, name = parts
    if package == "pulumi" and module == "providers":
        return f"provider ({name})"
    area = module.split("/")[0]
    where = package if area in ("", "index", package) else f"{package} {area}"
    return f"{name} ({where})"


def short_name(resource: CapturedResource, prefix: str | None) -> str:
    """The resource's name without the deployment name it repeats."""
    name = resource.name
    if not prefix:
        return name
    trimmed = name.removeprefix(f"{prefix}-")
    trimmed = trimmed.replace(f"-{prefix}-", "-")
    return trimmed if trimmed and trimmed != prefix else name


# -- findings --------------------------------------------------------------------------------


def _findings(report: Report) -> list[str]:
    prefix = report.plan.name if report.plan else None
    lines: list[str] = []
    if report.violations:
        lines.append(f"FINDINGS ({len(report.violations)})")
        for group in _by_policy(report.violations):
            lines.extend(_policy_lines(group, prefix))
        lines.append("")
    else:
        lines.extend(["No policy violations.", ""])
    if report.unverifiable:
        lines.append(f"UNVERIFIABLE AT PREVIEW ({len(report.unverifiable)})")
        for group in _by_policy(report.unverifiable):
            lines.extend(_policy_lines(group, prefix, strict=report.strict))
        lines.append("")
    return lines


def _by_policy(findings: Sequence[Finding]) -> list[list[Finding]]:
    """Findings grouped by policy, the blocking and most severe policies first."""
    groups: dict[str, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(finding.policy, []).append(finding)
    return sorted(
        (sorted(items, key=lambda f: f.urn) for items in groups.values()),
        key=lambda items: (
            min(level_rank(f.enforcement) for f in items),
            min(severity_rank(f.severity) for f in items),
            items[0].policy,
        ),
    )


def _policy_lines(group: list[Finding], prefix: str | None, *, strict: bool = False) -> list[str]:
    first = group[0]
    enforcement = min((f.enforcement for f in group), key=level_rank)
    severity = min((f.severity for f in group), key=severity_rank)
    packs = list(dict.fromkeys(pack for f in group for pack in f.packs))
    if first.unverifiable:
        blocking = strict or enforcement == "mandatory"
        marker, level = ("x", "mandatory") if blocking else ("?", "advisory")
    else:
        marker = "x" if enforcement == "mandatory" else "!"
        level = enforcement
    lines = [f"  {marker} {level:<9} {severity:<8} {first.policy}  [{', '.join(packs)}]"]
    labels = [_label(f.urn, prefix) for f in group]
    lines.extend(_wrapped(", ".join(labels), first=f"{INDENT}resources: "))
    messages = list(dict.fromkeys(f.message for f in group))
    if len(messages) == 1:
        lines.extend(_wrapped(_unknown(first) + messages[0]))
    else:
        for label, finding in zip(labels, group, strict=True):
            lines.extend(_wrapped(_unknown(finding) + finding.message, first=f"{INDENT}{label}: "))
    controls = list(dict.fromkeys(c for f in group for c in f.controls))
    if controls:
        lines.append(f"{INDENT}controls: {', '.join(controls)}")
    if first.remediation and not first.unverifiable:
        lines.extend(_wrapped(first.remediation, first=f"{INDENT}fix: "))
    return lines


def _unknown(finding: Finding) -> str:
    if not finding.unverifiable:
        return ""
    return f"unknown: {finding.path or 'a value the policy reads'}. "


def _label(urn: str, prefix: str | None) -> str:
    label = resource_label(urn)
    type_, _, name = label.partition("::")
    if not name:
        return label
    short = name.removeprefix(f"{prefix}-").replace(f"-{prefix}-", "-") if prefix else name
    return f"{kind(type_).split(' (')[0]} {short or name}"


def _wrapped(text: str, *, first: str = INDENT) -> list[str]:
    paragraph = " ".join(text.split())
    return textwrap.wrap(
        paragraph,
        width=WIDTH,
        initial_indent=first,
        subsequent_indent=" " * len(first),
        break_on_hyphens=False,
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _summary_line(report: Report) -> str:
    counts = dict.fromkeys(SEVERITIES, 0)
    for finding in report.violations:
        counts[finding.severity] = counts.get(finding.severity, 0) + 1
    by_severity = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    resources = len(report.run.resources)
    if not report.checked:
        return (
            f"{report.verdict}: no policy pack was applied to the {resources} resources (add "
            "--policy-pack DIR, or `preview --all --stack NAME` for the packs the stack's "
            "compliance.frameworks call for)"
        )
    text = f"{report.verdict}: {report.counts_line()} in {resources} resources"
    return f"{text} ({by_severity})" if by_severity else text

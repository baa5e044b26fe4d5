"""``--format markdown``: a compliance report, framework by framework.

For each control: the policies that serve it, how many resources each checked, and the result:
FAIL, UNVERIFIABLE (a value the policy reads is unknown at preview), PASS, or N/A (no resource
in scope, or the pack declared the policy not applicable, with its reason: a rule its
configuration makes a no-op is N/A, never PASS). Then every finding once, then the unverifiable
ones, then the controls no automated rule serves (they need process evidence).
The control catalog comes from ``inferstack.compliance`` when it is installed; without it the
report lists the controls the packs' policies are tagged with.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from inferstack.preview.reporters.common import Report, resource_label
from inferstack.preview.results import Finding, PolicyInfo

FRAMEWORKS = ("HIPAA", "GDPR", "OWASP")
LEVEL_ORDER = ("mandatory", "remediate", "advisory", "disabled")
CONTROL_STATUSES = ("PASS", "FAIL", "UNVERIFIABLE", "N/A")
Scope = Callable[[str], bool]


@dataclass(frozen=True)
class Control:
    id: str
    framework: str
    title: str = ""
    note: str = ""


@dataclass(frozen=True)
class Catalog:
    controls: tuple[Control, ...]
    # control id -> names of the rules in the library that serve it (packs may hold fewer).
    rules: dict[str, tuple[str, ...]]
    complete: bool
    # rule name -> the resource types it covers, where the library says so.
    scopes: dict[str, Scope] = field(default_factory=dict)
    # framework -> the edition its control ids number by (OWASP Top 10 for LLM Applications 2025).
    editions: dict[str, str] = field(default_factory=dict)


def load_catalog(policies: Iterable[PolicyInfo]) -> Catalog:
    """The library's control catalog, or the controls seen in the policies' tags."""
    seen = sorted({control for policy in policies for control in policy.controls})
    try:
        compliance = importlib.import_module("inferstack.compliance")
        controls, rules = compliance.controls(), compliance.all_rules()
    except ModuleNotFoundError as exc:
        if exc.name not in ("inferstack.compliance", "inferstack"):
            raise
        return Catalog(tuple(Control(c, framework_of(c)) for c in seen), {}, complete=False)
    except AttributeError:
        return Catalog(tuple(Control(c, framework_of(c)) for c in seen), {}, complete=False)
    owasp = importlib.import_module("inferstack.compliance.owasp")
    return build_catalog(controls, rules, seen, {"OWASP": str(owasp.TAG_EDITION_NAME)})


def build_catalog(
    controls: Iterable[Any],
    rules: Iterable[Any],
    seen: Iterable[str] = (),
    editions: dict[str, str] | None = None,
) -> Catalog:
    """A catalog from objects shaped like ``inferstack.compliance``'s controls and rules."""
    items = [
        Control(str(c.id), str(c.framework), str(c.title), str(getattr(c, "note", "") or ""))
        for c in controls
    ]
    known = {control.id for control in items}
    items.extend(Control(c, framework_of(c)) for c in seen if c not in known)
    mapping: dict[str, list[str]] = {}
    scopes: dict[str, Scope] = {}
    for rule in rules:
        for control in rule.controls:
            mapping.setdefault(str(control), []).append(str(rule.name))
        if callable(getattr(rule, "applies_to", None)):
            scopes[str(rule.name)] = rule.applies_to
    return Catalog(
        tuple(items),
        {k: tuple(v) for k, v in mapping.items()},
        complete=True,
        scopes=scopes,
        editions=dict(editions or {}),
    )


def framework_of(control: str) -> str:
    return control.split(" ", 1)[0]


def render_markdown(report: Report, catalog: Catalog | None = None) -> str:
    policies = [p for p in report.evaluation.policies if p.enforcement != "disabled"]
    catalog = catalog or load_catalog(policies)
    lines = _header(report)
    frameworks = [f for f in FRAMEWORKS if any(c.framework == f for c in catalog.controls)]
    frameworks += sorted({c.framework for c in catalog.controls} - set(FRAMEWORKS))
    rows = policy_rows(report, policies, catalog)
    for framework in frameworks:
        controls = [c for c in catalog.controls if c.framework == framework]
        lines.extend(_framework_section(framework, controls, rows, catalog.editions.get(framework)))
    lines.extend(_findings_section(report))
    lines.extend(_unverifiable_section(report))
    lines.extend(_uncovered_section(catalog, policies))
    return "\n".join(lines).rstrip() + "\n"


def _header(report: Report) -> list[str]:
    run = report.run
    packs = ", ".join(f"{p.name} {p.version}" for p in report.evaluation.packs) or "none"
    mode = "preview (values the cloud computes are unknown)" if run.preview else "update (mocked)"
    return [
        f"# Compliance report: stack `{run.stack}`",
        "",
        "| | |",
        "|---|---|",
        f"| Target | {run.target or 'unset'} |",
        f"| Mode | {mode} |",
        f"| Resources | {len(run.resources)} |",
        f"| Policy packs | {packs} |",
        f"| Result | {report.verdict}: {report.counts_line()} |",
        "",
        "Resources checked: the resources of the types a rule covers (per the rule catalog), "
        "less those its pack declared out of scope (`args.not_applicable()`). A rule with none "
        "is N/A, with the pack's reason when it gave one. A rule that could not read a value "
        "unknown at preview is UNVERIFIABLE, never PASS.",
        "",
    ]


@dataclass(frozen=True)
class PolicyRow:
    """One policy (by name, across the packs that hold it) and what it found."""

    name: str
    packs: tuple[str, ...]
    enforcement: str
    checked: int
    status: str
    findings: tuple[Finding, ...]
    controls: tuple[str, ...]
    unverifiable: tuple[Finding, ...] = ()
    reasons: tuple[str, ...] = ()

    @property
    def not_applicable(self) -> bool:
        return self.status.startswith("N/A")


def policy_rows(report: Report, policies: list[PolicyInfo], catalog: Catalog) -> list[PolicyRow]:
    rows = []
    for name in dict.fromkeys(policy.name for policy in policies):
        same = [policy for policy in policies if policy.name == name]
        failures = tuple(f for f in report.violations if f.policy == name)
        unknown = tuple(f for f in report.unverifiable if f.policy == name)
        checked = _checked(report, same, catalog.scopes.get(name))
        reasons = tuple(r for r in report.evaluation.reasons(name) if r)
        if failures:
            status = f"FAIL ({len(failures)})"
        elif unknown:
            status = f"UNVERIFIABLE ({len(unknown)})"
        elif checked:
            status = "PASS"
        else:
            status = f"N/A: {'; '.join(reasons)}" if reasons else "N/A"
        strictest = min(same, key=lambda p: LEVEL_ORDER.index(p.enforcement))
        rows.append(
            PolicyRow(
                name=name,
                packs=tuple(policy.pack for policy in same),
                enforcement=strictest.enforcement,
                checked=checked,
                status=status,
                findings=failures,
                controls=strictest.controls,
                unverifiable=unknown,
                reasons=reasons,
            )
        )
    return rows


def _checked(report: Report, same: list[PolicyInfo], scope: Scope | None) -> int:
    urns: set[str] = set()
    for policy in same:
        urns.update(r.urn for r in report.evaluation.checked(policy, report.run))
    resources = [r for r in report.run.resources if r.urn in urns]
    if scope is not None:
        resources = [r for r in resources if scope(r.type)]
    return len(resources)


def _framework_section(
    framework: str, controls: list[Control], rows: list[PolicyRow], edition: str | None = None
) -> list[str]:
    table: list[str] = []
    statuses: list[str] = []
    for control in controls:
        serving = [row for row in rows if control.id in row.controls]
        if not serving:
            continue
        title = f"**{control.id} {control.title}**".replace(" **", "**")
        if control.note:
            title += f" ({control.note})"
        applicable = [row for row in serving if not row.not_applicable]
        # A rule declared not applicable, with the reason, is shown: it checked nothing.
        shown = [row for row in serving if not row.not_applicable or row.reasons]
        if not applicable and not shown:
            statuses.append("N/A")
            table.append(
                f"| {title} | {_count(len(serving), 'rule')}, none for this stack's resource "
                "types | | | 0 | N/A |"
            )
            continue
        statuses.append(_control_status([row.status for row in applicable]))
        for position, row in enumerate(shown):
            label = title if position == 0 else ""
            table.append(
                f"| {label} | `{row.name}` | {', '.join(row.packs)} | {row.enforcement} "
                f"| {row.checked} | {row.status} |"
            )
    if not table:
        return []
    counts = ", ".join(
        f"{statuses.count(s)} {s.lower()}" for s in CONTROL_STATUSES if statuses.count(s)
    )
    numbering = (
        [f"Edition: {edition} (the control ids); other editions' numbers in brackets.", ""]
        if edition
        else []
    )
    return [
        f"## {framework}",
        "",
        *numbering,
        f"Controls with rules that ran: {len(statuses)} ({counts}).",
        "",
        "| Control | Policy | Packs | Level | Resources checked | Result |",
        "|---|---|---|---|---|---|",
        *table,
        "",
    ]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _control_status(statuses: list[str]) -> str:
    if any(s.startswith("FAIL") for s in statuses):
        return "FAIL"
    if any(s.startswith("UNVERIFIABLE") for s in statuses):
        return "UNVERIFIABLE"
    if any(s == "PASS" for s in statuses):
        return "PASS"
    return "N/A"


def _findings_section(report: Report) -> list[str]:
    """Every violation once, whichever packs and controls it concerns."""
    if not report.violations:
        return []
    return [
        f"## Findings ({len(report.violations)})",
        "",
        *(_finding(f) for f in report.violations),
        "",
    ]


def _unverifiable_section(report: Report) -> list[str]:
    if not report.unverifiable:
        return []
    level = "they fail this run (--strict)" if report.strict else "a reviewer must check them"
    return [
        f"## Unverifiable at preview ({len(report.unverifiable)})",
        "",
        "A value these policies read is unknown until deploy, so preview could not judge it; "
        f"{level}, and `pulumi up` enforces them on the known values.",
        "",
        *(_finding(f) for f in report.unverifiable),
        "",
    ]


def _finding(finding: Finding) -> str:
    where = resource_label(finding.urn)
    text = (
        f"- `{finding.policy}` ({', '.join(finding.packs)}, {finding.enforcement}, "
        f"{finding.severity}) on `{where}`: "
    )
    if finding.unverifiable:
        text += f"`{finding.path or 'a value the policy reads'}` is unknown. "
    text += _sentence(finding.message)
    if finding.controls:
        text += f" Controls: {', '.join(finding.controls)}."
    if finding.remediation and not finding.unverifiable:
        text += f" Fix: {_sentence(finding.remediation)}"
    return text


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _uncovered_section(catalog: Catalog, policies: list[PolicyInfo]) -> list[str]:
    ran = {control for policy in policies for control in policy.controls}
    if not catalog.complete:
        return [
            "## Controls with no automated rule",
            "",
            "The control catalog (`inferstack.compliance`) is not available, so this report "
            "lists only the controls the packs' policies are tagged with.",
            "",
        ]
    without_rule = [c for c in catalog.controls if not catalog.rules.get(c.id)]
    not_run = [c for c in catalog.controls if catalog.rules.get(c.id) and c.id not in ran]
    lines = [
        "## Controls with no automated rule",
        "",
        "These need process and evidence, not code (policies, training, contracts, reviews).",
        "",
        "| Framework | Control | Title |",
        "|---|---|---|",
        *(f"| {c.framework} | {c.id} | {c.title} |" for c in without_rule),
        "",
    ]
    if not_run:
        lines.extend(
            [
                "## Controls whose rules were not in the packs that ran",
                "",
                "| Framework | Control | Rules |",
                "|---|---|---|",
                *(
                    f"| {c.framework} | {c.id} | "
                    f"{', '.join(f'`{r}`' for r in catalog.rules[c.id])} |"
                    for c in not_run
                ),
                "",
            ]
        )
    return lines

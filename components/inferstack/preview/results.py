"""What the packs said, as data: policies, raw diagnostics, and the findings reports show.

A pack's diagnostic is either a violation or an *unverifiable* finding: the policy could not
judge the resource because a value it reads is unknown at preview. The second kind is never a
pass and never a plain violation; it names the property path when the rule gave one.

Reports show one finding per (policy, resource), however many packs raised it: the same rule
ships in the baseline, HIPAA and GDPR packs, and one problem is one line to fix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from pathlib import Path

    from inferstack.preview.program import PreviewRun
    from inferstack.preview.recorder import CapturedResource

# Rules put this before "<property path>: <why>" (inferstack.compliance.model defines the same
# value; a test holds them equal). Kept here so the engine runs any pack without the rule library.
UNVERIFIABLE_MARKER: Final = "unverifiable at preview: "

CONTROL_PREFIXES = ("HIPAA ", "GDPR ", "OWASP ")
PEER_PREFIX = "peer:"
SEVERITIES = ("critical", "high", "medium", "low")
DEFAULT_SEVERITY = "medium"
# What pulumi_policy says when a policy read an unknown value (it then reports ADVISORY, no urn).
CANNOT_RUN_PREFIX = "can't run policy"
_CANNOT_RUN = re.compile(r"^can't run policy '[^']*' from policy pack '[^']*' during preview: ")
# pulumi_policy's own UnknownValueError message names the path it could not read.
_UNKNOWN_AT = re.compile(r"value at \.(\S+) can't be known during preview")


def severity_rank(severity: str) -> int:
    """0 for critical ... 3 for low; unknown severities sort last."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def level_rank(enforcement: str) -> int:
    """0 for mandatory: the level that blocks a deployment sorts first."""
    return 0 if enforcement == "mandatory" else 1


def controls_of(tags: Sequence[str]) -> tuple[str, ...]:
    return tuple(tag for tag in tags if tag.startswith(CONTROL_PREFIXES))


def peers_of(tags: Sequence[str]) -> tuple[str, ...]:
    return tuple(tag.removeprefix(PEER_PREFIX) for tag in tags if tag.startswith(PEER_PREFIX))


@dataclass(frozen=True)
class PolicyInfo:
    """A policy as its pack describes it in GetAnalyzerInfo, with the level it runs at."""

    pack: str
    name: str
    description: str
    enforcement: str
    severity: str
    tags: tuple[str, ...] = ()
    remediation: str = ""
    url: str = ""
    stack_policy: bool = False

    @property
    def controls(self) -> tuple[str, ...]:
        return controls_of(self.tags)

    @property
    def peers(self) -> tuple[str, ...]:
        return peers_of(self.tags)


@dataclass(frozen=True)
class PackInfo:
    name: str
    version: str
    directory: Path
    policies: tuple[PolicyInfo, ...]


@dataclass(frozen=True)
class Violation:
    """One diagnostic a pack reported, joined with its policy's metadata."""

    pack: str
    policy: str
    enforcement: str
    severity: str
    urn: str
    message: str
    controls: tuple[str, ...] = ()
    remediation: str = ""
    description: str = ""
    peers: tuple[str, ...] = ()

    @property
    def skipped_in_preview(self) -> bool:
        """The pack could not run the policy because a value it read was unknown."""
        return self.message.startswith(CANNOT_RUN_PREFIX)

    @property
    def unverifiable(self) -> bool:
        """Unknown at preview: the rule said so (the marker) or could not run at all."""
        return UNVERIFIABLE_MARKER in self.message or self.skipped_in_preview

    @property
    def path(self) -> str:
        """The property path whose value was unknown ("" when the pack did not name one)."""
        _, marker, rest = self.message.partition(UNVERIFIABLE_MARKER)
        if not marker:
            read = _UNKNOWN_AT.search(self.message) if self.skipped_in_preview else None
            return read.group(1) if read else ""
        path, _, _ = rest.partition(": ")
        return path.strip()

    @property
    def explanation(self) -> str:
        """The message without pulumi_policy's "can't run policy ..." preamble or the marker."""
        text = _CANNOT_RUN.sub("", self.message)
        _, marker, rest = text.partition(UNVERIFIABLE_MARKER)
        if marker:
            _, _, why = rest.partition(": ")
            return why.strip() or text
        return text


@dataclass(frozen=True)
class Finding:
    """One (policy, resource): every pack that raised it, at the strictest level among them."""

    policy: str
    urn: str
    packs: tuple[str, ...]
    enforcement: str
    severity: str
    messages: tuple[str, ...]
    controls: tuple[str, ...]
    remediation: str
    description: str
    paths: tuple[str, ...] = ()
    unverifiable: bool = False

    @property
    def pack(self) -> str:
        return self.packs[0]

    @property
    def message(self) -> str:
        return "; ".join(self.messages)

    @property
    def path(self) -> str:
        return ", ".join(self.paths)


def merge_findings(violations: Iterable[Violation]) -> tuple[Finding, ...]:
    """Group diagnostics by (policy, urn) in their order; the strictest level and severity win."""
    groups: dict[tuple[str, str], list[Violation]] = {}
    for violation in violations:
        groups.setdefault((violation.policy, violation.urn), []).append(violation)
    findings = []
    for (policy, urn), items in groups.items():
        strictest = min(items, key=lambda v: (level_rank(v.enforcement), _level_index(v)))
        unverifiable = all(v.unverifiable for v in items)
        if not unverifiable:  # a violation beside an unknown: the violation is the verdict
            items = [v for v in items if not v.unverifiable]
        texts = [v.explanation if unverifiable else v.message for v in items]
        findings.append(
            Finding(
                policy=policy,
                urn=urn,
                packs=tuple(dict.fromkeys(v.pack for v in items)),
                enforcement=strictest.enforcement,
                severity=min((v.severity for v in items), key=severity_rank),
                messages=tuple(dict.fromkeys(texts)),
                controls=tuple(dict.fromkeys(c for v in items for c in v.controls)),
                remediation=strictest.remediation,
                description=strictest.description,
                paths=tuple(dict.fromkeys(v.path for v in items if v.path)),
                unverifiable=unverifiable,
            )
        )
    return tuple(findings)


_LEVELS = ("mandatory", "remediate", "advisory", "disabled")


def _level_index(violation: Violation) -> int:
    return _LEVELS.index(violation.enforcement) if violation.enforcement in _LEVELS else 9


@dataclass(frozen=True)
class NotApplicable:
    """A policy that declared itself not applicable to a resource, and why."""

    pack: str
    policy: str
    urn: str
    reason: str


@dataclass(frozen=True)
class Evaluation:
    """What the packs said about one run."""

    packs: tuple[PackInfo, ...]
    # Every diagnostic, verdicts and unverifiable ones alike, in report order.
    diagnostics: tuple[Violation, ...]
    # (pack, policy) -> URNs the policy declared itself not applicable to.
    not_applicable: Mapping[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    # Each declaration with its reason, in the order the packs answered.
    not_applicable_reasons: tuple[NotApplicable, ...] = ()

    @property
    def violations(self) -> tuple[Violation, ...]:
        """Diagnostics that are verdicts: a rule judged a resource and found it wanting."""
        return tuple(v for v in self.diagnostics if not v.unverifiable)

    @property
    def unverifiable(self) -> tuple[Violation, ...]:
        """Diagnostics of policies that could not judge a value unknown at preview."""
        return tuple(v for v in self.diagnostics if v.unverifiable)

    @property
    def findings(self) -> tuple[Finding, ...]:
        """One per (policy, resource) of the violations, across packs."""
        return merge_findings(self.violations)

    @property
    def unverifiable_findings(self) -> tuple[Finding, ...]:
        """One per (policy, resource) judged by no pack for an unknown value."""
        judged = {(v.policy, v.urn) for v in self.violations}
        return merge_findings(v for v in self.unverifiable if (v.policy, v.urn) not in judged)

    @property
    def policies(self) -> tuple[PolicyInfo, ...]:
        return tuple(policy for pack in self.packs for policy in pack.policies)

    @property
    def mandatory(self) -> int:
        return sum(1 for f in self.findings if f.enforcement == "mandatory")

    @property
    def blocking(self) -> bool:
        """Would `pulumi preview` fail: a mandatory violation, or a mandatory unverifiable."""
        return self.mandatory > 0 or any(
            f.enforcement == "mandatory" for f in self.unverifiable_findings
        )

    def reasons(self, policy: str) -> tuple[str, ...]:
        """Why the packs declared the policy not applicable, each reason once."""
        return tuple(
            dict.fromkeys(n.reason for n in self.not_applicable_reasons if n.policy == policy)
        )

    def checked(self, policy: PolicyInfo, run: PreviewRun) -> list[CapturedResource]:
        """Resources the policy examined: all but those it declared not applicable."""
        skipped = self.not_applicable.get((policy.pack, policy.name), frozenset())
        if policy.stack_policy:  # declared for the whole stack, under the stack's urn
            return [] if skipped else [r for r in run.resources if r.custom]
        return [r for r in run.resources if r.urn not in skipped]

"""``--format sarif``: SARIF 2.1.0 for code-scanning upload in pull requests.

Every result points at line 1 of the stack config (the file a reviewer changes to fix it) and
names the resource by URN as its logical location.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import inferstack
from inferstack.preview.analyzer import PolicyInfo, Violation, severity_rank
from inferstack.preview.reporters.common import Report, config_location

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"mandatory": "error", "advisory": "warning", "remediate": "note"}
# GitHub code scanning ranks alerts by this CVSS-like score (critical >= 9, high >= 7, ...).
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}


def sarif_document(report: Report) -> dict[str, Any]:
    rules = _rules(report)
    index = {rule["id"]: position for position, rule in enumerate(rules)}
    location = config_location(report.run)
    results = [_result(v, index, location) for v in _unique(report.violations)]
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "inferstack",
                        "version": inferstack.__version__,
                        "rules": rules,
                    }
                },
                "automationDetails": {"id": f"inferstack/{report.run.stack}/"},
                "originalUriBaseIds": {
                    "%SRCROOT%": {"description": {"text": "The project root (Pulumi.yaml)."}}
                },
                "results": results,
                "properties": {
                    "stack": report.run.stack,
                    "target": report.run.target,
                    "preview": report.run.preview,
                    "summary": report.summary(),
                },
            }
        ],
    }


def render_sarif(report: Report) -> str:
    return json.dumps(sarif_document(report), indent=2) + "\n"


def _rules(report: Report) -> list[dict[str, Any]]:
    # The same rule may ship in several packs (baseline and hipaa); SARIF wants one rule per id.
    policies: dict[str, PolicyInfo] = {}
    for policy in report.evaluation.policies:
        if policy.enforcement != "disabled":
            policies.setdefault(policy.name, policy)
    for violation in report.violations:
        if violation.policy not in policies:
            policies[violation.policy] = _policy_of(violation)
    return [_rule(policy) for policy in sorted(policies.values(), key=lambda p: p.name)]


def _policy_of(violation: Violation) -> PolicyInfo:
    return PolicyInfo(
        pack=violation.pack,
        name=violation.policy,
        description=violation.description or violation.policy,
        enforcement=violation.enforcement,
        severity=violation.severity,
        tags=violation.controls,
        remediation=violation.remediation,
    )


def _rule(policy: PolicyInfo) -> dict[str, Any]:
    description = policy.description or policy.name
    rule: dict[str, Any] = {
        "id": policy.name,
        "name": _pascal(policy.name),
        "shortDescription": {"text": description},
        "fullDescription": {"text": description},
        "help": {"text": policy.remediation or description},
        "defaultConfiguration": {"level": LEVELS.get(policy.enforcement, "warning")},
        "properties": {
            "tags": list(policy.controls),
            "security-severity": SECURITY_SEVERITY.get(policy.severity, "5.5"),
            "severity": policy.severity,
            "pack": policy.pack,
            "peers": list(policy.peers),
        },
    }
    if policy.url:
        rule["helpUri"] = policy.url
    return rule


def _unique(violations: tuple[Violation, ...]) -> list[Violation]:
    """One result per (policy, resource): the strictest, when several packs report it."""
    chosen: dict[tuple[str, str, str], Violation] = {}
    for violation in violations:
        key = (violation.policy, violation.urn, violation.message)
        current = chosen.get(key)
        if current is None or _strictness(violation) < _strictness(current):
            chosen[key] = violation
    return list(chosen.values())


def _strictness(violation: Violation) -> tuple[int, int]:
    return (0 if violation.enforcement == "mandatory" else 1, severity_rank(violation.severity))


def _result(violation: Violation, index: dict[str, int], location: str) -> dict[str, Any]:
    fingerprint = hashlib.sha256(f"{violation.policy}\n{violation.urn}".encode()).hexdigest()
    return {
        "ruleId": violation.policy,
        "ruleIndex": index[violation.policy],
        "level": LEVELS.get(violation.enforcement, "warning"),
        "message": {"text": _message(violation)},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": location, "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": 1},
                },
                "logicalLocations": [
                    {"fullyQualifiedName": violation.urn, "kind": "resource"},
                ],
            }
        ],
        "partialFingerprints": {"inferstackResource/v1": fingerprint},
        "properties": {
            "pack": violation.pack,
            "enforcement": violation.enforcement,
            "severity": violation.severity,
            "controls": list(violation.controls),
        },
    }


def _message(violation: Violation) -> str:
    resource = violation.urn.rsplit("::", 1)[-1]
    text = f"{violation.message} (resource {resource})"
    if violation.controls:
        text += f" [{', '.join(violation.controls)}]"
    return text


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-") if part)

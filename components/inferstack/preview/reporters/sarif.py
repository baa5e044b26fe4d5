"""``--format sarif``: SARIF 2.1.0 for code-scanning upload in pull requests.

Every result points at line 1 of the stack config (the file a reviewer changes to fix it) and
names the resource by URN as its logical location. One result per (policy, resource), with every
pack that raised it; an unverifiable finding is a result of kind ``review`` (level ``none``, as
SARIF requires for a kind other than ``fail``): a reviewer must check it, nothing passed.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import inferstack
from inferstack.preview.reporters.common import Report, config_location
from inferstack.preview.results import Finding, PolicyInfo

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"mandatory": "error", "advisory": "warning", "remediate": "note"}
# GitHub code scanning ranks alerts by this CVSS-like score (critical >= 9, high >= 7, ...).
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}


def sarif_document(report: Report) -> dict[str, Any]:
    rules = _rules(report)
    index = {rule["id"]: position for position, rule in enumerate(rules)}
    location = config_location(report.run)
    results = [_result(f, index, location) for f in report.violations]
    results += [_result(f, index, location) for f in report.unverifiable]
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
    for finding in (*report.violations, *report.unverifiable):
        if finding.policy not in policies:
            policies[finding.policy] = _policy_of(finding)
    return [_rule(policy) for policy in sorted(policies.values(), key=lambda p: p.name)]


def _policy_of(finding: Finding) -> PolicyInfo:
    return PolicyInfo(
        pack=finding.pack,
        name=finding.policy,
        description=finding.description or finding.policy,
        enforcement=finding.enforcement,
        severity=finding.severity,
        tags=finding.controls,
        remediation=finding.remediation,
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


def _result(finding: Finding, index: dict[str, int], location: str) -> dict[str, Any]:
    fingerprint = hashlib.sha256(f"{finding.policy}\n{finding.urn}".encode()).hexdigest()
    result: dict[str, Any] = {
        "ruleId": finding.policy,
        "ruleIndex": index[finding.policy],
        "level": LEVELS.get(finding.enforcement, "warning"),
        "message": {"text": _message(finding)},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": location, "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": 1},
                },
                "logicalLocations": [
                    {"fullyQualifiedName": finding.urn, "kind": "resource"},
                ],
            }
        ],
        "partialFingerprints": {"inferstackResource/v1": fingerprint},
        "properties": {
            "pack": finding.pack,
            "packs": list(finding.packs),
            "enforcement": finding.enforcement,
            "severity": finding.severity,
            "controls": list(finding.controls),
        },
    }
    if finding.unverifiable:
        result["kind"] = "review"
        result["level"] = "none"
        result["properties"]["path"] = finding.path
    return result


def _message(finding: Finding) -> str:
    resource = finding.urn.rsplit("::", 1)[-1]
    text = finding.message
    if finding.unverifiable:
        unknown = finding.path or "a value the policy reads"
        text = f"unverifiable at preview ({unknown} is unknown): {text}"
    text += f" (resource {resource})"
    if finding.controls:
        text += f" [{', '.join(finding.controls)}]"
    return text


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-") if part)

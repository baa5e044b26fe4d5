"""``--format json``: one object, in the shape DESIGN.md fixes for tools that read it.

``violations`` and ``unverifiable`` hold one entry per (policy, resource); ``pack`` is the first
pack that raised it and ``packs`` all of them. ``plan`` (added) is what the stack deploys, or null.
"""

from __future__ import annotations

import json
from typing import Any

from inferstack.preview.reporters.common import Report
from inferstack.preview.values import to_json


def json_document(report: Report) -> dict[str, Any]:
    run = report.run
    return {
        "stack": run.stack,
        "target": run.target,
        "plan": report.plan.to_json() if report.plan else None,
        "resources": [
            {
                "urn": resource.urn,
                "type": resource.type,
                "name": resource.name,
                "parent": resource.parent,
                "custom": resource.custom,
                "inputs": to_json(resource.inputs),
            }
            for resource in run.resources
        ],
        "violations": [
            {
                "pack": finding.pack,
                "packs": list(finding.packs),
                "policy": finding.policy,
                "enforcement": finding.enforcement,
                "severity": finding.severity,
                "urn": finding.urn,
                "message": finding.message,
                "controls": list(finding.controls),
            }
            for finding in report.violations
        ],
        "unverifiable": [
            {
                "pack": finding.pack,
                "packs": list(finding.packs),
                "policy": finding.policy,
                "urn": finding.urn,
                "path": finding.path,
                "enforcement": finding.enforcement,
                "severity": finding.severity,
                "message": finding.message,
                "controls": list(finding.controls),
            }
            for finding in report.unverifiable
        ],
        "summary": report.summary(),
    }


def render_json(report: Report) -> str:
    return json.dumps(json_document(report), indent=2) + "\n"

"""``--format json``: one object, in the shape DESIGN.md fixes for tools that read it."""

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
                "pack": violation.pack,
                "policy": violation.policy,
                "enforcement": violation.enforcement,
                "severity": violation.severity,
                "urn": violation.urn,
                "message": violation.message,
                "controls": list(violation.controls),
            }
            for violation in report.violations
        ],
        "summary": report.summary(),
    }


def render_json(report: Report) -> str:
    return json.dumps(json_document(report), indent=2) + "\n"

"""Report formats over a real evaluation of the offline project."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import jsonschema
import pytest

from inferstack.preview import Report, analyze, render_report, run_stack
from inferstack.preview.reporters import sarif_document
from inferstack.preview.reporters.markdown import build_catalog, load_catalog, render_markdown

SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"


@pytest.fixture(scope="module")
def report(offline_project: Path, tiny_pack: Path) -> Report:
    run = run_stack(offline_project / "stacks" / "Pulumi.dev.yaml")
    return Report(run, analyze(run, [tiny_pack]))


def test_json_follows_the_contract(report: Report) -> None:
    document = json.loads(render_report(report, "json"))

    assert set(document) == {
        "stack",
        "target",
        "plan",  # added beside DESIGN.md's keys; null for a program that is not a component
        "resources",
        "violations",
        "unverifiable",
        "summary",
    }
    assert document["plan"] is None
    assert (document["stack"], document["target"]) == ("dev", "sagemaker")
    resource_keys = {"urn", "type", "name", "parent", "custom", "inputs"}
    assert all(set(r) == resource_keys for r in document["resources"])
    bucket = next(r for r in document["resources"] if r["type"] == "aws:s3/bucket:Bucket")
    assert bucket["inputs"] == {"bucket": "app-artifacts", "kmsKeyArn": "<computed>"}
    key = next(r for r in document["resources"] if r["type"] == "aws:kms/key:Key")
    assert key["inputs"]["deletionWindowInDays"] == 30
    assert isinstance(key["inputs"]["deletionWindowInDays"], int)
    violation_keys = {"pack", "policy", "enforcement", "severity", "urn", "message", "controls"}
    assert all(set(v) == {*violation_keys, "packs"} for v in document["violations"])
    [unknown] = document["unverifiable"]
    assert (unknown["pack"], unknown["policy"], unknown["path"]) == (
        "tiny",
        "aws-s3-bucket-check-kms-arn",
        "kmsKeyArn",
    )
    assert unknown["urn"].endswith("aws:s3/bucket:Bucket::app-bucket")
    rotation = next(v for v in document["violations"] if v["policy"].endswith("rotation"))
    assert rotation["controls"] == ["HIPAA 164.312(a)(2)(iv)", "GDPR Art. 32"]
    assert document["summary"] == {
        "resources": 4,
        "mandatory": 1,
        "advisory": len(document["violations"]) - 1,
        "unverifiable": 1,
    }


def test_sarif_is_valid_against_the_oasis_schema(report: Report) -> None:
    document = json.loads(render_report(report, "sarif"))
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))

    validator = jsonschema.Draft4Validator(
        schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def test_sarif_rules_results_and_locations(report: Report) -> None:
    run = sarif_document(report)["runs"][0]

    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    rotation = rules["aws-kms-key-enable-rotation"]
    assert rotation["help"]["text"] == "Set enableKeyRotation: true on the key."
    assert rotation["properties"]["tags"] == ["HIPAA 164.312(a)(2)(iv)", "GDPR Art. 32"]
    assert rotation["defaultConfiguration"]["level"] == "error"
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels["aws-kms-key-enable-rotation"] == "error"
    assert levels["aws-kms-key-add-tags"] == "note"
    # Could not run in preview: a result for a reviewer, not a pass and not a failure.
    review = next(r for r in run["results"] if r["ruleId"] == "aws-s3-bucket-check-kms-arn")
    assert (review["kind"], review["level"]) == ("review", "none")
    assert review["properties"]["path"] == "kmsKeyArn"
    result = next(r for r in run["results"] if r["ruleId"] == "aws-kms-key-enable-rotation")
    assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
    [location] = result["locations"]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "stacks/Pulumi.dev.yaml"
    assert location["physicalLocation"]["region"] == {"startLine": 1}
    key = next(r for r in report.run.resources if r.type == "aws:kms/key:Key")
    assert location["logicalLocations"][0]["fullyQualifiedName"] == key.urn


def test_table_groups_findings_by_policy_most_blocking_first(report: Report) -> None:
    text = render_report(report, "table")

    assert text.index("Resources (3)") < text.index("FINDINGS (") < text.index("UNVERIFIABLE AT")
    assert "  Key (aws kms)          app-key" in text.splitlines()  # kind, not the type token
    findings = text[text.index("FINDINGS (") : text.index("UNVERIFIABLE AT")]
    rotation = findings.index("x mandatory high     aws-kms-key-enable-rotation  [tiny]")
    assert rotation < findings.index("! remediate medium   aws-kms-key-add-tags")  # blocking first
    assert "resources: Key app-key" in findings
    assert "fix: Set enableKeyRotation: true on the key." in findings
    assert "aws-s3-bucket-check-kms-arn" not in findings  # could not run: not a violation
    unknown = text[text.index("UNVERIFIABLE AT PREVIEW (1)") :]
    assert "aws-s3-bucket-check-kms-arn  [tiny]" in unknown
    assert "unknown: kmsKeyArn." in unknown
    last = text.rstrip().splitlines()[-1]
    assert last.startswith("FAIL: 1 mandatory, ")
    assert ", 1 unverifiable at preview in " in last
    assert "in 4 resources" in last


def test_markdown_degrades_to_the_controls_in_pack_tags(
    report: Report, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A compliance package without the catalog functions, as while it is being written.
    monkeypatch.setitem(sys.modules, "inferstack.compliance", types.ModuleType("compliance"))

    catalog = load_catalog(report.evaluation.policies)
    text = render_markdown(report)

    assert not catalog.complete
    assert {c.id for c in catalog.controls} == {
        "HIPAA 164.312(a)(2)(iv)",
        "GDPR Art. 32",
        "OWASP LLM10",
    }
    assert "## HIPAA" in text and "## GDPR" in text and "## OWASP" in text
    assert "is not available" in text


def test_markdown_maps_controls_to_policies_resources_and_status(report: Report) -> None:
    controls = [
        types.SimpleNamespace(id="HIPAA 164.312(a)(2)(iv)", framework="HIPAA", title="Encryption"),
        types.SimpleNamespace(
            id="HIPAA 164.308(a)(7)", framework="HIPAA", title="Contingency plan"
        ),
        types.SimpleNamespace(id="GDPR Art. 32", framework="GDPR", title="Security of processing"),
        types.SimpleNamespace(id="GDPR Art. 30", framework="GDPR", title="Records of processing"),
        types.SimpleNamespace(id="OWASP LLM10", framework="OWASP", title="Unbounded consumption"),
    ]
    rules = [
        types.SimpleNamespace(
            name="aws-kms-key-enable-rotation", controls=["HIPAA 164.312(a)(2)(iv)"]
        ),
        types.SimpleNamespace(
            name="aws-s3-bucket-require-kms", controls=["HIPAA 164.312(a)(2)(iv)"]
        ),
        types.SimpleNamespace(name="gcp-kms-key-enable-rotation", controls=["GDPR Art. 30"]),
        types.SimpleNamespace(
            name="stack-limit-resources",
            controls=["OWASP LLM10"],
            applies_to=lambda resource_type: resource_type.startswith("gcp:"),
        ),
        types.SimpleNamespace(name="aws-s3-bucket-check-kms-arn", controls=["GDPR Art. 32"]),
    ]

    text = render_markdown(report, build_catalog(controls, rules))

    hipaa = text[text.index("## HIPAA") : text.index("## GDPR")]
    assert "| **HIPAA 164.312(a)(2)(iv) Encryption** | `aws-kms-key-enable-rotation` |" in hipaa
    assert "| tiny | mandatory | 1 | FAIL (1) |" in hipaa
    assert "| `aws-s3-bucket-require-kms` | tiny | mandatory | 1 | PASS |" in hipaa
    gdpr = text[text.index("## GDPR") : text.index("## OWASP")]
    assert "| `aws-s3-bucket-check-kms-arn` | tiny | advisory | 1 | UNVERIFIABLE (1) |" in gdpr
    assert "Controls with rules that ran: 1 (1 fail)." in gdpr
    owasp = text[text.index("## OWASP") : text.index("## Findings")]
    # The rule's scope (from the catalog) holds no resource of this stack.
    assert (
        "| **OWASP LLM10 Unbounded consumption** | 1 rule, none for this stack's resource types"
        in owasp
    )
    assert "Controls with rules that ran: 1 (1 n/a)." in owasp
    uncovered = text[text.index("## Controls with no automated rule") :]
    assert "| HIPAA | HIPAA 164.308(a)(7) | Contingency plan |" in uncovered
    assert "| GDPR | GDPR Art. 30 | `gcp-kms-key-enable-rotation` |" in uncovered
    assert "OWASP LLM10" not in uncovered


def test_unknown_format_is_rejected(report: Report) -> None:
    with pytest.raises(ValueError, match="unknown report format 'xml'"):
        render_report(report, "xml")


def test_markdown_names_the_owasp_edition_and_the_other_numbers(report: Report) -> None:
    text = render_markdown(report, load_catalog(report.evaluation.policies))

    owasp = text[text.index("## OWASP") : text.index("## Findings")]
    assert "Edition: OWASP Top 10 for LLM Applications 2025 (the control ids)" in owasp
    assert (
        "**OWASP LLM10 Unbounded Consumption** (2023 LLM04 Model Denial of Service, 2026 LLM06)"
        in owasp
    )

"""Unverifiable findings, packs that share a policy, and not-applicable reasons, end to end.

The ``probe`` pack follows the rule library's contract: a policy that cannot judge a value
unknown at preview reports ``unverifiable at preview: <path>: <why>``, through pulumi_policy's
"can't run policy" path (advisory, no urn) by default, or as a violation at the policy's level
when its ``unverifiable`` config property is ``mandatory``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from inferstack.cli import main
from inferstack.compliance import model
from inferstack.preview import PreviewRun, Report, analyze, render_report, run_stack
from inferstack.preview.reporters import sarif_document
from inferstack.preview.results import UNVERIFIABLE_MARKER

PROBE = """
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ResourceValidationPolicy,
    Severity,
)
from pulumi_policy.proxy import UnknownValueError

MARKER = "unverifiable at preview: "
UNVERIFIABLE = {"type": "string", "enum": ["advisory", "mandatory"], "default": "advisory"}


def bucket_key(args, report_violation):
    if args.resource_type != "aws:s3/bucket:Bucket":
        args.not_applicable("buckets only")
    try:
        arn = args.props["kmsKeyArn"]
    except UnknownValueError as error:
        message = MARKER + "kmsKeyArn: the key is created in the same deployment"
        if args.get_config().get("unverifiable") == "mandatory":
            report_violation(message)
            return
        error.message = message
        raise
    if not str(arn).startswith("arn:aws:kms:"):
        report_violation("kmsKeyArn is not a KMS key ARN")


def registries(args, report_violation):
    if not args.get_config().get("allowedRegistries"):
        args.not_applicable("allowedRegistries is empty, so every registry is allowed")
    report_violation("never reached with the default config")


PolicyPack(
    "probe",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        ResourceValidationPolicy(
            name="aws-s3-bucket-require-kms-arn",
            description="Bucket keys are KMS key ARNs.",
            validate=bucket_key,
            severity=Severity.HIGH,
            tags=["HIPAA 164.312(a)(2)(iv)"],
            config_schema=PolicyConfigSchema(properties={"unverifiable": UNVERIFIABLE}),
        ),
        ResourceValidationPolicy(
            name="all-images-registry-restrict-allowed",
            description="Images come from allowed registries.",
            validate=registries,
            severity=Severity.HIGH,
            tags=["HIPAA 164.312(a)(2)(iv)"],
            config_schema=PolicyConfigSchema(
                properties={
                    "allowedRegistries": {"type": "array", "default": []},
                    "unverifiable": UNVERIFIABLE,
                }
            ),
        ),
    ],
)
"""
KEY_ARN = "aws-s3-bucket-require-kms-arn"
REGISTRIES = "all-images-registry-restrict-allowed"


@pytest.fixture
def probe(tmp_path: Path, make_pack: Callable[..., Path]) -> Path:
    return make_pack(tmp_path / "probe", PROBE, name="probe")


@pytest.fixture
def tiny_copy(tmp_path: Path, make_pack: Callable[..., Path], tiny_pack: Path) -> Path:
    source = (tiny_pack / "__main__.py").read_text(encoding="utf-8")
    renamed = source.replace('PolicyPack(\n    "tiny",', 'PolicyPack(\n    "tiny-copy",')
    assert renamed != source
    return make_pack(tmp_path / "tiny-copy", renamed, name="tiny-copy")


@pytest.fixture(scope="module")
def good(offline_project: Path) -> PreviewRun:
    return run_stack(offline_project / "stacks" / "Pulumi.good.yaml", preview=True)


def test_the_marker_is_the_rule_librarys() -> None:
    assert UNVERIFIABLE_MARKER == model.UNVERIFIABLE_MARKER == "unverifiable at preview: "


def test_advisory_unverifiable_is_neither_a_violation_nor_a_pass(
    good: PreviewRun, probe: Path
) -> None:
    evaluation = analyze(good, [probe])

    assert [v.policy for v in evaluation.violations] == []
    [finding] = evaluation.unverifiable_findings
    bucket = next(r.urn for r in good.resources if r.type == "aws:s3/bucket:Bucket")
    assert (finding.pack, finding.policy, finding.urn, finding.path) == (
        "probe",
        KEY_ARN,
        bucket,
        "kmsKeyArn",
    )
    assert finding.enforcement == "advisory"
    assert finding.message == "the key is created in the same deployment"
    assert not evaluation.blocking
    report = Report(good, evaluation)
    assert report.summary()["unverifiable"] == 1
    assert not report.failed


def test_strict_makes_the_pack_report_it_mandatory_and_still_unverifiable(
    good: PreviewRun, probe: Path
) -> None:
    evaluation = analyze(good, [probe], strict=True)

    assert evaluation.violations == ()
    [finding] = evaluation.unverifiable_findings
    assert (finding.policy, finding.enforcement) == (KEY_ARN, "mandatory")
    assert finding.path == "kmsKeyArn"
    assert evaluation.blocking
    assert Report(good, evaluation, strict=True).failed


def test_known_values_in_update_mode_leave_nothing_unverifiable(
    offline_project: Path, probe: Path
) -> None:
    run = run_stack(offline_project / "stacks" / "Pulumi.good.yaml", preview=False)

    evaluation = analyze(run, [probe], strict=True)

    assert evaluation.unverifiable == ()
    # The mocks give the key a KMS ARN: the rule judges the known value and it passes.
    assert [v.policy for v in evaluation.violations] == []


def test_every_format_shows_the_unverifiable_finding(good: PreviewRun, probe: Path) -> None:
    report = Report(good, analyze(good, [probe]))

    table = render_report(report, "table")
    assert "UNVERIFIABLE AT PREVIEW (1)" in table
    assert "unknown: kmsKeyArn" in table
    assert (
        table.rstrip()
        .splitlines()[-1]
        .startswith("PASS: 0 mandatory, 0 advisory violations, 1 unverifiable at preview")
    )
    document = json.loads(render_report(report, "json"))
    assert document["summary"]["unverifiable"] == 1
    assert [(u["policy"], u["path"]) for u in document["unverifiable"]] == [(KEY_ARN, "kmsKeyArn")]
    assert document["violations"] == []
    [result] = sarif_document(report)["runs"][0]["results"]
    assert (result["ruleId"], result["kind"], result["level"]) == (KEY_ARN, "review", "none")
    markdown = render_report(report, "markdown")
    assert f"| `{KEY_ARN}` | probe | mandatory | 1 | UNVERIFIABLE (1) |" in markdown
    assert f"| `{KEY_ARN}` | probe | mandatory | 1 | PASS |" not in markdown
    assert "## Unverifiable at preview (1)" in markdown
    assert "`kmsKeyArn` is unknown." in markdown


def test_a_rule_its_config_makes_a_no_op_is_na_with_the_reason(
    good: PreviewRun, probe: Path
) -> None:
    markdown = render_report(Report(good, analyze(good, [probe])), "markdown")

    row = next(line for line in markdown.splitlines() if f"`{REGISTRIES}`" in line)
    assert row.endswith("| 0 | N/A: allowedRegistries is empty, so every registry is allowed |")
    assert "PASS" not in row


def test_the_same_policy_in_two_packs_is_one_finding_everywhere(
    offline_project: Path, tiny_pack: Path, tiny_copy: Path
) -> None:
    run = run_stack(offline_project / "stacks" / "Pulumi.dev.yaml", preview=True)
    alone = Report(run, analyze(run, [tiny_pack]))
    both = Report(run, analyze(run, [tiny_pack, tiny_copy]))

    assert len(both.evaluation.violations) == 2 * len(alone.evaluation.violations)
    assert both.summary() == alone.summary()
    rotation = next(f for f in both.violations if f.policy == "aws-kms-key-enable-rotation")
    assert rotation.packs == ("tiny", "tiny-copy")
    document = json.loads(render_report(both, "json"))
    entry = next(v for v in document["violations"] if v["policy"] == rotation.policy)
    assert (entry["pack"], entry["packs"]) == ("tiny", ["tiny", "tiny-copy"])
    results = sarif_document(both)["runs"][0]["results"]
    assert len([r for r in results if r.get("kind", "fail") == "fail"]) == len(both.violations)
    markdown = render_report(both, "markdown")
    assert markdown.count(f"- `{rotation.policy}` (tiny, tiny-copy, mandatory") == 1
    table = render_report(both, "table")
    assert table.count("aws-kms-key-enable-rotation  [tiny, tiny-copy]") == 1


def test_strict_on_the_command_line_exits_1_on_unverifiable(
    offline_project: Path, probe: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["preview", "--config", str(offline_project / "stacks" / "Pulumi.good.yaml")]
    argv += ["--policy-pack", str(probe), "--format", "json"]

    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["unverifiable"] == 1
    assert main([*argv, "--strict"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["summary"] == {"resources": 4, "mandatory": 0, "advisory": 0, "unverifiable": 1}
    assert document["unverifiable"][0]["enforcement"] == "mandatory"


def test_real_pack_rules_made_no_ops_by_their_config_are_na_with_the_reason() -> None:
    from inferstack.preview import Report, analyze, render_report, run_stack

    root = Path(__file__).resolve().parents[2]
    run = run_stack(root / "stacks" / "Pulumi.onprem-prod.yaml")
    report = Report(run, analyze(run, [root / "policy_packs" / "baseline"]))
    rows = render_report(report, "markdown").splitlines()
    for rule, reason in (
        ("kubernetes-apps-workload-restrict-image-registry", "allowedRegistries is empty"),
        ("all-tags-resource-require-tags", "requiredTags is empty"),
    ):
        mine = [row for row in rows if f"`{rule}`" in row]
        assert mine, rule
        assert all(f"| N/A: {reason}" in row for row in mine), mine
        assert not any(row.rstrip().endswith("| PASS |") for row in mine)

"""Rule metadata is complete, names are unique and well formed, packs are proper selections."""

from __future__ import annotations

import pytest

from inferstack.compliance import (
    FRAMEWORKS,
    Rule,
    Scope,
    all_rules,
    control,
    controls,
    rules_for,
    split_tags,
)
from inferstack.compliance.model import NAME_PATTERN
from inferstack.compliance.policy import FRAMEWORK_INFO, config_schema, to_policy

RULES = all_rules()


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_rule_metadata_is_complete(rule: Rule) -> None:
    assert NAME_PATTERN.match(rule.name), rule.name
    assert rule.description.strip().endswith(".")
    assert rule.remediation.strip()
    assert rule.resource_types
    assert rule.controls
    assert rule.frameworks and rule.frameworks <= set(FRAMEWORKS)
    for control_id in rule.controls:
        assert control(control_id).id == control_id
    assert len(set(rule.controls)) == len(rule.controls)
    assert callable(rule.check)
    for peer in rule.peers:
        assert peer.startswith(("CKV_", "CKV2_", "cdk-nag:", "azure-policy:")), peer


def test_rule_names_are_unique() -> None:
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names))


def test_name_pattern_rejects_malformed_names() -> None:
    assert NAME_PATTERN.match("aws-sagemaker-endpointconfig-require-kms")
    for bad in (
        "sagemaker-require-kms",
        "aws-sagemaker-endpointconfig-needs-kms",
        "AWS-s3-b-require-x",
    ):
        assert not NAME_PATTERN.match(bad)


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_policy_carries_controls_peers_severity_and_remediation(rule: Rule) -> None:
    for framework in FRAMEWORKS:
        if not rule.in_pack(framework):
            continue
        policy = to_policy(rule, framework)
        controls_, peers = split_tags(policy.tags or [])
        assert controls_ == rule.controls
        assert peers == rule.peers
        assert policy.severity is not None and policy.severity.value == rule.severity.value
        assert policy.remediation_steps == rule.remediation
        assert policy.framework is FRAMEWORK_INFO[framework]
        level = policy.enforcement_level
        assert level is not None and level.value == rule.enforcement.value
        schema = config_schema(rule, framework).properties
        assert "exclusions" in schema
        assert {setting.key for setting in rule.settings} <= set(schema)


def test_packs_are_baseline_plus_their_framework() -> None:
    baseline = {rule.name for rule in rules_for("baseline")}
    hipaa = {rule.name for rule in rules_for("hipaa")}
    gdpr = {rule.name for rule in rules_for("gdpr")}
    assert baseline < hipaa and baseline < gdpr
    assert hipaa - baseline == {r.name for r in RULES if "hipaa" in r.frameworks} - baseline
    assert gdpr - baseline == {r.name for r in RULES if "gdpr" in r.frameworks} - baseline
    assert "aws-cloudwatch-loggroup-require-min-retention" in hipaa - gdpr
    assert "aws-cloudwatch-loggroup-limit-max-retention" in gdpr - hipaa
    assert "aws-sagemaker-model-require-network-isolation" in hipaa & gdpr - baseline
    with pytest.raises(ValueError, match="unknown framework"):
        rules_for("sox")  # type: ignore[arg-type]


def test_stack_rules_are_stack_policies() -> None:
    from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy

    for rule in RULES:
        expected = StackValidationPolicy if rule.scope is Scope.STACK else ResourceValidationPolicy
        assert isinstance(to_policy(rule, "baseline"), expected)


def test_controls_catalog_lists_every_reference_control() -> None:
    ids = {item.id for item in controls()}
    hipaa = {
        "164.312(a)(1)", "164.312(a)(2)(i)", "164.312(a)(2)(ii)", "164.312(a)(2)(iii)",
        "164.312(a)(2)(iv)", "164.312(b)", "164.312(c)(1)", "164.312(c)(2)", "164.312(d)",
        "164.312(e)(1)", "164.312(e)(2)(i)", "164.312(e)(2)(ii)", "164.308(a)(1)(ii)(D)",
        "164.308(a)(7)", "164.316(b)(2)(i)",
    }  # fmt: skip
    gdpr = {"5(1)(c)", "5(1)(e)", "5(1)(f)", "25", "30", "32", "33", "35", "44-49"}
    assert {f"HIPAA {p}" for p in hipaa} <= ids
    assert {f"GDPR Art. {a}" for a in gdpr} <= ids
    assert {f"OWASP LLM{n:02d}" for n in range(1, 11)} <= ids
    assert len(ids) == len(controls())
    assert {item.framework for item in controls()} == {"HIPAA", "GDPR", "OWASP"}
    assert control("OWASP LLM10").title == "Unbounded Consumption"


def test_some_controls_have_no_rule_and_the_catalog_says_which() -> None:
    served = {control_id for rule in RULES for control_id in rule.controls}
    unserved = {item.id for item in controls()} - served
    # Process controls a policy cannot check, listed as such in reports.
    assert {"HIPAA 164.312(a)(2)(ii)", "GDPR Art. 35"} <= unserved
    assert "GDPR Art. 44-49" in served and "HIPAA 164.312(a)(2)(iv)" in served


def test_rules_load_no_cloud_sdk() -> None:
    import subprocess
    import sys

    code = (
        "import sys, inferstack.compliance.policy, inferstack.compliance.speedups;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pulumi_aws', 'pulumi_azure_native', 'pulumi_gcp', 'pulumi_kubernetes')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"

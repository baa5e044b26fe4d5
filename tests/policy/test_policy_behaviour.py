"""Pack config (exclusions, enforcement, framework defaults) and unknown-value handling."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from cases_aws import endpoint_config, log_group, model
from cases_kubernetes import IMAGE, SC, deployment, namespace
from policy_harness import (
    PREVIEW_MODES,
    Computed,
    Res,
    evaluate,
    materialize,
    patched,
    struct,
    verdict,
)
from pulumi.runtime import proto
from pulumi_policy.policy import EnforcementLevel, _PolicyAnalyzerServicer
from test_rules import CASES

from inferstack.compliance import Framework, rule, speedups
from inferstack.compliance.model import Report, Resource, Rule, RuleConfig, Severity
from inferstack.compliance.policy import config_schema, effective_config, policies_for
from inferstack.compliance.props import elements
from inferstack.compliance.regions import eu_eea_regions

ROOT = "kubernetes-apps-workload-disallow-root-uid"
DEFAULT_DENY = "kubernetes-networking-namespace-require-default-deny"


def _root_deployment() -> Res:
    return deployment(((*SC, "runAsUser"), 0))


def test_an_exclusion_with_a_reason_skips_the_resource() -> None:
    config = {"exclusions": [{"name": "llm", "reason": "vendor image needs root, ticket SEC-12"}]}
    assert evaluate(rule(ROOT), _root_deployment(), "update", config=config) == []
    other = {"exclusions": [{"name": "other", "reason": "unrelated"}]}
    assert evaluate(rule(ROOT), _root_deployment(), "update", config=other)


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_an_exclusion_without_a_reason_is_rejected_and_excludes_nothing(reason: Any) -> None:
    entry: dict[str, Any] = {"name": "llm"}
    if reason is not None:
        entry["reason"] = reason
    messages = [
        m
        for _, m in verdict(
            evaluate(rule(ROOT), _root_deployment(), "update", config={"exclusions": [entry]})
        )
    ]
    assert any("has no reason" in m for m in messages)
    assert any("runs as user 0" in m for m in messages)


def test_stack_rule_exclusions_filter_reports_by_resource_name() -> None:
    ns, workload = namespace(), deployment()
    assert evaluate(rule(DEFAULT_DENY), (ns, workload), "update")
    excused = {
        "exclusions": [
            {"name": "llm", "reason": "isolated node pool, policy managed by platform team"}
        ]
    }
    assert evaluate(rule(DEFAULT_DENY), (ns, workload), "update", config=excused) == []
    rejected = {"exclusions": [{"name": "llm"}]}
    messages = [
        m
        for _, m in verdict(evaluate(rule(DEFAULT_DENY), (ns, workload), "update", config=rejected))
    ]
    assert any("has no reason" in m for m in messages)
    assert any("no default-deny" in m for m in messages)


@pytest.mark.parametrize(("level", "mandatory"), [("advisory", False), ("mandatory", True)])
def test_enforcement_level_is_configurable_per_rule(level: str, mandatory: bool) -> None:
    found = evaluate(rule(ROOT), _root_deployment(), "update", config={"enforcementLevel": level})
    assert found and all(d.mandatory is mandatory for d in found)


def test_a_disabled_rule_reports_nothing() -> None:
    assert (
        evaluate(rule(ROOT), _root_deployment(), "update", config={"enforcementLevel": "disabled"})
        == []
    )


def test_rules_default_to_mandatory_except_advisory_ones() -> None:
    found = evaluate(rule(ROOT), _root_deployment(), "update")
    assert found and all(d.mandatory for d in found)
    automount = rule("kubernetes-apps-workload-disallow-token-automount")
    found = evaluate(
        automount,
        deployment((("spec", "template", "spec", "automountServiceAccountToken"), True)),
        "update",
    )
    assert found and not any(d.mandatory for d in found)


def test_framework_defaults_reach_the_schema_and_the_rule() -> None:
    residency = rule("all-residency-resource-restrict-region")
    gdpr_default = config_schema(residency, "gdpr").properties["allowedRegions"]["default"]
    assert "eu-central-1" in gdpr_default and "westeurope" in gdpr_default
    assert "europe-west4" in gdpr_default and "eu-west-2" not in gdpr_default
    assert config_schema(residency, "baseline").properties["allowedRegions"]["default"] == []
    assert set(gdpr_default) == set(eu_eea_regions())
    minimum = rule("aws-cloudwatch-loggroup-require-min-retention")
    assert effective_config(minimum, "hipaa", {}).number("minRetentionDays") == 365
    maximum = rule("aws-cloudwatch-loggroup-limit-max-retention")
    assert effective_config(maximum, "gdpr", {}).number("maxRetentionDays") == 2192
    overridden = effective_config(maximum, "gdpr", {"maxRetentionDays": 30, "unrelated": 1})
    assert overridden.number("maxRetentionDays") == 30 and overridden.raw("unrelated") is None


def test_pack_config_overrides_framework_defaults() -> None:
    maximum = rule("aws-cloudwatch-loggroup-limit-max-retention")
    assert evaluate(maximum, log_group(retentionInDays=3653), "update", framework="gdpr")
    relaxed = {"maxRetentionDays": 3653}
    assert (
        evaluate(
            maximum, log_group(retentionInDays=3653), "update", framework="gdpr", config=relaxed
        )
        == []
    )


@pytest.mark.parametrize("mode", PREVIEW_MODES)
@pytest.mark.parametrize(
    ("name", "subject", "framework"),
    [
        (
            "kubernetes-apps-workload-require-nonroot",
            deployment(((*SC, "runAsNonRoot"), Computed(True))),
            "baseline",
        ),
        (
            "kubernetes-apps-workload-require-image-digest",
            deployment((("spec", "template", "spec", "containers", 0, "image"), Computed(IMAGE))),
            "baseline",
        ),
        (
            "aws-sagemaker-model-require-network-isolation",
            model((("enableNetworkIsolation",), Computed(True))),
            "hipaa",
        ),
        (
            "aws-cloudwatch-loggroup-limit-max-retention",
            log_group(retentionInDays=Computed(365)),
            "gdpr",
        ),
        (
            "all-residency-resource-restrict-region",
            endpoint_config((("region",), Computed("eu-central-1"))),
            "gdpr",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_an_unknown_setting_is_reported_not_silently_skipped(
    name: str, subject: Res, framework: Any, mode: str
) -> None:
    # Settings are never computed by the cloud; one that is unknown at preview cannot be judged:
    # the finding is unverifiable (advisory by default, a violation with unverifiable: mandatory).
    found = evaluate(rule(name), subject, mode, framework=framework)
    assert found and all(d.unverifiable and not d.mandatory for d in found)
    assert all(d.message.startswith("unverifiable at preview: ") for d in found)
    strict = evaluate(
        rule(name), subject, mode, framework=framework, config={"unverifiable": "mandatory"}
    )
    assert strict and all(d.unverifiable and d.mandatory for d in strict)
    assert evaluate(rule(name), subject, "update", framework=framework) == []


def test_an_iam_document_built_as_json_text_from_outputs_is_unverifiable_at_preview() -> None:
    doc = Computed('{"Version": "2012-10-17", "Statement": []}')
    subject = Res("aws:iam/rolePolicy:RolePolicy", "llm", {"role": Computed("r"), "policy": doc})
    found = evaluate(rule("aws-iam-policy-disallow-wildcard-actions"), subject, "preview")
    assert any("pass it as an object" in d.message and d.unverifiable for d in found)


def _naive(check: Any) -> Rule:
    return Rule(
        name="aws-sagemaker-endpointconfig-require-naive",
        description="Reads properties the way pulumi_policy's examples do.",
        severity=Severity.HIGH,
        resource_types=("aws:sagemaker/endpointConfiguration:EndpointConfiguration",),
        controls=("GDPR Art. 32",),
        frameworks=frozenset({"baseline"}),
        remediation="none",
        check=check,
    )


@pytest.mark.parametrize(
    "read",
    [
        lambda props: props.get("kmsKeyArn") is None,
        lambda props: "kmsKeyArn" not in props,
        lambda props: not props["kmsKeyArn"],
    ],
    ids=["get", "in", "index"],
)
def test_a_rule_reading_an_unknown_directly_is_unverifiable(read: Any) -> None:
    def check(res: Resource, report: Report, cfg: RuleConfig) -> None:
        if read(res.props):
            report("no key")

    naive = _naive(check)
    assert evaluate(naive, endpoint_config(), "update") == []
    # pulumi_policy alone turns the read into a "can't run" note; the policy wrapper makes it an
    # unverifiable finding naming the path, so the analyzer never mistakes it for a pass.
    found = evaluate(naive, endpoint_config(), "preview")
    assert [d.message for d in found] == [
        "unverifiable at preview: kmsKeyArn: known only after deploy; "
        "set it from a value known before deploy"
    ]
    assert found[0].unverifiable and not found[0].mandatory


def test_listing_keys_is_the_safe_presence_check() -> None:
    def check(res: Resource, report: Report, cfg: RuleConfig) -> None:
        if "kmsKeyArn" not in list(res.props):
            report("no key")

    naive = _naive(check)
    for mode in ("update", "preview"):
        assert evaluate(naive, endpoint_config(), mode) == []
        assert evaluate(naive, endpoint_config((("kmsKeyArn",), None)), mode) == []


def _pack_diagnostics(framework: Framework) -> list[tuple[str, str, str, int]]:
    """What a whole pack says about every fixture resource and every fixture stack."""
    servicer: Any = _PolicyAnalyzerServicer(
        "inferstack-test", "0.0.1", policies_for(framework), EnforcementLevel.MANDATORY
    )
    configure = proto.ConfigureAnalyzerRequest()
    waiver = configure.policyConfig["kubernetes-apps-workload-require-nonroot"]
    waiver.enforcementLevel = proto.ADVISORY
    waiver.properties.update({"exclusions": [{"name": "nightly-eval", "reason": "batch only"}]})
    servicer.Configure(configure, None)
    found: list[tuple[str, str, str, int]] = []
    for case in CASES:
        for mode in ("preview",):
            for resource in case.resources:
                request = proto.AnalyzeRequest(
                    type=resource.type,
                    properties=struct(materialize(resource.props, mode)),
                    urn=resource.urn,
                    name=resource.name,
                )
                response = servicer.Analyze(request, None)
                found += [
                    (resource.urn, d.policyName, d.message, d.enforcementLevel)
                    for d in response.diagnostics
                ]
    stack = proto.AnalyzeStackRequest()
    for index, resource in enumerate(r for case in CASES for r in case.resources):
        item = stack.resources.add(type=resource.type, urn=f"{resource.urn}-{index}")
        item.name = resource.name
        item.properties.CopyFrom(struct(materialize(resource.props, "preview")))
    found += [
        (d.urn, d.policyName, d.message, d.enforcementLevel)
        for d in servicer.AnalyzeStack(stack, None).diagnostics
    ]
    return found


@pytest.mark.parametrize("framework", ["hipaa", "gdpr"])
def test_speedups_give_the_same_verdicts(framework: Framework) -> None:
    plain = _pack_diagnostics(framework)
    undo = speedups.install()
    try:
        fast = _pack_diagnostics(framework)
    finally:
        undo()
    assert fast == plain
    assert len({policy for _, policy, _, _ in plain}) > 40
    assert any(level == proto.ADVISORY for *_, level in plain)


def test_speedups_are_removed_by_uninstall() -> None:
    policy_module: Any = importlib.import_module("pulumi_policy.policy")
    before = (policy_module.json_format, policy_module.unknown_checking_proxy)
    undo = speedups.install()
    assert policy_module.unknown_checking_proxy is not before[1]
    undo()
    assert (policy_module.json_format, policy_module.unknown_checking_proxy) == before


def test_patched_copies_do_not_alias_fixtures() -> None:
    base = {"a": {"b": [1]}}
    changed = patched(base, (("a", "b"), [2]))
    assert base == {"a": {"b": [1]}} and changed == {"a": {"b": [2]}}


def _reports_then_reads_an_unknown_list(res: Resource, report: Report, cfg: RuleConfig) -> None:
    report("found before the unknown")
    elements(res.props, "productionVariants")
    report("never reached")


def test_violations_before_an_unknown_container_still_stand() -> None:
    checked = _naive(_reports_then_reads_an_unknown_list)
    subject = endpoint_config((("productionVariants",), Computed([])))
    found = evaluate(checked, subject, "preview")
    assert [(d.unverifiable, d.mandatory) for d in found] == [(False, True), (True, False)]
    assert "found before the unknown" in found[0].message
    assert found[1].message.startswith("unverifiable at preview: productionVariants: ")
    strict = evaluate(checked, subject, "preview", config={"unverifiable": "mandatory"})
    assert [(d.unverifiable, d.mandatory) for d in strict] == [(False, True), (True, True)]


def test_a_stack_rule_names_the_resource_of_an_advisory_unverifiable_finding() -> None:
    subject = (
        namespace(),
        Res(
            "kubernetes:apps/v1:Deployment",
            "llm",
            {"metadata": {"name": "llm", "namespace": Computed("inference")}},
        ),
    )
    found = evaluate(rule(DEFAULT_DENY), subject, "preview")
    workload = subject[1].urn
    assert [d.message for d in found] == [
        "unverifiable at preview: metadata.namespace: known only after deploy; set it from a "
        f"value known before deploy (resource {workload})"
    ]

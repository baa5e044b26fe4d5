"""Ways through the packs that were found in review, each now a violation or unverifiable.

The fixtures here passed before: an unknown container was read as empty, so the rule skipped
what it could not see. At preview each one is now *unverifiable* naming the path (never a pass),
and in update mode, with the value known, the rule judges it. Found cases that need no unknown
(the S3 TLS version condition, notStatement limits, credential-named literals, relabelled
workloads, self-set device trust, IAM patterns and trust policies, API Gateway authorizers) are
rule fixtures in the cases_* modules and insecure stack configs in tests/fixtures/insecure.
"""

from __future__ import annotations

from typing import Any

import pytest
from cases_aws import endpoint_config, model
from cases_iam import role
from cases_jetson import FLEET_DAEMONSET
from cases_jetson import RULE as DEVICE_TRUST
from cases_kubernetes import ingress
from policy_harness import Computed, Res, evaluate, patched

from inferstack.compliance import rule

FOUND: list[tuple[str, str, Res, str, str]] = [
    (
        "sagemaker-vpc-config-unknown",
        "aws-sagemaker-model-require-vpc",
        model((("vpcConfig",), Computed({"subnets": [], "securityGroupIds": []}))),
        "hipaa",
        "vpcConfig",
    ),
    (
        "iam-inline-policies-unknown",
        "aws-iam-policy-disallow-wildcard-actions",
        role(
            inlinePolicies=Computed(
                [{"name": "all", "policy": {"Statement": [{"Effect": "Allow", "Action": "*"}]}}]
            )
        ),
        "baseline",
        "inlinePolicies",
    ),
    (
        "ingress-rules-unknown",
        "kubernetes-networking-ingress-require-tls",
        ingress((("spec", "rules"), Computed([{"host": "other.example.com"}]))),
        "baseline",
        "spec.rules",
    ),
    (
        "fleet-labels-unknown",
        DEVICE_TRUST,
        Res(
            "kubernetes:apps/v1:DaemonSet",
            "ward",
            patched(
                FLEET_DAEMONSET,
                (("spec", "template", "spec", "affinity"), {}),
                (("metadata", "labels"), Computed({"inferstack/fleet": "ward"})),
            ),
        ),
        "hipaa",
        "metadata.labels",
    ),
]


@pytest.mark.parametrize(
    ("rule_name", "subject", "framework", "path"),
    [case[1:] for case in FOUND],
    ids=[case[0] for case in FOUND],
)
def test_an_unknown_container_is_unverifiable_at_preview_and_judged_at_update(
    rule_name: str, subject: Res, framework: Any, path: str
) -> None:
    preview = evaluate(rule(rule_name), subject, "preview", framework=framework)
    assert [d.unverifiable for d in preview] == [True]
    assert preview[0].message.startswith(f"unverifiable at preview: {path}: ")
    update = evaluate(rule(rule_name), subject, "update", framework=framework)
    assert update and not any(d.unverifiable for d in update)


def test_no_visible_region_is_unverifiable_under_a_residency_restriction() -> None:
    # An AWS resource without a region input and without a provider the policy can see.
    found = evaluate(
        rule("all-residency-resource-restrict-region"),
        endpoint_config((("region",), None)),
        "update",
        framework="gdpr",
    )
    assert [d.message.split(": ", 2)[:2] for d in found] == [["unverifiable at preview", "region"]]

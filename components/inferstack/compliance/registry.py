"""All rules in a stable order, and the selection each pack makes by framework."""

from __future__ import annotations

from functools import cache

from inferstack.compliance.model import FRAMEWORKS, Framework, Rule
from inferstack.compliance.rules import (
    aws_apigateway,
    aws_cloudwatch,
    aws_iam,
    aws_iam_trust,
    aws_kms,
    aws_s3,
    aws_sagemaker,
    aws_sns,
    azure_keyvault,
    azure_ml,
    azure_monitor,
    azure_storage,
    budget,
    gcp_kms,
    gcp_logging,
    gcp_storage,
    gcp_vertex,
    guard_aws,
    guard_azure,
    guard_gcp,
    guard_jetson,
    guard_kubernetes,
    jetson,
    kubernetes_ingress,
    kubernetes_network,
    kubernetes_pss,
    kubernetes_workloads,
    owasp_runtime,
    owasp_supply_chain,
    red_team_aws,
    red_team_azure,
    red_team_gcp,
    red_team_kubernetes,
    red_team_schedule,
    residency,
    tags,
    tracing,
)

_MODULES = (
    kubernetes_pss,
    kubernetes_workloads,
    kubernetes_network,
    kubernetes_ingress,
    tracing,
    guard_kubernetes,
    aws_sagemaker,
    aws_kms,
    aws_s3,
    aws_cloudwatch,
    aws_iam,
    aws_iam_trust,
    aws_sns,
    aws_apigateway,
    guard_aws,
    azure_ml,
    azure_keyvault,
    azure_storage,
    azure_monitor,
    guard_azure,
    gcp_vertex,
    gcp_kms,
    gcp_storage,
    gcp_logging,
    guard_gcp,
    jetson,
    guard_jetson,
    residency,
    tags,
    budget,
    red_team_kubernetes,
    red_team_aws,
    red_team_azure,
    red_team_schedule,
    red_team_gcp,
    owasp_supply_chain,
    owasp_runtime,
)


@cache
def all_rules() -> tuple[Rule, ...]:
    return tuple(rule for module in _MODULES for rule in module.RULES)


def rules_for(framework: Framework) -> tuple[Rule, ...]:
    """A pack's rules: every baseline rule plus the rules specific to ``framework``."""
    if framework not in FRAMEWORKS:
        raise ValueError(f"unknown framework {framework!r}: use {', '.join(FRAMEWORKS)}")
    return tuple(rule for rule in all_rules() if rule.in_pack(framework))


def rule(name: str) -> Rule:
    for candidate in all_rules():
        if candidate.name == name:
            return candidate
    raise KeyError(name)

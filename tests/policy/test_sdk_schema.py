"""Type tokens and property names used by rules and fixtures exist in the installed SDKs."""

from __future__ import annotations

import pytest
from sdk_schema import NOT_IN_SDKS, check_inputs, declares, resource_class
from test_rules import CASES

from inferstack.compliance import all_rules
from inferstack.compliance.rules.tags import TAG_FIELDS

EXACT_TOKENS = sorted(
    {
        token
        for rule in all_rules()
        for token in rule.resource_types
        if not token.endswith("*") and token not in NOT_IN_SDKS
    }
)
FIXTURE_RESOURCES = {
    (resource.type, resource.name, case.param_id): resource
    for case in CASES
    for resource in case.resources
    if resource.type not in NOT_IN_SDKS
}


@pytest.mark.parametrize("token", EXACT_TOKENS)
def test_rule_type_tokens_exist_in_the_sdks(token: str) -> None:
    assert resource_class(token) is not None


@pytest.mark.parametrize("key", sorted(FIXTURE_RESOURCES), ids=lambda key: f"{key[2]}:{key[1]}")
def test_fixture_property_names_exist_in_the_sdks(key: tuple[str, str, str]) -> None:
    resource = FIXTURE_RESOURCES[key]
    from policy_harness import strip_computed

    assert check_inputs(resource.type, strip_computed(resource.props)) == []
    if resource.provider is not None:
        provider = resource.provider
        assert check_inputs(provider.type, strip_computed(provider.props)) == []


def test_the_vertex_deployment_token_is_what_the_component_registers() -> None:
    from inferstack.compliance.rules._serving import VERTEX_DEPLOYMENT
    from inferstack.vertex.provider import ModelDeployment

    assert f"pulumi-python:{ModelDeployment._resource_type_name}" == VERTEX_DEPLOYMENT
    assert VERTEX_DEPLOYMENT in NOT_IN_SDKS


@pytest.mark.parametrize("token", sorted(TAG_FIELDS))
def test_required_tags_rule_reads_a_real_tag_field(token: str) -> None:
    assert declares(token, *TAG_FIELDS[token])


def test_the_checker_rejects_a_misspelt_property() -> None:
    token = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
    assert check_inputs(token, {"kmsKeyArn": "k", "kmsKeyID": "k"}) == ["kmsKeyID"]
    assert check_inputs(token, {"dataCaptureConfig": {"kmsKeyId": "k", "kms": "k"}}) == [
        "dataCaptureConfig.kms"
    ]
    deployment = "kubernetes:apps/v1:Deployment"
    nested = {
        "spec": {"template": {"spec": {"containers": [{"securityContext": {"runAsRoot": 1}}]}}}
    }
    assert check_inputs(deployment, nested) == [
        "spec.template.spec.containers[0].securityContext.runAsRoot"
    ]
    assert not declares(deployment, "metadata", "tags")

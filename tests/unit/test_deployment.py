"""DeploymentSpec: secure defaults, prod tightening, and one-line errors naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from inferstack.deployment import DeploymentSpec, parse_deployment
from inferstack.errors import SpecError

MODEL = {"id": "meta-llama/Llama-3.1-8B-Instruct"}
DIGEST = "vllm/vllm-openai:v0.6.3@sha256:" + "a" * 64


def spec(**sections: Any) -> DeploymentSpec:
    return parse_deployment({"name": "support-bot", "model": MODEL, **sections})


def error(**sections: Any) -> SpecError:
    with pytest.raises(SpecError) as caught:
        spec(**sections)
    return caught.value


def test_defaults_are_the_secure_choice() -> None:
    s = spec()
    assert s.environment == "dev"
    assert s.security.encryption.kms_key == "create"
    assert s.security.network.public is False
    assert s.security.network.allowed_cidrs == []
    assert s.security.allow_insecure is False
    assert s.security.rate_limit.requests_per_second == 20
    assert s.security.rate_limit.burst == 40
    assert s.security.max_request_bytes == 65536
    assert s.observability.log_retention_days == 365
    assert s.compliance.data_capture.enabled is False
    assert s.compute.spot is False
    assert s.model.hf_token_secret is None
    assert s.min_replicas == 1
    assert s.alarms_enabled is False


def test_prod_tightens_defaults() -> None:
    s = spec(environment="prod")
    assert s.min_replicas == 2
    assert s.alarms_enabled is True


@pytest.mark.parametrize(
    ("sections", "path", "words"),
    [
        ({"scaling": {"min_replicas": 1}}, "scaling.min_replicas", "at least 2"),
        ({"scaling": {"max_replicas": 1}}, "scaling.max_replicas", "at least 2"),
        (
            {"observability": {"alarms": {"enabled": False}}},
            "observability.alarms.enabled",
            "alarms",
        ),
        ({"serving": {"image": "vllm/vllm-openai:v0.6.3"}}, "serving.image", "digest"),
        ({"security": {"allow_insecure": True}}, "security.allow_insecure", "local dev"),
        ({"scaling": {"scale_to_zero": True, "min_replicas": 0}}, "scaling", "warm"),
    ],
)
def test_prod_rejects_weaker_settings(sections: dict[str, Any], path: str, words: str) -> None:
    err = error(environment="prod", **sections)
    assert err.path.startswith(path)
    assert words in str(err)


def test_prod_accepts_a_digest_pinned_image() -> None:
    assert spec(environment="prod", serving={"image": DIGEST}).serving.image == DIGEST


def test_frozen() -> None:
    s = spec()
    with pytest.raises(ValidationError):
        s.name = "other"  # type: ignore[misc]


def test_misspelled_field_names_the_key_and_suggests() -> None:
    err = error(compute={"instnce_type": "ml.g5.2xlarge"})
    assert str(err) == (
        "inferstack:deployment.compute.instnce_type: is not a known field "
        "(did you mean 'instance_type'?)"
    )


def test_misspelled_section() -> None:
    err = error(scalling={})
    assert err.path == "scalling"
    assert "did you mean 'scaling'?" in str(err)


def test_bad_literal_suggests_the_closest() -> None:
    err = error(environment="prood")
    assert err.path == "environment"
    assert "did you mean 'prod'?" in str(err)


def test_literal_token_is_refused_with_the_secret_reference_fix() -> None:
    err = parse_error({"name": "x", "model": {**MODEL, "hf_token": "hf_abc"}})
    assert err.path == "model.hf_token"
    assert "hf_token_secret" in str(err)
    assert "hf_abc" not in str(err)


def parse_error(data: dict[str, Any]) -> SpecError:
    with pytest.raises(SpecError) as caught:
        parse_deployment(data)
    return caught.value


def test_missing_model() -> None:
    err = parse_error({"name": "x"})
    assert str(err).startswith("inferstack:deployment.model: is required")


def test_min_above_max() -> None:
    err = error(scaling={"min_replicas": 5, "max_replicas": 3})
    assert err.path == "scaling.min_replicas"
    assert "exceeds max_replicas 3" in str(err)


def test_zero_replicas_needs_scale_to_zero() -> None:
    assert error(scaling={"min_replicas": 0}).path == "scaling.min_replicas"
    assert spec(scaling={"min_replicas": 0, "scale_to_zero": True}).min_replicas == 0


def test_whole_internet_cidr_is_refused() -> None:
    err = error(security={"network": {"public": True, "allowed_cidrs": ["0.0.0.0/0"]}})
    assert err.path == "security.network.allowed_cidrs"
    assert "whole internet" in str(err)


def test_latest_tag_is_refused_everywhere() -> None:
    assert error(serving={"image": "ollama/ollama:latest"}).path == "serving.image"


def test_burst_below_rate() -> None:
    err = error(security={"rate_limit": {"requests_per_second": 50, "burst": 10}})
    assert err.path == "security.rate_limit"


def test_name_must_be_a_dns_label() -> None:
    assert parse_error({"name": "Support_Bot", "model": MODEL}).path == "name"


def test_model_source_scheme() -> None:
    err = error(model={**MODEL, "source": "ftp://x"})
    assert err.path == "model.source"
    ok = spec(model={**MODEL, "source": "hf://meta-llama/Llama-3.1-8B-Instruct@0e9e39f"})
    assert ok.model.revision == "0e9e39f"


def test_custom_model_needs_the_whole_shape() -> None:
    err = error(model={"id": "acme/private-7b", "parameters_b": 7})
    assert err.path == "model"
    assert "layers" in str(err)


def test_gdpr_implies_eu_residency() -> None:
    assert spec(compliance={"frameworks": ["gdpr"]}).compliance.residency == ["eu"]
    assert spec(compliance={"frameworks": ["hipaa"]}).compliance.residency == []


def test_user_tags_merge_under_the_labels_inferstack_sets() -> None:
    s = spec(tags={"team": "ml"})
    labels = s.labels()
    assert labels["team"] == "ml"
    assert labels["inferstack/environment"] == "dev"
    assert labels["app.kubernetes.io/managed-by"] == "inferstack"
    assert s.merged_tags({"component": "kms"})["component"] == "kms"
    # A component's own extra never replaces the labels the policies trust.
    assert s.merged_tags({"inferstack/environment": "prod"})["inferstack/environment"] == "dev"


@pytest.mark.parametrize(
    "key",
    [
        "inferstack/environment",
        "inferstack/anything",
        "inferstack.io/secure-boot",
        "node-restriction.kubernetes.io/inferstack-attested",
        "app.kubernetes.io/managed-by",
        "app.kubernetes.io/part-of",
        "app.kubernetes.io/instance",
    ],
)
def test_a_tag_with_a_reserved_key_is_refused_naming_it(key: str) -> None:
    err = error(tags={"team": "ml", key: "x"})
    assert err.path == f"tags.{key}"
    assert "inferstack sets itself" in str(err)


def test_other_kubernetes_recommended_labels_stay_open_to_users() -> None:
    assert spec(tags={"app.kubernetes.io/version": "1.4"}).labels()["app.kubernetes.io/version"]


def test_wrong_type_shows_the_value() -> None:
    err = error(scaling={"max_replicas": "many"})
    assert err.path == "scaling.max_replicas"
    assert '"many"' in str(err)


def test_errors_are_one_line() -> None:
    for sections in ({"scaling": {"min_replicas": 9}}, {"compute": {"spot": "sometimes"}}):
        assert "\n" not in str(error(**sections))


@pytest.mark.parametrize(
    "image",
    ["vllm/vllm-openai", "registry.example.com:5000/llm/vllm-openai", "ollama/ollama:latest"],
)
def test_untagged_or_latest_images_are_refused(image: str) -> None:
    err = error(serving={"image": image})
    assert err.path == "serving.image"
    assert ":latest" in str(err)


@pytest.mark.parametrize(
    "image",
    [
        "registry.example.com:5000/llm/vllm-openai:v0.11.0",
        "vllm/vllm-openai@sha256:" + "b" * 64,
        DIGEST,
    ],
)
def test_tagged_or_pinned_images_are_accepted(image: str) -> None:
    assert spec(serving={"image": image}).serving.image == image


def test_private_endpoint_refuses_public_caller_networks() -> None:
    err = error(security={"network": {"allowed_cidrs": ["52.94.0.0/16"]}})
    assert err.path == "security.network"
    assert "public: true" in str(err)
    public = spec(security={"network": {"public": True, "allowed_cidrs": ["52.94.0.0/16"]}})
    assert public.security.network.admitted_cidrs == ["52.94.0.0/16"]


def test_private_endpoint_admits_the_private_ranges_by_default() -> None:
    admitted = spec().security.network.admitted_cidrs
    assert admitted == ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]
    narrowed = spec(security={"network": {"allowed_cidrs": ["10.20.0.0/16"]}})
    assert narrowed.security.network.admitted_cidrs == ["10.20.0.0/16"]

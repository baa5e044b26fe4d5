"""The Azure ML plan alone: names, SKUs, probe timings, autoscale rule and alerts from the spec."""

from __future__ import annotations

import re
from typing import Any

import pytest

from inferstack import catalog
from inferstack.azureml.args import AzureMLArgs
from inferstack.azureml.plan import (
    DEPLOYMENT_NAMESPACE,
    ENDPOINT_NAMESPACE,
    AzureMLPlan,
    build_plan,
)
from inferstack.deployment import parse_deployment, validate_for_target
from inferstack.errors import SpecError

REGION = "westeurope"
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
REVISION = "0e9e39f249a16976918f6564b8830bc894c89659"
PROD: dict[str, Any] = {
    "name": "support-bot",
    "environment": "prod",
    "model": {"id": LLAMA, "source": f"hf://{LLAMA}@{REVISION}", "max_context": 8192},
    "serving": {"max_concurrency": 16},
    "compute": {"instance_type": "Standard_NC24ads_A100_v4"},
    "scaling": {"min_replicas": 2, "max_replicas": 5, "target": {"value": 8}},
    "observability": {"log_retention_days": 545, "alarms": {"email": "oncall@example.com"}},
    "compliance": {"frameworks": ["gdpr"], "phi": True},
    "cost": {"monthly_budget_usd": 9000},
}


def plan(spec: dict[str, Any], **args: Any) -> AzureMLPlan:
    parsed = parse_deployment(spec)
    hardware = validate_for_target(parsed, "azureml", REGION)
    return build_plan(parsed, hardware, AzureMLArgs.parse(args), name=parsed.name, region=REGION)


def test_defaults_plan_a_private_single_instance_deployment() -> None:
    result = plan({"name": "bot", "model": {"id": LLAMA}})
    assert result.create_resource_group and result.resource_group == "rg-bot"
    assert result.create_key and result.key_id is None
    assert result.create_network and result.subnet_id is None
    assert (result.instance_count, result.min_capacity, result.max_capacity) == (1, 1, 4)
    assert result.alerts == ()  # dev: alarms off unless asked for
    assert result.capture is False
    assert result.model_version == "main"  # dev may follow the branch; prod may not
    assert result.instance_type.startswith("Standard_N")


def test_prod_plan_follows_the_spec() -> None:
    result = plan(PROD)
    assert result.instance_type == "Standard_NC24ads_A100_v4" and result.gpu_count == 1
    assert (result.instance_count, result.min_capacity, result.max_capacity) == (2, 2, 5)
    assert result.max_concurrency == 16
    assert result.log_retention_days == 545
    assert result.model_version == REVISION[:12]
    assert result.model_uri == f"azureml://datastores/models/paths/{LLAMA}/{REVISION}/"
    assert result.image_path.startswith("vllm/vllm-openai:v0.11.0@sha256:")
    assert result.environment["MODEL_NAME"].endswith(LLAMA)
    assert "--max-model-len 8192" in result.environment["VLLM_ARGS"]
    assert "--max-num-seqs 16" in result.environment["VLLM_ARGS"]
    assert result.environment["HF_HUB_OFFLINE"] == "1"


def test_names_fit_azure_rules() -> None:
    result = plan({**PROD, "name": "a-very-long-deployment-name-for-names"})
    assert re.fullmatch(r"[a-z0-9]{3,24}", result.storage_name)
    assert re.fullmatch(r"[a-zA-Z0-9]{5,50}", result.registry_name)
    assert re.fullmatch(r"[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]", result.vault_name)
    assert "--" not in result.vault_name
    assert re.fullmatch(r"[a-zA-Z][a-zA-Z0-9-]{0,31}", result.endpoint_name)
    assert len(result.workspace_name) <= 33


def test_probes_wait_for_the_model_to_load() -> None:
    small = plan({**PROD, "model": {**PROD["model"], "dtype": "int4-awq"}})
    large = plan(PROD)
    # Azure's default liveness delay (10 s) kills a container still loading its weights.
    assert large.liveness.initial_delay > small.liveness.initial_delay >= 300
    weights_gb = catalog.model(LLAMA).parameters_b * 2  # bf16
    assert large.liveness.initial_delay == round(300 + 20 * weights_gb)
    # Readiness keeps trying for the whole load budget before the deployment gives up.
    assert large.readiness.period * large.readiness.failure_threshold >= (
        large.liveness.initial_delay
    )


def test_concurrency_target_becomes_requests_per_minute_per_instance() -> None:
    result = plan(PROD, expected_request_seconds=12)
    rule = result.scale
    assert rule.metric == "RequestsPerMinute" and rule.namespace == ENDPOINT_NAMESPACE
    assert rule.per_instance and rule.on_endpoint
    assert rule.scale_out_above == pytest.approx(8 * 60 / 12)
    assert rule.scale_in_below == pytest.approx(rule.scale_out_above / 2)


def test_gpu_utilization_scales_on_the_deployment_metric() -> None:
    result = plan(
        {
            **PROD,
            "scaling": {**PROD["scaling"], "target": {"metric": "gpu_utilization", "value": 70}},
        }
    )
    assert result.scale.metric == "GpuUtilizationPercentage"
    assert result.scale.namespace == DEPLOYMENT_NAMESPACE and not result.scale.on_endpoint
    assert "Cpu" not in result.scale.metric


def test_alerts_cover_errors_latency_and_capacity() -> None:
    alerts = {alert.suffix: alert for alert in plan(PROD).alerts}
    assert {"errors", "latency", "capacity"} <= set(alerts)
    assert alerts["errors"].dimension == ("statusCodeClass", "5xx")
    assert alerts["latency"].threshold < 120_000  # below the request timeout
    assert alerts["capacity"].metric == "DeploymentCapacity"
    assert alerts["capacity"].threshold == 5


def test_an_image_without_a_digest_is_refused_outside_prod_only_under_owasp_llm() -> None:
    tgi = {"name": "bot", "model": {"id": LLAMA}, "serving": {"runtime": "tgi"}}
    assert "@" not in plan(tgi).image_path  # dev without owasp-llm: the tag is served
    owasp = {**tgi, "environment": "staging", "compliance": {"frameworks": ["owasp-llm"]}}
    with pytest.raises(SpecError) as caught:
        plan(owasp)  # all-serving-image-require-digest would fail the environment
    assert caught.value.path == "serving.image"
    assert "owasp-llm" in str(caught.value) and "\n" not in str(caught.value)
    assert "@sha256:" in plan({**owasp, "serving": {"runtime": "vllm"}}).image_path


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"model": {"id": LLAMA, "source": "s3://bucket/llama/"}}, "model.source"),
        ({"model": {"id": LLAMA}}, "model.source"),  # prod without a revision
        ({"observability": {"log_retention_days": 1096}}, "observability.log_retention_days"),
        ({"scaling": {"min_replicas": 2, "target": {"metric": "queue_depth"}}}, "scaling.target"),
        ({"security": {"encryption": {"kms_key": "alias/x"}}}, "security.encryption.kms_key"),
        ({"serving": {"runtime": "tgi"}}, "serving.image"),  # no digest known in prod
    ],
)
def test_what_azure_ml_cannot_serve_fails_naming_the_field(
    change: dict[str, Any], field: str
) -> None:
    with pytest.raises(SpecError) as caught:
        plan({**PROD, **change})
    assert caught.value.path.startswith(field)


def test_existing_key_and_subnet_are_used() -> None:
    key = "https://kv-acme.vault.azure.net/keys/llm/0123456789abcdef"
    subnet = (
        "/subscriptions/0000/resourceGroups/net/providers/Microsoft.Network/"
        "virtualNetworks/hub/subnets/pe"
    )
    result = plan(
        {**PROD, "security": {"encryption": {"kms_key": key}}},
        subnet_id=subnet,
        gateway_subnet_id=subnet.replace("/subnets/pe", "/subnets/apim"),
        resource_group="rg-shared",
    )
    assert not result.create_key and result.key_id == key
    assert not result.create_network and result.subnet_id == subnet
    assert not result.create_resource_group and result.resource_group == "rg-shared"


def test_args_fail_naming_the_key() -> None:
    with pytest.raises(SpecError) as caught:
        AzureMLArgs.parse({"subnet_id": "subnet-1"})
    assert caught.value.path == "inferstack:azureml.subnet_id"
    with pytest.raises(SpecError) as caught:
        AzureMLArgs.parse({"request_timeout_seconds": 600})
    assert caught.value.path == "inferstack:azureml.request_timeout_seconds"

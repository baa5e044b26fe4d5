"""The Vertex AI plan alone: pure data from the spec, the hardware and the target's settings."""

from __future__ import annotations

import math
import subprocess
import sys
from typing import Any

import pytest

from inferstack import sizing
from inferstack.deployment import parse_deployment, validate_for_target
from inferstack.errors import SpecError
from inferstack.vertex import names
from inferstack.vertex.args import VertexArgs
from inferstack.vertex.plan import DUTY_CYCLE, REQUEST_COUNT, VertexPlan, build_plan

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
REVISION = "0e9e39f249a16976918f6564b8830bc894c89659"
REGION = "europe-west4"
ARGS = VertexArgs(project="acme-llm", billing_account="01A2B3-C4D5E6-F7A8B9")
DIGEST = "sha256:" + "a" * 64


def plan(args: VertexArgs = ARGS, region: str = REGION, **sections: Any) -> VertexPlan:
    data: dict[str, Any] = {"name": "bot", "model": {"id": LLAMA}, **sections}
    spec = parse_deployment(data)
    return build_plan(
        spec, validate_for_target(spec, "vertex", region), args, name=spec.name, region=region
    )


def test_defaults_make_a_private_encrypted_single_deployment() -> None:
    result = plan()
    assert result.create_key and result.kms_key is None
    assert result.network.mode == "psc" and result.network.create
    (deployment,) = result.deployments
    assert deployment.key == "primary" and deployment.spot is False
    assert deployment.traffic_percent == 100
    assert (deployment.min_replicas, deployment.max_replicas) == (1, 4)
    # The cheapest fitting machine for an 8B model in bf16: one L4.
    assert deployment.accelerator_type == "NVIDIA_L4"
    assert deployment.machine_type.startswith("g2-standard-")
    assert result.source.in_model_bucket
    assert result.source.uri == f"gs://{result.names.bucket}/{LLAMA}/"
    assert result.capture is False
    # With a billing account, the default budget is the on-demand cost of max_replicas.
    most = sizing.monthly_cost_usd("vertex", deployment.machine_type, deployment.max_replicas)
    assert most is not None and result.budget_usd == math.ceil(most / 100) * 100


def test_pinned_revision_is_the_artifact_prefix_and_image_goes_through_the_region() -> None:
    result = plan(model={"id": LLAMA, "source": f"hf://{LLAMA}@{REVISION}"})
    assert result.source.prefix == f"{LLAMA}/{REVISION}/"
    container = result.container
    assert container.image.startswith(
        f"{REGION}-docker.pkg.dev/acme-llm/{result.names.repository}/vllm/vllm-openai@sha256:"
    )
    assert container.upstream is not None and container.upstream.docker_hub
    assert f"--model={result.source.uri}" in container.args
    (deployment,) = result.deployments
    assert f"--tensor-parallel-size={deployment.accelerator_count}" in container.args
    assert container.predict_route == "/v1/chat/completions"
    assert container.health_route == "/health"
    assert container.port == 8000 and "--port=8000" in container.args
    assert 600 <= container.deployment_timeout_seconds <= 7200
    assert dict(container.env)["HF_HUB_OFFLINE"] == "1"


def test_gs_source_is_used_as_is_and_no_model_bucket_is_planned() -> None:
    result = plan(model={"id": LLAMA, "source": "gs://staging-eu/llama/v1"})
    assert not result.source.in_model_bucket
    assert result.source.uri == "gs://staging-eu/llama/v1/"


@pytest.mark.parametrize(
    ("instance_type", "accelerator", "count"),
    [
        ("g2-standard-24", "NVIDIA_L4", 2),
        ("a2-highgpu-1g", "NVIDIA_TESLA_A100", 1),
        ("a2-ultragpu-1g", "NVIDIA_A100_80GB", 1),
        ("a3-highgpu-2g", "NVIDIA_H100_80GB", 2),
        ("a3-megagpu-8g", "NVIDIA_H100_MEGA_80GB", 8),
        ("a3-ultragpu-8g", "NVIDIA_H200_141GB", 8),
    ],
)
def test_machine_types_map_to_vertex_accelerators(
    instance_type: str, accelerator: str, count: int
) -> None:
    (deployment,) = plan(compute={"instance_type": instance_type}).deployments
    assert (deployment.accelerator_type, deployment.accelerator_count) == (accelerator, count)


def test_spot_gets_an_on_demand_fallback_with_a_traffic_share() -> None:
    args = ARGS.model_copy(update={"fallback_share": 25, "fallback_replicas": 2})
    spot, fallback = plan(args, compute={"spot": True}).deployments
    assert (spot.key, spot.spot, spot.traffic_percent) == ("spot", True, 75)
    assert (fallback.key, fallback.spot, fallback.traffic_percent) == ("on-demand", False, 25)
    assert (fallback.min_replicas, fallback.max_replicas) == (1, 2)
    only = plan(ARGS.model_copy(update={"fallback_share": 0}), compute={"spot": True})
    assert [(d.spot, d.traffic_percent) for d in only.deployments] == [(True, 100)]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ({"metric": "gpu_utilization", "value": 70}, (DUTY_CYCLE, 70)),
        ({"metric": "invocations", "value": 120}, (REQUEST_COUNT, 120)),
        ({"metric": "concurrency", "value": 8}, (DUTY_CYCLE, 60)),
    ],
)
def test_autoscaling_metric_specs(target: dict[str, Any], expected: tuple[str, int]) -> None:
    (deployment,) = plan(scaling={"target": target}).deployments
    ((metric),) = deployment.autoscaling
    assert (metric.metric_name, metric.target) == expected


@pytest.mark.parametrize(
    ("sections", "args", "field"),
    [
        ({"scaling": {"target": {"metric": "queue_depth"}}}, ARGS, "scaling.target.metric"),
        (
            {"scaling": {"target": {"metric": "gpu_utilization", "value": 150}}},
            ARGS,
            "scaling.target.value",
        ),
        ({}, VertexArgs(), "gcp:project"),
        (
            {"security": {"encryption": {"kms_key": "alias/llm"}}},
            ARGS,
            "security.encryption.kms_key",
        ),
        (
            {
                "security": {
                    "encryption": {
                        "kms_key": "projects/p/locations/us-central1/keyRings/r/cryptoKeys/k"
                    }
                }
            },
            ARGS,
            "security.encryption.kms_key",
        ),
        ({"serving": {"image": "vllm/vllm-openai:v0.11.0"}}, ARGS, "serving.image"),
        ({"serving": {"runtime": "tgi"}}, ARGS, "serving.image"),
        (
            {
                "security": {
                    "network": {
                        "subnet_ids": ["projects/p/regions/us-east1/subnetworks/s"],
                        "vpc_id": "net",
                    }
                }
            },
            ARGS,
            "security.network.subnet_ids[0]",
        ),
        ({"model": {"id": LLAMA, "source": "s3://bucket/llama/"}}, ARGS, "model.source"),
    ],
)
def test_what_vertex_cannot_do_fails_naming_the_field(
    sections: dict[str, Any], args: VertexArgs, field: str
) -> None:
    with pytest.raises(SpecError) as raised:
        plan(args, **sections)
    assert field in raised.value.path
    assert "\n" not in str(raised.value)


def test_an_existing_key_in_the_region_is_used() -> None:
    key = f"projects/keys/locations/{REGION}/keyRings/llm/cryptoKeys/serving"
    result = plan(security={"encryption": {"kms_key": key}})
    assert (result.create_key, result.kms_key) == (False, key)


def test_public_only_when_the_spec_says_so() -> None:
    assert plan(security={"network": {"public": True}}).network.mode == "public"
    peered = plan(ARGS.model_copy(update={"private_endpoint": "peering"}))
    assert peered.network.mode == "peering"


def test_tgi_with_a_pinned_image_from_another_registry_is_proxied() -> None:
    image = f"ghcr.io/huggingface/text-generation-inference:3.3.6@{DIGEST}"
    result = plan(serving={"runtime": "tgi", "image": image})
    upstream = result.container.upstream
    assert upstream is not None and upstream.uri == "https://ghcr.io"
    assert result.container.image.endswith(f"/huggingface/text-generation-inference@{DIGEST}")
    assert "--model-id=$(AIP_STORAGE_URI)" in result.container.args
    in_registry = f"{REGION}-docker.pkg.dev/acme-llm/serving/vllm@{DIGEST}"
    assert plan(serving={"image": in_registry}).container.image == in_registry
    assert plan(serving={"image": in_registry}).container.upstream is None


def test_names_follow_google_cloud_rules() -> None:
    chosen = names.Names.of("a-very-long-deployment-name-for-support", "acme-llm", REGION)
    assert chosen.endpoint_id.isdigit() and len(chosen.endpoint_id) == 10
    assert not chosen.endpoint_id.startswith("0")
    assert 6 <= len(chosen.service_account) <= 30
    assert len(chosen.bucket) <= 63 and chosen.bucket == chosen.bucket.lower()
    assert chosen.endpoint_id == names.endpoint_id(
        "a-very-long-deployment-name-for-support", "acme-llm", REGION
    )
    assert names.labels({"app.kubernetes.io/managed-by": "inferstack", "Team": "ML Platform"}) == {
        "app_kubernetes_io_managed-by": "inferstack",
        "team": "ml_platform",
    }


def test_the_plan_modules_load_no_pulumi() -> None:
    code = (
        "import sys, inferstack.vertex.plan, inferstack.vertex.args; "
        "loaded = ('pulumi', 'google.cloud.aiplatform'); "
        "print(sorted(m for m in sys.modules if m.startswith(loaded)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert out.strip() == "[]"

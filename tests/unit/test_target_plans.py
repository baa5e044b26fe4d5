"""Every target's ``build_plan``: pure (no Pulumi), frozen, derived from spec, hardware, args."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from inferstack.aws.args import SageMakerArgs
from inferstack.aws.plan import build_plan as sagemaker_plan
from inferstack.deployment import DeploymentSpec, parse_deployment, validate_for_target
from inferstack.jetson.args import FleetArgs
from inferstack.jetson.plan import build_plan as fleet_plan
from inferstack.kubernetes.args import LLMServiceArgs
from inferstack.kubernetes.plan import build_plan as service_plan

ROOT = Path(__file__).resolve().parents[2]
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
GGUF = "hf://Qwen/Qwen2.5-1.5B-Instruct-GGUF@91cad51170dc346986eccefdc2dd33a9da36ead9"
REGION = "eu-central-1"


def service_spec() -> DeploymentSpec:
    return parse_deployment(
        {"name": "chat", "model": {"id": LLAMA}, "compute": {"gpu_type": "L40S", "gpu_count": 1}}
    )


def endpoint_spec() -> DeploymentSpec:
    return parse_deployment({"name": "chat", "model": {"id": LLAMA}})


def fleet_spec(count: int = 3) -> DeploymentSpec:
    return parse_deployment(
        {
            "name": "edge",
            "model": {"id": "Qwen/Qwen2.5-1.5B-Instruct"},
            "compute": {
                "fleet": {
                    "sites": [{"name": "clinic-a", "context": "clinic-a"}],
                    "device_groups": [
                        {"site": "clinic-a", "module": "agx-orin-64gb", "count": count},
                        {"site": "clinic-a", "module": "orin-nano-8gb", "count": 2},
                    ],
                    "cohorts": [{"name": "stable", "sources": {"gguf-q4_k_m": GGUF}}],
                }
            },
        }
    )


def test_onprem_plan_follows_spec_hardware_and_args() -> None:
    spec = service_spec()
    hardware = validate_for_target(spec, "onprem")
    plan = service_plan(spec, hardware, LLMServiceArgs(namespace="llm"), name="chat")
    assert (plan.names.base, plan.namespace) == ("chat", "llm")
    assert (plan.gpu_type, plan.gpu_count) == ("L40S", 1)
    assert plan.port == spec.serving.port
    assert plan.max_replicas == spec.scaling.max_replicas
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.gpu_count = 2  # type: ignore[misc]


def test_sagemaker_plan_follows_spec_hardware_and_args() -> None:
    spec = endpoint_spec()
    hardware = validate_for_target(spec, "sagemaker", REGION)
    plain = sagemaker_plan(spec, hardware, SageMakerArgs(), name="chat", region=REGION)
    fronted = sagemaker_plan(
        spec, hardware, SageMakerArgs(front_door=True), name="chat", region=REGION
    )
    assert plain.instance_type == hardware.name
    assert plain.gpu_count == hardware.gpu_count
    assert f".{REGION}." in plain.image
    assert (plain.front_door, fronted.front_door) == (False, True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plain.front_door = True  # type: ignore[misc]


def test_jetson_plan_has_one_workload_per_device_group() -> None:
    spec = fleet_spec(count=5)
    hardware = validate_for_target(spec, "jetson")
    plan = fleet_plan(spec, hardware, FleetArgs(), name="edge")
    assert [(w.module.name, w.devices) for w in plan.workloads] == [
        ("agx-orin-64gb", 5),
        ("orin-nano-8gb", 2),
    ]
    assert plan.namespace == "edge"
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.namespace = "other"  # type: ignore[misc]


PURE = """
from inferstack.deployment import parse_deployment, validate_for_target
from inferstack.{target}.args import {args}
from inferstack.{target}.plan import build_plan
spec = parse_deployment({spec!r})
hardware = validate_for_target(spec, {name!r}, {region!r})
build_plan(spec, hardware, {args}({kwargs}), name="chat", region={region!r})
import json, sys
roots = {{m.split(".")[0] for m in sys.modules}}
roots |= {{"google.cloud.aiplatform"}} & set(sys.modules)
print(json.dumps(sorted(roots)))
"""


@pytest.mark.parametrize(
    ("target", "name", "args", "spec", "region"),
    [
        ("kubernetes", "onprem", "LLMServiceArgs", lambda: service_spec(), None),
        ("aws", "sagemaker", "SageMakerArgs", lambda: endpoint_spec(), REGION),
        ("jetson", "jetson", "FleetArgs", lambda: fleet_spec(), None),
        ("azureml", "azureml", "AzureMLArgs", lambda: endpoint_spec(), "westeurope"),
        ("vertex", "vertex", "VertexArgs", lambda: endpoint_spec(), "europe-west4"),
    ],
)
def test_planning_loads_neither_pulumi_nor_an_sdk(
    target: str, name: str, args: str, spec: Any, region: str | None
) -> None:
    data = spec().model_dump(mode="json", exclude_unset=True)
    kwargs = "project='demo-project'" if target == "vertex" else ""
    code = PURE.format(target=target, args=args, spec=data, name=name, region=region, kwargs=kwargs)
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT
    )
    roots = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert "inferstack" in roots
    assert not roots & {
        "pulumi",
        "pulumi_aws",
        "pulumi_kubernetes",
        "pulumi_azure_native",
        "pulumi_gcp",
        "google.cloud.aiplatform",
    }

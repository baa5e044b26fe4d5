"""Checks that need the target run before any resource exists and name the field and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from inferstack.deployment import load_stack_config, parse_deployment, validate_for_target
from inferstack.errors import SpecError

LLAMA_8B = {"id": "meta-llama/Llama-3.1-8B-Instruct"}
LLAMA_70B = {"id": "meta-llama/Llama-3.1-70B-Instruct"}


def check(target: str, region: str | None = None, **sections: Any) -> Any:
    spec = parse_deployment({"name": "bot", "model": LLAMA_8B, **sections})
    return validate_for_target(spec, target, region)


def fails(target: str, region: str | None = None, **sections: Any) -> SpecError:
    with pytest.raises(SpecError) as caught:
        check(target, region, **sections)
    return caught.value


def test_misspelled_instance_type_suggests_the_real_one() -> None:
    err = fails("sagemaker", "eu-central-1", compute={"instance_type": "ml.g5.2xlarg"})
    assert str(err) == (
        "inferstack:deployment.compute.instance_type: 'ml.g5.2xlarg' is not a SageMaker "
        "instance type (did you mean 'ml.g5.2xlarge'?)"
    )


def test_model_that_does_not_fit_names_the_smallest_sku_that_does() -> None:
    err = fails(
        "sagemaker", "eu-central-1", model=LLAMA_70B, compute={"instance_type": "ml.g5.2xlarge"}
    )
    assert err.path == "compute.instance_type"
    assert "ml.g5.2xlarge" in str(err)
    assert "use ml." in str(err)


def test_default_instance_type_is_one_that_fits() -> None:
    hardware = check("sagemaker", "eu-central-1", model=LLAMA_70B)
    assert hardware.gpu_count >= 4
    check("sagemaker", "eu-central-1", model=LLAMA_70B, compute={"instance_type": hardware.name})


@pytest.mark.parametrize("target", ["sagemaker", "azureml"])
def test_spot_is_refused_where_real_time_inference_has_none(target: str) -> None:
    region = {"sagemaker": "eu-central-1", "azureml": "westeurope"}[target]
    err = fails(target, region, compute={"spot": True})
    assert err.path == "compute.spot"
    assert "spot: false" in str(err)


def test_sagemaker_spot_message_names_the_cost_levers() -> None:
    message = str(fails("sagemaker", "eu-central-1", compute={"spot": True}))
    assert "async" in message
    assert "scale_to_zero" in message
    assert "managed spot training" in message


def test_vertex_allows_spot() -> None:
    check("vertex", "europe-west4", compute={"spot": True})


def test_region_outside_residency_is_refused() -> None:
    err = fails("sagemaker", "us-east-1", compliance={"frameworks": ["gdpr"]})
    assert err.path == "compliance.data_residency"
    assert "us-east-1" in str(err)
    assert "eu-central-1" in str(err)


@pytest.mark.parametrize("region", ["eu-west-2", "eu-central-2"])
def test_london_and_zurich_are_outside_the_eu(region: str) -> None:
    assert fails("sagemaker", region, compliance={"frameworks": ["gdpr"]}).path == (
        "compliance.data_residency"
    )


def test_residency_needs_a_region() -> None:
    err = fails("sagemaker", None, compliance={"data_residency": ["eu"]})
    assert str(err).startswith("aws:region: is required")


def test_scale_to_zero_on_sagemaker_needs_async() -> None:
    scaling = {"scale_to_zero": True, "min_replicas": 0}
    err = fails("sagemaker", "eu-central-1", scaling=scaling)
    assert err.path == "scaling.scale_to_zero"
    assert "async" in str(err)
    check("sagemaker", "eu-central-1", scaling=scaling, serving={"mode": "async"})


@pytest.mark.parametrize("target", ["azureml", "vertex"])
def test_scale_to_zero_where_the_platform_cannot(target: str) -> None:
    region = {"azureml": "westeurope", "vertex": "europe-west4"}[target]
    err = fails(target, region, scaling={"scale_to_zero": True})
    assert err.path == "scaling.scale_to_zero"


def test_onprem_scale_to_zero_is_supported() -> None:
    check("onprem", scaling={"scale_to_zero": True, "min_replicas": 0})


REGIONS = {"sagemaker": "eu-central-1", "azureml": "westeurope", "vertex": "europe-west4"}
RETENTION = "observability.log_retention_days"


@pytest.mark.parametrize(
    ("target", "days", "nearest"),
    [
        ("sagemaker", 100, "use 90"),  # CloudWatch Logs takes only its list
        ("sagemaker", 730, "use 731"),
        ("azureml", 731, "use 730"),  # Log Analytics: 30-730
        ("azureml", 7, "use 30"),
        ("azureml", 0, "use 730"),  # no "forever" there: the longest
        ("vertex", 3653, "use 3650"),  # Cloud Logging: 1-3650
        ("vertex", 0, "use 3650"),
    ],
)
def test_log_retention_is_a_period_the_targets_log_service_accepts(
    target: str, days: int, nearest: str
) -> None:
    err = fails(target, REGIONS[target], observability={"log_retention_days": days})
    assert err.path == RETENTION
    assert str(err).endswith(f"({nearest})") and "\n" not in str(err)


@pytest.mark.parametrize(
    ("target", "days"),
    [("sagemaker", 0), ("sagemaker", 731), ("azureml", 730), ("azureml", 100), ("vertex", 100)],
)
def test_log_retention_any_period_the_service_keeps_is_accepted(target: str, days: int) -> None:
    check(target, REGIONS[target], observability={"log_retention_days": days})


@pytest.mark.parametrize("target", ["onprem", "jetson"])
def test_log_retention_has_no_effect_where_nothing_keeps_logs(target: str) -> None:
    err = fails(target, observability={"log_retention_days": 730})
    assert err.path == RETENTION and "has no effect on" in str(err)


@pytest.mark.parametrize("target", ["sagemaker", "onprem"])
def test_public_endpoint_needs_caller_networks_where_they_are_filtered(target: str) -> None:
    err = fails(target, REGIONS.get(target), security={"network": {"public": True}})
    assert err.path == "security.network.allowed_cidrs"


def test_vertex_filters_no_caller_networks() -> None:
    public = {"public": True, "allowed_cidrs": ["203.0.113.0/24"]}
    err = fails("vertex", REGIONS["vertex"], security={"network": public})
    assert err.path == "security.network.allowed_cidrs"
    assert "applies no IP filter" in str(err) and "Private Service Connect" in str(err)
    assert "\n" not in str(err)
    check("vertex", REGIONS["vertex"], security={"network": {"public": True}})


def test_azure_ml_refuses_a_public_endpoint_it_would_not_create() -> None:
    # The component keeps the endpoint private whatever the spec says; public: true (with or
    # without caller networks) would promise an address nothing creates.
    err = fails("azureml", REGIONS["azureml"], security={"network": {"public": True}})
    assert err.path == "security.network.public", err
    assert "stay private" in str(err) and "\n" not in str(err)
    err = fails(
        "azureml", REGIONS["azureml"], security={"network": {"allowed_cidrs": ["203.0.113.0/24"]}}
    )
    assert err.path == "security.network.allowed_cidrs" and "the VNet on Azure ML" in str(err)
    check("azureml", REGIONS["azureml"], security={"network": {"public": False}})


def test_async_is_sagemaker_only() -> None:
    assert fails("onprem", serving={"mode": "async"}).path == "serving.mode"


def test_auth_must_exist_on_the_target() -> None:
    err = fails("onprem", security={"auth": "iam"})
    assert err.path == "security.auth"
    assert "oidc" in str(err)


def test_runtime_must_run_on_the_target() -> None:
    assert fails("sagemaker", "eu-central-1", serving={"runtime": "ollama"}).path == (
        "serving.runtime"
    )


def test_unknown_model_suggests_a_catalog_id() -> None:
    err = fails("onprem", model={"id": "meta-llama/Llama-3.1-8B-Instruk"})
    assert err.path == "model.id"
    assert "Llama-3.1-8B-Instruct" in str(err)


def test_custom_model_described_in_full_is_sized() -> None:
    custom = {
        "id": "acme/private-7b",
        "parameters_b": 7,
        "layers": 32,
        "kv_heads": 8,
        "head_dim": 128,
    }
    assert check("onprem", model=custom, serving={"max_concurrency": 4}).gpu_count == 1
    # More sequences than the KV cache holds queue in vLLM: still one GPU.
    assert check("onprem", model=custom, serving={"max_concurrency": 64}).gpu_count == 1
    # One 262,144-token sequence (34 GB of KV) does not fit one L4: tensor parallelism.
    long = {**custom, "max_context": 262144}
    assert check("onprem", model=long).gpu_count > 1
    huge = {**custom, "parameters_b": 900}
    assert fails("onprem", model=huge, compute={"gpu_count": 1}).path == "compute.gpu_type"


def test_onprem_gpu_count_defaults_to_the_tensor_parallel_degree() -> None:
    hardware = check("onprem", model=LLAMA_70B, compute={"gpu_type": "A100-80GB"})
    assert hardware.gpu_count in (2, 4)


def test_onprem_has_no_instance_types() -> None:
    assert fails("onprem", compute={"instance_type": "ml.g5.xlarge"}).path == (
        "compute.instance_type"
    )


def test_budget_below_the_warm_replicas_cost() -> None:
    err = fails(
        "sagemaker",
        "eu-central-1",
        compute={"instance_type": "ml.p4de.24xlarge"},
        model=LLAMA_70B,
        cost={"monthly_budget_usd": 500},
    )
    assert err.path == "cost.monthly_budget_usd"
    assert "$500" in str(err)


def write_stack(tmp_path: Path, config: dict[str, Any], name: str = "demo") -> Path:
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump({"config": config}), encoding="utf-8")
    return path


def test_load_stack_config(tmp_path: Path) -> None:
    path = write_stack(
        tmp_path,
        {
            "aws:region": "eu-central-1",
            "inferstack:target": "sagemaker",
            "inferstack:deployment": {"name": "bot", "model": LLAMA_8B},
        },
    )
    loaded = load_stack_config(path)
    assert loaded.stack == "demo"
    assert loaded.target == "sagemaker"
    assert loaded.region == "eu-central-1"
    assert loaded.deployment.name == "bot"
    assert loaded.config["aws:region"] == "eu-central-1"
    assert yaml.safe_load(loaded.config["inferstack:deployment"])["name"] == "bot"


@pytest.mark.parametrize(
    ("config", "starts"),
    [
        ({"inferstack:target": "sagemakr"}, "inferstack:target: 'sagemakr' is not a target"),
        ({"inferstack:target": "onprem"}, "inferstack:deployment: is missing"),
    ],
)
def test_stack_config_errors(tmp_path: Path, config: dict[str, Any], starts: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_stack_config(write_stack(tmp_path, config))
    assert str(caught.value).startswith(starts)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text("config:\n  inferstack:target: [onprem\n", encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_stack_config(path)
    assert "is not valid YAML" in str(caught.value)


def test_serving_kv_cache_dtype_reaches_the_fit_check() -> None:
    from inferstack import sizing

    capacity = sizing.fit(
        "meta-llama/Llama-3.1-8B-Instruct", "sagemaker", "ml.g5.2xlarge", dtype="bf16"
    ).to_json()["kv_cache_tokens"]
    deployment = {
        "name": "long",
        "model": {"id": "meta-llama/Llama-3.1-8B-Instruct", "max_context": int(capacity * 1.5)},
        "compute": {"instance_type": "ml.g5.2xlarge"},
    }
    with pytest.raises(SpecError, match=r"compute\.instance_type"):
        validate_for_target(parse_deployment(deployment), "sagemaker", "eu-central-1")
    fp8 = {**deployment, "serving": {"kv_cache_dtype": "fp8"}}
    validate_for_target(parse_deployment(fp8), "sagemaker", "eu-central-1")


def test_cloud_budget_defaults_to_the_cost_of_max_replicas() -> None:
    from inferstack import sizing
    from inferstack.deployment.targets import budget_usd

    spec = parse_deployment(
        {
            "name": "bot",
            "model": LLAMA_8B,
            "compute": {"instance_type": "ml.g5.2xlarge"},
            "scaling": {"min_replicas": 1, "max_replicas": 3},
        }
    )
    hardware = validate_for_target(spec, "sagemaker", "eu-central-1")
    most = sizing.monthly_cost_usd("sagemaker", "ml.g5.2xlarge", 3)
    assert most is not None
    assert budget_usd(spec, hardware) == -(-most // 100) * 100 >= most
    given = parse_deployment(
        {**spec.model_dump(exclude_unset=True), "cost": {"monthly_budget_usd": 9000}}
    )
    assert budget_usd(given, validate_for_target(given, "sagemaker", "eu-central-1")) == 9000
    onprem = parse_deployment({"name": "bot", "model": LLAMA_8B})
    assert budget_usd(onprem, validate_for_target(onprem, "onprem")) is None

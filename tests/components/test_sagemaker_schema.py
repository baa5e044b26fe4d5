"""The captured inputs, mapped to the AWS API, validate against botocore's own service models.

botocore ships the machine-readable definition of every AWS API (shapes, required members,
enums, ranges, patterns). Mapping what the component hands pulumi-aws (camelCase) onto
CreateModel, CreateEndpointConfig, CreateEndpoint, RegisterScalableTarget, PutScalingPolicy and
PutMetricAlarm requests (PascalCase) gives an offline oracle: a misnamed field, a wrong type,
an unknown instance type or a timeout out of range fails here instead of twenty minutes into
``pulumi up``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from typing import Any

import botocore.session
import pytest
from botocore.model import Shape, StructureShape
from botocore.validate import ParamValidator

from inferstack.aws import SageMakerEndpoint
from inferstack.preview import CapturedResource

Recording = Callable[..., list[CapturedResource]]

REGION = "eu-central-1"
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
WEIGHTS = "s3://acme-models/llama-3.1-8b/"
SPECS: dict[str, dict[str, Any]] = {
    "defaults": {"name": "bot", "model": {"id": LLAMA}},
    "full": {
        "name": "support-bot",
        "environment": "prod",
        "model": {"id": LLAMA, "source": WEIGHTS, "max_context": 8192},
        "serving": {"runtime": "tgi", "extra_args": ["--max-batch-size", "32"]},
        "compute": {"instance_type": "ml.g6e.12xlarge"},
        "scaling": {"min_replicas": 2, "max_replicas": 6, "target": {"value": 6}},
        "observability": {"alarms": {"email": "oncall@example.com"}},
        "compliance": {"frameworks": ["hipaa", "gdpr"], "data_capture": {"enabled": True}},
        "cost": {"monthly_budget_usd": 40000},
        "tags": {"team": "ml-platform"},
    },
    "async": {
        "name": "batch-bot",
        "model": {"id": LLAMA, "source": f"{WEIGHTS}model.tar.gz", "max_context": 4096},
        "serving": {"runtime": "lmi", "mode": "async", "max_concurrency": 4},
        # Async payloads come from S3: no gateway screens them (security.guard refuses it).
        "security": {"guard": {"input": False, "output": "off"}},
        "compute": {"instance_type": "ml.g5.2xlarge"},
        "scaling": {"min_replicas": 0, "scale_to_zero": True, "target": {"metric": "queue_depth"}},
        "observability": {"alarms": {"enabled": True}},
    },
    "gpu-metric": {
        "name": "gpu-bot",
        "model": {"id": LLAMA, "source": WEIGHTS, "max_context": 4096},
        "serving": {"max_concurrency": 4},
        "compute": {"instance_type": "ml.g6.2xlarge"},
        "scaling": {"target": {"metric": "gpu_utilization", "value": 70}},
    },
}

# Pulumi property -> API member, where the names differ beyond camelCase -> PascalCase.
RENAMES: dict[tuple[str, str], str] = {
    ("CreateEndpointConfigInput", "kmsKeyArn"): "KmsKeyId",
    ("ModelDataSource", "s3DataSources"): "S3DataSource",
    ("ProductionVariant", "routingConfigs"): "RoutingConfig",
    ("PutMetricAlarmInput", "okActions"): "OKActions",
    ("AsyncInferenceNotificationConfig", "includeInferenceResponseIns"): (
        "IncludeInferenceResponseIn"
    ),
}
# The name each resource's API call takes (pulumi autonames these when none is given).
NAME_MEMBERS = {
    "CreateModel": "ModelName",
    "CreateEndpointConfig": "EndpointConfigName",
    "CreateEndpoint": "EndpointName",
    "PutScalingPolicy": "PolicyName",
    "PutMetricAlarm": "AlarmName",
}
OPERATIONS = {
    "aws:sagemaker/model:Model": ("sagemaker", "CreateModel"),
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": (
        "sagemaker",
        "CreateEndpointConfig",
    ),
    "aws:sagemaker/endpoint:Endpoint": ("sagemaker", "CreateEndpoint"),
    "aws:appautoscaling/target:Target": ("application-autoscaling", "RegisterScalableTarget"),
    "aws:appautoscaling/policy:Policy": ("application-autoscaling", "PutScalingPolicy"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("cloudwatch", "PutMetricAlarm"),
}
# Pulumi-only properties with no API member.
PULUMI_ONLY = {"region", "tagsAll"}


@cache
def service(name: str) -> Any:
    return botocore.session.get_session().get_service_model(name)


def input_shape(service_name: str, operation: str) -> StructureShape:
    shape: StructureShape = service(service_name).operation_model(operation).input_shape
    return shape


# -- mapping ---------------------------------------------------------------------------------


def to_api(value: Any, shape: Shape, path: str) -> Any:
    """Pulumi inputs (camelCase, floats for numbers) as the API's parameters for ``shape``."""
    kind = shape.type_name
    if kind == "structure":
        if isinstance(value, list):
            # pulumi models a few single structures as one-element lists (s3DataSources).
            assert len(value) == 1, f"{path}: {len(value)} items for the single {shape.name}"
            value = value[0]
        assert isinstance(value, dict), f"{path}: {value!r} is not an object for {shape.name}"
        members: dict[str, Any] = {}
        for key, item in value.items():
            if key in PULUMI_ONLY:
                continue
            member = RENAMES.get((shape.name, key), key[:1].upper() + key[1:])
            assert member in shape.members, f"{path}.{key}: {shape.name} has no member {member}"
            members[member] = to_api(item, shape.members[member], f"{path}.{key}")
        return members
    if kind == "list":
        assert isinstance(value, list), f"{path}: {value!r} is not a list"
        return [to_api(item, shape.member, f"{path}[{i}]") for i, item in enumerate(value)]
    if kind == "map":
        assert isinstance(value, dict), f"{path}: {value!r} is not a map"
        return {key: to_api(item, shape.value, f"{path}.{key}") for key, item in value.items()}
    if kind in ("integer", "long"):
        assert float(value).is_integer(), f"{path}: {value!r} is not a whole number"
        return int(value)
    if kind in ("double", "float"):
        return float(value)
    return value


def request(resource: CapturedResource) -> tuple[dict[str, Any], StructureShape]:
    service_name, operation = OPERATIONS[resource.type]
    shape = input_shape(service_name, operation)
    inputs = dict(resource.inputs)
    tags = inputs.pop("tags", None)
    name_member = NAME_MEMBERS.get(operation)
    name = inputs.pop("name", resource.name)
    if operation == "PutMetricAlarm":
        inputs["dimensions"] = [{"name": k, "value": v} for k, v in inputs["dimensions"].items()]
    params: dict[str, Any] = to_api(inputs, shape, resource.name)
    if name_member is not None:
        params[name_member] = name
    if tags is not None:
        tag_shape = shape.members["Tags"]
        params["Tags"] = to_api(
            tags
            if tag_shape.type_name == "map"
            else [{"key": k, "value": v} for k, v in tags.items()],
            tag_shape,
            f"{resource.name}.tags",
        )
    return params, shape


# -- validation ------------------------------------------------------------------------------


# Java's Unicode classes, which Python's re lacks, by their nearest equivalents (used inside
# character classes, so each maps to class members).
UNICODE_CLASSES = {
    "L": r"a-zA-Z\u00aa-\uffff",
    "N": r"\d",
    "Alnum": r"a-zA-Z0-9",
    "Z": r"\s",
    "Zs": r"\s",
    "M": r"\u0300-\u036f",
    "S": r"$+<=>^`|~",
    "P": r"!-/:-@\[-`{-~",
    "Print": r"\x20-\x7e\u00a0-\uffff",
}


@cache
def _pattern(raw: str) -> re.Pattern[str]:
    # Java writes the supplementary planes as a UTF-16 surrogate range.
    raw = raw.replace(r"\uD800\uDC00-\uDBFF\uDFFF", r"\U00010000-\U0010FFFF")
    out: list[str] = []
    in_class = False
    index = 0
    while index < len(raw):
        if raw.startswith(r"\p{", index):
            end = raw.index("}", index)
            members = UNICODE_CLASSES[raw[index + 3 : end]]
            out.append(members if in_class else f"[{members}]")
            index = end + 1
            continue
        char = raw[index]
        if char == "\\":
            out.append(raw[index : index + 2])
            index += 2
            continue
        in_class = (in_class or char == "[") and char != "]"
        out.append(char)
        index += 1
    return re.compile("".join(out))


def constraint_errors(value: Any, shape: Shape, path: str) -> list[str]:
    """What botocore's ParamValidator leaves out: enums, maximums and patterns."""
    errors: list[str] = []
    meta = shape.metadata
    kind = shape.type_name
    if kind == "structure":
        for key, item in value.items():
            errors += constraint_errors(item, shape.members[key], f"{path}.{key}")
    elif kind == "list":
        for index, item in enumerate(value):
            errors += constraint_errors(item, shape.member, f"{path}[{index}]")
    elif kind == "map":
        for key, item in value.items():
            errors += constraint_errors(key, shape.key, f"{path} key {key}")
            errors += constraint_errors(item, shape.value, f"{path}.{key}")
    enum = getattr(shape, "enum", None)
    if enum and value not in enum:
        errors.append(f"{path}: {value!r} is not one of {shape.name} ({len(enum)} values)")
    numeric = kind in ("integer", "long", "double", "float") and isinstance(value, int | float)
    size = value if numeric else None
    if kind in ("string", "list", "map"):
        size = len(value)
    if size is not None and "min" in meta and size < meta["min"]:
        errors.append(f"{path}: {size} is below the minimum {meta['min']}")
    if size is not None and "max" in meta and size > meta["max"]:
        errors.append(f"{path}: {size} is above the maximum {meta['max']}")
    if kind == "string" and "pattern" in meta and not _pattern(meta["pattern"]).fullmatch(value):
        errors.append(f"{path}: {value!r} does not match {meta['pattern']}")
    return errors


def validate(params: dict[str, Any], shape: StructureShape) -> list[str]:
    report = ParamValidator().validate(params, shape)
    errors = [report.generate_report()] if report.has_errors() else []
    return errors + constraint_errors(params, shape, shape.name)


# -- tests -----------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=sorted(SPECS))
def captured(request: pytest.FixtureRequest) -> list[CapturedResource]:
    from inferstack.preview import record

    spec = SPECS[request.param]
    front_door = request.param == "full"
    return record(
        lambda: SageMakerEndpoint(spec["name"], spec, front_door=front_door),
        preview=False,
        config={"aws:region": REGION},
    )


def test_every_api_request_is_valid(captured: list[CapturedResource]) -> None:
    checked = [r for r in captured if r.type in OPERATIONS]
    assert {r.type for r in checked} >= {
        "aws:sagemaker/model:Model",
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
        "aws:sagemaker/endpoint:Endpoint",
        "aws:appautoscaling/target:Target",
        "aws:appautoscaling/policy:Policy",
    }
    for resource in checked:
        params, shape = request(resource)
        assert validate(params, shape) == [], (resource.name, json.dumps(params, indent=1))


def test_the_mapping_covers_every_input(captured: list[CapturedResource]) -> None:
    model = next(r for r in captured if r.type == "aws:sagemaker/model:Model")
    params, _ = request(model)
    expected = set(model.inputs) - PULUMI_ONLY - {"tags"}
    assert len(params) == len(expected) + 2  # + ModelName, Tags
    container = params["PrimaryContainer"]
    assert container["Image"] == model.inputs["primaryContainer"]["image"]
    assert params["VpcConfig"]["Subnets"] == model.inputs["vpcConfig"]["subnets"]


def test_instance_type_is_in_the_api_enum(captured: list[CapturedResource]) -> None:
    config = next(
        r for r in captured if r.type == "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
    )
    instance = config.inputs["productionVariants"][0]["instanceType"]
    assert instance in service("sagemaker").shape_for("ProductionVariantInstanceType").enum


# -- the oracle catches what it should -------------------------------------------------------


def _config(**variant: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "EndpointConfigName": "bot",
        "ProductionVariants": [
            {
                "VariantName": "primary",
                "ModelName": "bot-model",
                "InstanceType": "ml.g5.2xlarge",
                "InitialInstanceCount": 1,
            }
        ],
    }
    base["ProductionVariants"][0].update(variant)
    return base


def test_a_valid_request_passes() -> None:
    assert validate(_config(), input_shape("sagemaker", "CreateEndpointConfig")) == []


@pytest.mark.parametrize(
    ("variant", "fragment"),
    [
        ({"InstanceType": "ml.g5.2xlarg"}, "ProductionVariantInstanceType"),
        ({"ContainerStartupHealthCheckTimeoutInSeconds": 4000}, "above the maximum 3600"),
        ({"ModelDataDownloadTimeoutInSeconds": 30}, "below the minimum 60"),
        ({"InitialInstanceCount": "two"}, "Invalid type"),
        ({"VariantName": "bad_name!"}, "does not match"),
        ({"ManagedInstanceScaling": {"Status": "ON"}}, "ManagedInstanceScalingStatus"),
    ],
)
def test_the_oracle_rejects_invalid_requests(variant: dict[str, Any], fragment: str) -> None:
    errors = validate(_config(**variant), input_shape("sagemaker", "CreateEndpointConfig"))
    assert errors
    assert fragment in "\n".join(errors)


def test_the_oracle_requires_members() -> None:
    errors = validate({"ProductionVariants": []}, input_shape("sagemaker", "CreateEndpointConfig"))
    assert "EndpointConfigName" in "\n".join(errors)


def test_the_oracle_knows_the_scaling_metrics() -> None:
    shape = input_shape("application-autoscaling", "PutScalingPolicy")
    params = {
        "PolicyName": "p",
        "ServiceNamespace": "sagemaker",
        "ResourceId": "endpoint/bot/variant/primary",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": 8.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerConcurrency"},
        },
    }
    assert "MetricType" in "\n".join(validate(params, shape))


def test_an_unknown_pulumi_property_fails_the_mapping() -> None:
    shape = input_shape("sagemaker", "CreateModel")
    with pytest.raises(AssertionError, match="no member"):
        to_api({"primaryContainer": {"imageUri": "x"}}, shape, "model")

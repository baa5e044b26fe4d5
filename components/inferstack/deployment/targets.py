"""Checks that need the target: hardware, memory fit, spot, residency, scaling, auth, budget.

They run before any resource is registered (components call :func:`validate_for_target` first),
so a spec that cannot work fails in seconds instead of after a twenty-minute deploy.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from inferstack import catalog, sizing
from inferstack.deployment.applicability import check_applicable
from inferstack.deployment.models import SUPPORTED_AUTH, DeploymentSpec
from inferstack.errors import SpecError

CLOUD_TARGETS = ("sagemaker", "azureml", "vertex")
TARGET_TITLES = {
    "onprem": "Kubernetes",
    "sagemaker": "SageMaker",
    "azureml": "Azure ML",
    "vertex": "Vertex AI",
    "jetson": "Jetson",
}
REGION_KEY_NAMES = {
    "sagemaker": "aws:region",
    "azureml": "azure-native:location",
    "vertex": "gcp:region",
}
NO_SPOT = {
    "sagemaker": (
        "SageMaker real-time endpoints have no spot capacity",
        "set spot: false; cost levers: serving.mode: async with scaling.scale_to_zero: true, "
        "a smaller instance_type, or managed spot training for fine-tuning jobs",
    ),
    "azureml": (
        "Azure ML managed online endpoints have no low-priority or spot VMs",
        "set spot: false; low-priority VMs exist for batch endpoints only; "
        "lower cost with a smaller instance_type or fewer min_replicas",
    ),
    "onprem": (
        "on-prem Kubernetes has no spot market",
        "set spot: false; to use preemptible nodes, give their node_selector and tolerations",
    ),
    "jetson": ("Jetson devices are owned hardware with no spot capacity", "set spot: false"),
}
SCALE_TO_ZERO_NOTE = {
    "azureml": "Azure ML managed online endpoints keep at least 1 instance",
    "vertex": (
        "Vertex AI online prediction keeps at least 1 replica (scale-to-zero is in preview)"
    ),
    "jetson": "Jetson devices run one replica each and are always on",
}


# Context served when model.max_context is not given: a model's full window (128k for Llama
# 3.1) times max_concurrency would size the KV cache for a load nobody plans for.
DEFAULT_CONTEXT = 8192


def serving_context(spec: DeploymentSpec) -> int:
    """The context length the runtime serves: the spec's, else min(model's own, 8192)."""
    if spec.model.max_context is not None:
        return spec.model.max_context
    if spec.model.described_in_full:
        return DEFAULT_CONTEXT
    return min(catalog.model(spec.model.id).default_context, DEFAULT_CONTEXT)


@dataclass(frozen=True)
class Hardware:
    """What one replica runs on, resolved from the spec and the catalog."""

    target: str
    name: str  # instance type, GPU model (onprem) or Jetson module
    gpu_count: int


def resolve_hardware(spec: DeploymentSpec, target: str) -> Hardware:
    """The hardware one replica uses; picks the cheapest fitting SKU when none is given."""
    compute = spec.compute
    if target == "onprem":
        gpu_type = compute.gpu_type or "L4"
        if gpu_type not in catalog.gpus():
            raise _unknown("compute.gpu_type", gpu_type, "GPU model", list(catalog.gpus()))
        count = compute.gpu_count
        if count is None:
            report = _fit(spec, target, gpu_type, gpu_count=8)
            count = report.tensor_parallel if report.fits else 1
        return Hardware(target, gpu_type, count)
    if target == "jetson":
        modules = catalog.jetson_modules()
        if compute.fleet is not None:
            if compute.instance_type is not None:
                raise SpecError(
                    "compute.instance_type",
                    "is set per device group in a fleet",
                    "remove it and give each compute.fleet.device_groups[].module",
                )
            for index, group in enumerate(compute.fleet.device_groups):
                if group.module not in modules:
                    path = f"compute.fleet.device_groups[{index}].module"
                    raise _unknown(path, group.module, "Jetson module", list(modules))
            return Hardware(target, compute.fleet.device_groups[0].module, 1)
        module = compute.instance_type or "agx-orin-64gb"
        if module not in modules:
            raise _unknown("compute.instance_type", module, "Jetson module", list(modules))
        return Hardware(target, module, 1)
    skus = catalog.instance_types(target)
    name = compute.instance_type
    if name is None:
        name = sizing.smallest_fitting(
            spec.model.id if not spec.model.described_in_full else custom_model(spec),
            target,
            dtype=spec.model.dtype,
            context=serving_context(spec),
            concurrency=spec.serving.max_concurrency,
            runtime=spec.serving.runtime,
        )
        if name is None:
            raise SpecError(
                "compute.instance_type",
                f"no {TARGET_TITLES[target]} instance type fits {spec.model.id} "
                f"in {spec.model.dtype}",
                "use a quantized model.dtype (fp8, int4-awq) or a smaller model",
            )
    if name not in skus:
        raise _unknown(
            "compute.instance_type", name, f"{TARGET_TITLES[target]} instance type", list(skus)
        )
    return Hardware(target, name, skus[name].gpu_count)


def validate_for_target(spec: DeploymentSpec, target: str, region: str | None = None) -> Hardware:
    """Raise SpecError for anything the target cannot do; return the resolved hardware."""
    _check_auth(spec, target)
    _check_runtime(spec, target)
    _check_model_known(spec)
    if target == "onprem" and spec.compute.instance_type is not None:
        raise SpecError(
            "compute.instance_type",
            "on-prem Kubernetes has no instance types",
            "describe the GPU with compute.gpu_type and compute.gpu_count",
        )
    if target != "onprem" and (spec.compute.gpu_type or spec.compute.gpu_count):
        field = "compute.gpu_type" if spec.compute.gpu_type else "compute.gpu_count"
        raise SpecError(field, "is for on-prem Kubernetes only", "set compute.instance_type")
    check_applicable(spec, target)
    hardware = resolve_hardware(spec, target)
    _check_fit(spec, hardware)
    _check_spot(spec, target, hardware)
    _check_scaling(spec, target)
    _check_residency(spec, target, region)
    _check_budget(spec, target, hardware)
    return hardware


def _check_auth(spec: DeploymentSpec, target: str) -> None:
    auth = spec.auth_for(target)
    allowed = SUPPORTED_AUTH[target]
    if auth not in allowed:
        raise SpecError(
            "security.auth",
            f"'{auth}' is not available on {TARGET_TITLES[target]}",
            f"use one of {', '.join(allowed)}",
        )


def _check_runtime(spec: DeploymentSpec, target: str) -> None:
    runtime = catalog.runtimes()[spec.serving.runtime]
    if target not in runtime.targets:
        usable = [name for name, r in catalog.runtimes().items() if target in r.targets]
        raise SpecError(
            "serving.runtime",
            f"'{runtime.name}' does not run on {TARGET_TITLES[target]}",
            f"use one of {', '.join(usable)}",
        )


def _check_model_known(spec: DeploymentSpec) -> None:
    if spec.model.described_in_full:
        return
    try:
        info = catalog.model(spec.model.id)
    except KeyError:
        ids = list(catalog.models())
        close = difflib.get_close_matches(spec.model.id, ids, n=1, cutoff=0.5)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise SpecError(
            "model.id",
            f"'{spec.model.id}' is not in the model catalog",
            f"{hint}or describe it with parameters_b, layers, kv_heads and head_dim",
        ) from None
    if spec.model.max_context is not None and spec.model.max_context > info.default_context:
        raise SpecError(
            "model.max_context",
            f"{spec.model.max_context} exceeds {info.id}'s context of {info.default_context}",
            f"set max_context <= {info.default_context}",
        )


def model_info(spec: DeploymentSpec) -> catalog.ModelInfo:
    """The model's shape: from the catalog, or as the spec describes it in full."""
    return custom_model(spec) if spec.model.described_in_full else catalog.model(spec.model.id)


def custom_model(spec: DeploymentSpec) -> catalog.ModelInfo:
    model = spec.model
    assert model.parameters_b is not None and model.layers is not None
    assert model.kv_heads is not None and model.head_dim is not None
    return catalog.ModelInfo(
        id=model.id,
        parameters_b=model.parameters_b,
        layers=model.layers,
        kv_heads=model.kv_heads,
        head_dim=model.head_dim,
        default_context=model.max_context or DEFAULT_CONTEXT,
        moe=False,
        active_parameters_b=model.parameters_b,
    )


def _fit(
    spec: DeploymentSpec, target: str, hardware: str, gpu_count: int | None
) -> sizing.FitReport:
    model = custom_model(spec) if spec.model.described_in_full else spec.model.id
    return sizing.fit(
        model,
        target,
        hardware,
        dtype=spec.model.dtype,
        context=serving_context(spec),
        concurrency=spec.serving.max_concurrency,
        runtime=spec.serving.runtime,
        gpu_count=gpu_count,
    )


def _check_fit(spec: DeploymentSpec, hardware: Hardware) -> None:
    if hardware.target == "jetson":
        _check_jetson_fit(spec, hardware)
        return
    report = _fit(spec, hardware.target, hardware.name, hardware.gpu_count)
    if report.fits:
        return
    field = "compute.gpu_type" if hardware.target == "onprem" else "compute.instance_type"
    if report.smallest_fitting:
        fix = (
            f"use {report.smallest_fitting}, a quantized model.dtype, "
            "or lower serving.max_concurrency"
        )
    else:
        fix = "use a quantized model.dtype, a smaller model, or lower model.max_context"
    raise SpecError(field, report.summary(), fix)


def _check_jetson_fit(spec: DeploymentSpec, hardware: Hardware) -> None:
    """Per device group with a fleet (its module, cohort model and variant); else the module."""
    from inferstack.jetson import fit, plan

    if spec.compute.fleet is not None:
        plan.check(spec)
    else:
        fit.check_module(spec, hardware.name)


def _check_spot(spec: DeploymentSpec, target: str, hardware: Hardware) -> None:
    if not spec.compute.spot:
        return
    if target in NO_SPOT:
        problem, fix = NO_SPOT[target]
        raise SpecError("compute.spot", problem, fix)
    sku = catalog.instance_types(target)[hardware.name]
    if not sku.spot:
        raise SpecError(
            "compute.spot",
            f"{hardware.name} has no spot capacity on {TARGET_TITLES[target]}",
            "set spot: false or pick an instance_type with spot capacity",
        )


def _check_scaling(spec: DeploymentSpec, target: str) -> None:
    if spec.serving.mode == "async" and target != "sagemaker":
        raise SpecError(
            "serving.mode", "async inference is a SageMaker endpoint type", "use mode: realtime"
        )
    if not spec.scaling.scale_to_zero:
        return
    if target == "sagemaker" and spec.serving.mode != "async":
        raise SpecError(
            "scaling.scale_to_zero",
            "SageMaker real-time endpoints keep at least 1 instance",
            "set serving.mode: async to scale to zero on the request backlog",
        )
    if target in SCALE_TO_ZERO_NOTE:
        raise SpecError(
            "scaling.scale_to_zero", SCALE_TO_ZERO_NOTE[target], "set scale_to_zero: false"
        )


def _check_residency(spec: DeploymentSpec, target: str, region: str | None) -> None:
    residency = spec.compliance.residency
    if target not in CLOUD_TARGETS or not residency:
        return
    key = REGION_KEY_NAMES[target]
    allowed = catalog.residency_regions(target, residency)
    if region is None:
        raise SpecError(
            key,
            f"is required when compliance.data_residency is {residency}",
            f"set {key} to one of {', '.join(allowed[:6])}",
        )
    if region not in allowed:
        raise SpecError(
            "compliance.data_residency",
            f"region '{region}' ({key}) is outside {residency}",
            f"set {key} to one of {', '.join(allowed[:6])}, or change data_residency",
        )


def _check_budget(spec: DeploymentSpec, target: str, hardware: Hardware) -> None:
    budget = spec.cost.monthly_budget_usd
    if budget is None or target not in CLOUD_TARGETS:
        return
    cost = sizing.monthly_cost_usd(target, hardware.name, spec.min_replicas)
    if cost is not None and cost > budget:
        raise SpecError(
            "cost.monthly_budget_usd",
            f"{spec.min_replicas} x {hardware.name} costs about ${cost:,.0f}/month "
            f"at on-demand prices, over the ${budget:,.0f} budget",
            "raise the budget, lower scaling.min_replicas, or pick a smaller instance_type",
        )


def _unknown(path: str, value: str, what: str, known: list[str]) -> SpecError:
    close = difflib.get_close_matches(value, known, n=1, cutoff=0.6)
    fix = f"did you mean '{close[0]}'?" if close else f"known: {', '.join(sorted(known)[:12])}"
    return SpecError(path, f"'{value}' is not a {what}", fix)

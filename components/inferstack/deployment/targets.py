"""Checks that need the target: hardware, memory fit, spot, residency, scaling, auth, budget.

They run before any resource is registered (components call :func:`validate_for_target` first),
so a spec that cannot work fails in seconds instead of after a twenty-minute deploy.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from inferstack import catalog, sizing, targets
from inferstack.deployment.applicability import check_applicable
from inferstack.deployment.models import SUPPORTED_AUTH, DeploymentSpec
from inferstack.errors import SpecError
from inferstack.targets import HardwareKind, Target

# Context served when model.max_context is not given: a model's full window (128k for Llama
# 3.1) times max_concurrency would size the KV cache for a load nobody plans for.
DEFAULT_CONTEXT = 8192


def serving_context(spec: DeploymentSpec) -> int:
    """The context length the runtime serves: the spec's, else min(model's own, 8192)."""
    if spec.model.max_context is not None:
        return spec.model.max_context
    if spec.model.described_in_full:
        return DEFAULT_CONTEXT
    return sizing.default_context(spec.model.id)


@dataclass(frozen=True)
class Hardware:
    """What one replica runs on, resolved from the spec and the catalog."""

    target: str
    name: str  # instance type, GPU model (onprem) or Jetson module
    gpu_count: int


def resolve_hardware(spec: DeploymentSpec, target: str) -> Hardware:
    """The hardware one replica uses; picks the cheapest fitting SKU when none is given."""
    descriptor = targets.get(target)
    return _RESOLVERS[descriptor.hardware](spec, descriptor)


def _resolve_gpu(spec: DeploymentSpec, target: Target) -> Hardware:
    """A GPU model and how many of them (tensor parallel when the model needs more than one)."""
    compute = spec.compute
    gpu_type = compute.gpu_type or "L4"
    if gpu_type not in catalog.gpus():
        raise _unknown("compute.gpu_type", gpu_type, "GPU model", list(catalog.gpus()))
    count = compute.gpu_count
    if count is None:
        report = fit_spec(spec, target.name, gpu_type, gpu_count=catalog.ONPREM_MAX_GPUS)
        count = report.tensor_parallel if report.fits else 1
    return Hardware(target.name, gpu_type, count)


def _resolve_module(spec: DeploymentSpec, target: Target) -> Hardware:
    """A Jetson module: the one given, or each device group's (the first names the fleet's)."""
    compute = spec.compute
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
        return Hardware(target.name, compute.fleet.device_groups[0].module, 1)
    module = compute.instance_type or "agx-orin-64gb"
    if module not in modules:
        raise _unknown("compute.instance_type", module, "Jetson module", list(modules))
    return Hardware(target.name, module, 1)


def _resolve_sku(spec: DeploymentSpec, target: Target) -> Hardware:
    """A cloud instance type: the one given, else the cheapest the model fits on."""
    skus = catalog.instance_types(target.name)
    name = spec.compute.instance_type
    if name is None:
        name = sizing.smallest_fitting(
            model_info(spec),
            target.name,
            dtype=spec.model.dtype,
            context=serving_context(spec),
            concurrency=spec.serving.max_concurrency,
            runtime=spec.serving.runtime,
            gpu_memory_utilization=spec.serving.gpu_memory_utilization,
            kv_cache_dtype=spec.serving.kv_cache_dtype,
        )
        if name is None:
            raise SpecError(
                "compute.instance_type",
                f"no {target.title} instance type fits {spec.model.id} in {spec.model.dtype}",
                "use a quantized model.dtype (fp8, int4-awq) or a smaller model",
            )
    if name not in skus:
        raise _unknown("compute.instance_type", name, f"{target.title} instance type", list(skus))
    return Hardware(target.name, name, skus[name].gpu_count)


_RESOLVERS: dict[HardwareKind, Callable[[DeploymentSpec, Target], Hardware]] = {
    "gpu": _resolve_gpu,
    "module": _resolve_module,
    "sku": _resolve_sku,
}


def validate_for_target(spec: DeploymentSpec, target: str, region: str | None = None) -> Hardware:
    """Raise SpecError for anything the target cannot do; return the resolved hardware."""
    descriptor = targets.get(target)
    _check_auth(spec, descriptor)
    _check_runtime(spec, descriptor)
    _check_model_known(spec)
    if descriptor.hardware == "gpu" and spec.compute.instance_type is not None:
        raise SpecError(
            "compute.instance_type",
            "on-prem Kubernetes has no instance types",
            "describe the GPU with compute.gpu_type and compute.gpu_count",
        )
    if descriptor.hardware != "gpu" and (spec.compute.gpu_type or spec.compute.gpu_count):
        field = "compute.gpu_type" if spec.compute.gpu_type else "compute.gpu_count"
        raise SpecError(field, "is for on-prem Kubernetes only", "set compute.instance_type")
    check_applicable(spec, target)
    _check_retention(spec, descriptor)
    _check_public(spec, descriptor)
    hardware = resolve_hardware(spec, target)
    _check_fit(spec, hardware)
    _check_spot(spec, descriptor, hardware)
    _check_scaling(spec, descriptor)
    _check_residency(spec, descriptor, region)
    _check_budget(spec, descriptor, hardware)
    return hardware


def _check_auth(spec: DeploymentSpec, target: Target) -> None:
    auth = spec.auth_for(target.name)
    allowed = SUPPORTED_AUTH[target.name]
    if auth not in allowed:
        raise SpecError(
            "security.auth",
            f"'{auth}' is not available on {target.title}",
            f"use one of {', '.join(allowed)}",
        )


def _check_retention(spec: DeploymentSpec, target: Target) -> None:
    """``observability.log_retention_days`` must be a period the target's log service keeps."""
    days = spec.observability.log_retention_days
    accepted = target.log_retention
    if accepted is None or accepted.accepts(days):
        return
    raise SpecError(
        "observability.log_retention_days",
        f"{days or '0 (never expire)'} is not a retention period {accepted.service} accepts "
        f"({accepted.accepted})",
        f"use {accepted.nearest(days)}",
    )


def _check_public(spec: DeploymentSpec, target: Target) -> None:
    """A public endpoint exists only where the component can create one, and names its callers'
    networks where the platform can filter by them."""
    network = spec.security.network
    if target.no_public is not None and network.public:
        raise SpecError("security.network.public", target.no_public.problem, target.no_public.fix)
    if target.ip_filter and network.public and not network.allowed_cidrs:
        raise SpecError(
            "security.network.allowed_cidrs",
            "a public endpoint needs the callers' networks",
            "list them in allowed_cidrs, or set public: false",
        )


def require_runtime(spec: DeploymentSpec, runtimes: Sequence[str], missing: str) -> str:
    """``serving.runtime`` when it is one of ``runtimes``; else a SpecError saying it has no
    ``missing`` (the image or workload the target would run it in)."""
    runtime = spec.serving.runtime
    if runtime not in runtimes:
        raise SpecError(
            "serving.runtime",
            f"'{runtime}' has no {missing}",
            f"use one of {', '.join(runtimes)}",
        )
    return runtime


def _check_runtime(spec: DeploymentSpec, target: Target) -> None:
    runtime = catalog.runtimes()[spec.serving.runtime]
    if target.name not in runtime.targets:
        usable = [name for name, r in catalog.runtimes().items() if target.name in r.targets]
        raise SpecError(
            "serving.runtime",
            f"'{runtime.name}' does not run on {target.title}",
            f"use one of {', '.join(usable)}",
        )


def _check_model_known(spec: DeploymentSpec) -> None:
    if spec.model.config is not None:
        info = custom_model(spec)
    elif spec.model.described_in_full:
        return
    else:
        try:
            info = catalog.model(spec.model.id)
        except KeyError:
            ids = list(catalog.models())
            close = difflib.get_close_matches(spec.model.id, ids, n=1, cutoff=0.5)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise SpecError(
                "model.id",
                f"'{spec.model.id}' is neither in the model catalog nor in the models lock",
                f"{hint}run `inferstack models lock` (with network) to lock it, or set "
                "model.config to its config.json",
            ) from None
    if spec.model.max_context is not None and spec.model.max_context > info.default_context:
        raise SpecError(
            "model.max_context",
            f"{spec.model.max_context} exceeds {info.id}'s context of {info.default_context}",
            f"set max_context <= {info.default_context}",
        )


def model_info(spec: DeploymentSpec) -> catalog.ModelInfo:
    """The model's shape: as the spec describes it (config.json or fields), else the catalog."""
    return custom_model(spec) if spec.model.described_in_full else catalog.model(spec.model.id)


def custom_model(spec: DeploymentSpec) -> catalog.ModelInfo:
    """The shape the spec gives: from model.config's config.json, or the four fields."""
    model = spec.model
    if model.config is not None:
        return _config_model(model.config, model.id)
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


def _config_model(path: str, model_id: str) -> catalog.ModelInfo:
    from inferstack.catalog.config import ModelConfigError, model_from_config

    location = Path(path)
    if not location.exists():
        raise SpecError(
            "model.config",
            f"'{path}' does not exist (relative to {Path.cwd()})",
            "give the path of the model's config.json or of its directory",
        )
    try:
        return model_from_config(location, model_id=model_id)
    except ModelConfigError as exc:
        raise SpecError("model.config", str(exc), "give a transformer's config.json") from None


def fit_spec(
    spec: DeploymentSpec, target: str, hardware: str, gpu_count: int | None
) -> sizing.FitReport:
    """:func:`sizing.fit` of the spec's model as it asks to be served, on ``hardware``."""
    return sizing.fit(
        model_info(spec),
        target,
        hardware,
        dtype=spec.model.dtype,
        context=serving_context(spec),
        concurrency=spec.serving.max_concurrency,
        runtime=spec.serving.runtime,
        gpu_count=gpu_count,
        gpu_memory_utilization=spec.serving.gpu_memory_utilization,
        kv_cache_dtype=spec.serving.kv_cache_dtype,
    )


def _check_fit(spec: DeploymentSpec, hardware: Hardware) -> None:
    """Fail only where the runtime would refuse to start; warn where requests would queue."""
    descriptor = targets.get(hardware.target)
    if descriptor.hardware == "module":
        _check_jetson_fit(spec, hardware)
        return
    report = fit_spec(spec, hardware.target, hardware.name, hardware.gpu_count)
    if report.fits:
        sizing.log_advisory(spec.name, report)
        return
    if report.suggestions:
        fix = "; or ".join(report.suggestions)
    else:
        fix = "use a smaller model, or hardware of another target"
    raise SpecError(descriptor.hardware_field, report.summary(), fix)


def _check_jetson_fit(spec: DeploymentSpec, hardware: Hardware) -> None:
    """Per device group with a fleet (its module, cohort model and variant); else the module."""
    from inferstack.jetson import fit, plan

    if spec.compute.fleet is not None:
        plan.check(spec)
    else:
        fit.check_module(spec, hardware.name)


def _check_spot(spec: DeploymentSpec, target: Target, hardware: Hardware) -> None:
    if not spec.compute.spot:
        return
    if target.no_spot is not None:
        raise SpecError("compute.spot", target.no_spot.problem, target.no_spot.fix)
    sku = catalog.instance_types(target.name)[hardware.name]
    if not sku.spot:
        raise SpecError(
            "compute.spot",
            f"{hardware.name} has no spot capacity on {target.title}",
            "set spot: false or pick an instance_type with spot capacity",
        )


def _check_scaling(spec: DeploymentSpec, target: Target) -> None:
    if spec.serving.mode == "async" and not target.async_mode:
        titles = " or ".join(t.title for t in targets.REGISTRY.values() if t.async_mode)
        raise SpecError(
            "serving.mode", f"async inference is a {titles} endpoint type", "use mode: realtime"
        )
    if not spec.scaling.scale_to_zero:
        return
    refusal = target.no_scale_to_zero
    if refusal is None and spec.serving.mode != "async":
        refusal = target.no_realtime_scale_to_zero
    if refusal is not None:
        raise SpecError("scaling.scale_to_zero", refusal.problem, refusal.fix)


def _check_residency(spec: DeploymentSpec, target: Target, region: str | None) -> None:
    residency = spec.compliance.residency
    key = target.region_key
    if key is not None and region is not None and region not in catalog.regions(target.name):
        # A misspelt region is named as such, before residency calls it out of bounds. One the
        # catalog does not list and nothing resembles passes when no residency applies.
        known = list(catalog.regions(target.name))
        if residency or difflib.get_close_matches(region, known, n=1, cutoff=0.6):
            raise _unknown(key, region, f"{target.title} region", known)
    if key is None or not residency:
        return
    allowed = catalog.residency_regions(target.name, residency)
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


def budget_usd(spec: DeploymentSpec, hardware: Hardware) -> float | None:
    """The monthly budget a cloud deployment is watched against.

    ``cost.monthly_budget_usd`` when given; otherwise the on-demand cost of
    ``scaling.max_replicas`` (rounded up to $100), the most the deployment can cost when it
    scales as configured, so every priced deployment has a budget alert by default (OWASP LLM10,
    unbounded consumption). None where the catalog has no price for the hardware.
    """
    if spec.cost.monthly_budget_usd is not None:
        return spec.cost.monthly_budget_usd
    most = sizing.monthly_cost_usd(hardware.target, hardware.name, spec.scaling.max_replicas)
    return None if most is None else float(math.ceil(most / 100) * 100)


def _check_budget(spec: DeploymentSpec, target: Target, hardware: Hardware) -> None:
    budget = spec.cost.monthly_budget_usd
    if budget is None or not target.priced:
        return
    cost = sizing.monthly_cost_usd(target.name, hardware.name, spec.min_replicas)
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

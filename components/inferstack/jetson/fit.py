"""Which variant each Jetson module runs, and whether the model fits its unified memory.

Jetson memory is shared by the OS, k3s and the GPU, so a model that fits a data-center GPU of the
same size can still be OOM-killed on the device. Every device group is checked before any
resource exists; a group that does not fit names the module, the model and the best variant
that would fit.
"""

from __future__ import annotations

from dataclasses import dataclass

from inferstack import catalog, sizing
from inferstack.catalog.types import JetsonModule, ModelInfo
from inferstack.deployment.fleet import DeviceGroupSpec, FleetSpec
from inferstack.deployment.models import DeploymentSpec
from inferstack.errors import SpecError

TARGET = "jetson"
# NVIDIA's advice for the smallest modules: llama.cpp with 4-bit K-quant GGUF files.
SMALL_MODULE_GB = 8
SMALL_MODULE_VARIANT = ("gguf-q4_k_m", "llamacpp")
# Variants tried when a group does not fit, best quality first. Orin has no FP8 tensor cores
# and INT8 needs a W8A8 checkpoint, so neither is suggested.
CANDIDATES: tuple[tuple[str, str], ...] = (
    ("bf16", "vllm"),
    ("int4-awq", "vllm"),
    ("gguf-q8_0", "llamacpp"),
    ("gguf-q5_k_m", "llamacpp"),
    ("gguf-q4_k_m", "llamacpp"),
)
SUPPORTED_RUNTIMES = ("vllm", "llamacpp", "ollama")


@dataclass(frozen=True)
class Variant:
    """How one module serves the model, resolved from the spec, the variant map and the family."""

    dtype: str
    runtime: str
    context: int
    concurrency: int


def module(name: str, path: str = "compute.instance_type") -> JetsonModule:
    modules = catalog.jetson_modules()
    if name not in modules:
        import difflib

        close = difflib.get_close_matches(name, list(modules), n=1, cutoff=0.6)
        fix = f"did you mean '{close[0]}'?" if close else f"use one of {', '.join(modules)}"
        raise SpecError(path, f"'{name}' is not a Jetson module", fix)
    return modules[name]


def model_for(spec: DeploymentSpec, model_id: str | None) -> str | ModelInfo:
    """The model a cohort runs: a catalog id, or the deployment's own fully described model."""
    if model_id is None or model_id == spec.model.id:
        if spec.model.described_in_full:
            from inferstack.deployment.targets import custom_model

            return custom_model(spec)  # its four shape fields, or its config.json
        return spec.model.id
    return model_id


def default_context(spec: DeploymentSpec, model: str | ModelInfo) -> int:
    if spec.model.max_context is not None:
        return spec.model.max_context
    info = model if isinstance(model, ModelInfo) else catalog.model(model)
    return info.default_context


def variant(spec: DeploymentSpec, hw: JetsonModule, model: str | ModelInfo) -> Variant:
    """The variant ``hw`` runs: the fleet's variant map, else the default for its size.

    Without a fleet (one module in compute.instance_type) the spec's own dtype and runtime hold.
    """
    fleet = spec.compute.fleet
    chosen = fleet.variants.get(hw.name) if fleet is not None else None
    dtype: str
    runtime: str
    if chosen is not None:
        dtype, runtime = chosen.dtype, chosen.runtime
        context, concurrency = chosen.max_context, chosen.max_concurrency
    elif fleet is not None and hw.memory_gb <= SMALL_MODULE_GB:
        (dtype, runtime), context, concurrency = SMALL_MODULE_VARIANT, None, None
    else:
        dtype, runtime, context, concurrency = (
            spec.model.dtype,
            spec.serving.runtime,
            None,
            None,
        )
    return Variant(
        dtype=dtype,
        runtime=runtime,
        context=context or min(default_context(spec, model), hw.max_context),
        concurrency=concurrency or min(spec.serving.max_concurrency, hw.max_num_seqs),
    )


def fit(model: str | ModelInfo, hw: JetsonModule, v: Variant) -> sizing.FitReport:
    return sizing.fit(
        model,
        TARGET,
        hw.name,
        dtype=v.dtype,
        context=v.context,
        concurrency=v.concurrency,
        runtime=v.runtime,
    )


def best_variant(model: str | ModelInfo, hw: JetsonModule, v: Variant) -> Variant | None:
    """The highest-precision candidate that fits ``hw`` at the same context and concurrency."""
    for dtype, runtime in CANDIDATES:
        if hw.memory_gb <= SMALL_MODULE_GB and runtime != "llamacpp":
            continue
        candidate = Variant(dtype, runtime, v.context, v.concurrency)
        if fit(model, hw, candidate).fits:
            return candidate
    return None


def check_group(spec: DeploymentSpec, index: int, group: DeviceGroupSpec) -> None:
    """Raise SpecError when the group's module cannot run its cohort's model."""
    fleet = spec.compute.fleet
    assert fleet is not None
    path = f"compute.fleet.device_groups[{index}]"
    hw = module(group.module, f"{path}.module")
    cohort = fleet.cohort(fleet.cohort_of(group))
    model = model_for(spec, cohort.model)
    v = variant(spec, hw, model)
    check_runtime(v, f"compute.fleet.variants.{hw.name}")
    report = fit(model, hw, v)
    if report.fits:
        return
    raise SpecError(path, _problem(model, hw, v, report), _fix(model, hw, v))


def check_module(spec: DeploymentSpec, name: str) -> None:
    """Without a fleet: the spec's own dtype and runtime on compute.instance_type."""
    hw = module(name)
    model = model_for(spec, None)
    v = variant(spec, hw, model)
    report = fit(model, hw, v)
    if not report.fits:
        raise SpecError("compute.instance_type", _problem(model, hw, v, report), _fix(model, hw, v))


def check_runtime(v: Variant, path: str) -> None:
    runtime = catalog.runtimes()[v.runtime]
    if v.runtime not in SUPPORTED_RUNTIMES or TARGET not in runtime.targets:
        raise SpecError(
            path,
            f"runtime {v.runtime} is not served by the Jetson fleet",
            "use runtime vllm (bf16, int4-awq, int4-gptq), llamacpp or ollama (GGUF)",
        )
    if runtime.dtypes and v.dtype not in runtime.dtypes:
        raise SpecError(
            path,
            f"{v.runtime} does not load {v.dtype} weights",
            f"use one of {', '.join(runtime.dtypes)} with {v.runtime}",
        )


def check_fleet_fit(spec: DeploymentSpec, fleet: FleetSpec) -> None:
    for index, group in enumerate(fleet.device_groups):
        check_group(spec, index, group)


def _name(model: str | ModelInfo) -> str:
    return model.id if isinstance(model, ModelInfo) else model


def _problem(model: str | ModelInfo, hw: JetsonModule, v: Variant, report: sizing.FitReport) -> str:
    return (
        f"{_name(model)} {v.dtype} on {v.runtime} needs {report.memory.total_gb:.1f} GB "
        f"({v.context} tokens x {v.concurrency} sequences); {hw.name} has "
        f"{report.usable_gb:.1f} GB usable of its {hw.memory_gb:g} GB unified memory after the "
        f"{hw.reserve_gb:g} GB OS + k3s reserve"
    )


def _fix(model: str | ModelInfo, hw: JetsonModule, v: Variant) -> str:
    best = best_variant(model, hw, v)
    if best is not None:
        return (
            f"use dtype {best.dtype} with runtime {best.runtime}: compute.fleet.variants."
            f"{hw.name}: {{dtype: {best.dtype}, runtime: {best.runtime}}}"
        )
    # Nothing fits: say what the lightest variant needs and where it would run.
    dtype, runtime = CANDIDATES[-1]
    lightest = fit(model, hw, Variant(dtype, runtime, v.context, v.concurrency))
    bigger = f"move the group to {lightest.smallest_fitting}, " if lightest.smallest_fitting else ""
    return (
        f"even dtype {dtype} with runtime {runtime} needs {lightest.memory.total_gb:.1f} GB: "
        f"{bigger}lower compute.fleet.variants.{hw.name}.max_concurrency, or assign the cohort "
        "a smaller model"
    )

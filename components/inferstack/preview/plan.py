"""What a stack deploys, in the terms a reviewer checks first: the plan at the top of a report.

Target, region, model and dtype, hardware and replicas, tensor parallelism, how much of the
usable memory one replica takes (:func:`inferstack.sizing.fit`), and the monthly cost of the warm
replicas against ``cost.monthly_budget_usd``. Computed from the stack config with the same
functions the components validate with, so it is what the program planned.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from inferstack import sizing, targets


@dataclass(frozen=True)
class Plan:
    """One deployment's plan; ``None`` fields are not applicable to the target."""

    name: str
    target: str
    region: str | None
    model: str
    dtype: str
    runtime: str
    hardware: str
    replicas: int
    tensor_parallel: int
    fits: bool
    memory_gb: float
    usable_gb: float
    monthly_cost_usd: float | None
    monthly_budget_usd: float | None
    priced: bool

    @property
    def headroom_gb(self) -> float:
        return self.usable_gb - self.memory_gb

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "target": self.target,
            "region": self.region,
            "model": self.model,
            "dtype": self.dtype,
            "runtime": self.runtime,
            "hardware": self.hardware,
            "replicas": self.replicas,
            "tensor_parallel": self.tensor_parallel,
            "fits": self.fits,
            "memory_gb": round(self.memory_gb, 2),
            "usable_gb": round(self.usable_gb, 2),
            "monthly_cost_usd": self.monthly_cost_usd,
            "monthly_budget_usd": self.monthly_budget_usd,
        }


def stack_plan(config_path: str | Path) -> Plan | None:
    """The plan of an inferstack stack config.

    None when the config holds no deployment spec the components would accept: the program
    that ran is then not one of inferstack's components, and its own checks are what count.
    """
    from inferstack.deployment.loader import load_stack_config, read_stack_file
    from inferstack.errors import SpecError

    if "inferstack:deployment" not in read_stack_file(config_path).config:
        return None
    try:
        stack = load_stack_config(config_path, check_target=False)
    except SpecError:
        return None
    spec = stack.deployment
    descriptor = targets.get(stack.target)
    if descriptor.hardware == "module" and spec.compute.fleet is not None:
        return _fleet_plan(stack.target, stack.region, spec)
    from inferstack.deployment.targets import fit_spec, resolve_hardware

    hardware = resolve_hardware(spec, stack.target)
    gpu_count = hardware.gpu_count if descriptor.hardware == "gpu" else None
    report = fit_spec(spec, stack.target, hardware.name, gpu_count)
    label = hardware.name
    if descriptor.hardware == "gpu":
        label = f"{report.tensor_parallel} x {hardware.name}"
    return Plan(
        name=spec.name,
        target=stack.target,
        region=stack.region,
        model=spec.model.id,
        dtype=spec.model.dtype,
        runtime=report.runtime,
        hardware=label,
        replicas=spec.min_replicas,
        tensor_parallel=report.tensor_parallel,
        fits=report.fits,
        memory_gb=report.memory.total_gb,
        usable_gb=report.usable_gb,
        monthly_cost_usd=sizing.monthly_cost_usd(stack.target, hardware.name, spec.min_replicas),
        monthly_budget_usd=spec.cost.monthly_budget_usd,
        priced=descriptor.priced,
    )


def _fleet_plan(target: str, region: str | None, spec: object) -> Plan:
    """A Jetson fleet: one replica per device; the fit of the group with the least headroom."""
    from inferstack.deployment.models import DeploymentSpec
    from inferstack.jetson import fit

    assert isinstance(spec, DeploymentSpec) and spec.compute.fleet is not None
    fleet = spec.compute.fleet
    counts: dict[str, int] = {}
    tightest: sizing.FitReport | None = None
    for group in fleet.device_groups:
        counts[group.module] = counts.get(group.module, 0) + group.count
        hw = fit.module(group.module)
        model = fit.model_for(spec, fleet.cohort(fleet.cohort_of(group)).model)
        report = fit.fit(model, hw, fit.variant(spec, hw, model))
        if tightest is None or _headroom(report) < _headroom(tightest):
            tightest = report
    assert tightest is not None  # a fleet has at least one device group
    return Plan(
        name=spec.name,
        target=target,
        region=region,
        model=spec.model.id,
        dtype=tightest.dtype,
        runtime=tightest.runtime,
        hardware=", ".join(f"{count} x {module}" for module, count in counts.items()),
        replicas=sum(counts.values()),
        tensor_parallel=tightest.tensor_parallel,
        fits=tightest.fits,
        memory_gb=tightest.memory.total_gb,
        usable_gb=tightest.usable_gb,
        monthly_cost_usd=None,
        monthly_budget_usd=spec.cost.monthly_budget_usd,
        priced=False,
    )


def _headroom(report: sizing.FitReport) -> float:
    return report.usable_gb - report.memory.total_gb

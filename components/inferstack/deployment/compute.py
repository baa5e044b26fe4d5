"""The hardware of one replica, and how many replicas run."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from inferstack.deployment.base import (
    Section,
)
from inferstack.deployment.fleet import FleetSpec
from inferstack.deployment.types import ScalingMetric


class Toleration(Section):
    key: str
    """Taint key to tolerate."""
    operator: Literal["Exists", "Equal"] = "Exists"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None


class ComputeSpec(Section):
    instance_type: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    """Cloud SKU (ml.g5.2xlarge, Standard_NC24ads_A100_v4, g2-standard-8) or Jetson module;
    default: cheapest that fits."""
    gpu_type: str | None = None
    """On-prem only: GPU model from the catalog (L4, A100-80GB, ...); default L4."""
    gpu_count: Annotated[int, Field(ge=1, le=16)] | None = None
    """On-prem only: GPUs per replica; default: the tensor-parallel degree the model needs."""
    spot: bool = False
    """Use spot/preemptible capacity (Vertex AI only; refused where the platform has none)."""
    node_selector: dict[str, str] = Field(default_factory=dict)
    """Kubernetes node selector for the serving pods; merged over the GPU model selector, so
    a ``nvidia.com/gpu.product`` given here overrides it."""
    select_gpu_product: bool = True
    """On-prem only: schedule on nodes whose ``nvidia.com/gpu.product`` label (set by GPU
    Feature Discovery) is the GPU model the fit was checked for; false leaves it out."""
    tolerations: list[Toleration] = Field(default_factory=list)
    """Kubernetes tolerations; default tolerates the nvidia.com/gpu taint."""
    runtime_class_name: str | None = "nvidia"
    """RuntimeClass that exposes the GPU (k3s and the GPU operator install 'nvidia')."""
    fleet: FleetSpec | None = None
    """Jetson only: sites, device groups and cohorts of the fleet."""


class ScalingTarget(Section):
    metric: ScalingMetric = "concurrency"
    """What autoscaling tracks: concurrency, queue_depth, invocations or gpu_utilization; never
    CPU."""
    value: Annotated[float, Field(gt=0)] = 8
    """Target value of the metric per replica."""


class ScalingSpec(Section):
    min_replicas: Annotated[int, Field(ge=0, le=1000)] | None = None
    """Replicas kept warm; default 1 (prod: 2, the minimum there)."""
    max_replicas: Annotated[int, Field(ge=1, le=1000)] = 4
    """Upper bound for autoscaling."""
    target: ScalingTarget = Field(default_factory=ScalingTarget)
    """Autoscaling metric and target value."""
    scale_to_zero: bool = False
    """Scale to zero when idle (on-prem with KEDA; SageMaker async only)."""
    scale_out_cooldown_seconds: Annotated[int, Field(ge=0, le=3600)] = 60
    """Wait after a scale-out before the next one."""
    scale_in_cooldown_seconds: Annotated[int, Field(ge=0, le=7200)] = 300
    """Wait after a scale-in before the next one."""

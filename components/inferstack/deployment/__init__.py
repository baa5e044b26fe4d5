"""The typed deployment spec shared by every target."""

from __future__ import annotations

from typing import TYPE_CHECKING

from inferstack.deployment.base import SecretRef, is_digest_pinned
from inferstack.deployment.compute import ComputeSpec, ScalingSpec, ScalingTarget, Toleration
from inferstack.deployment.loader import (
    StackConfig,
    load_stack_config,
    parse_deployment,
    validate_target_name,
)
from inferstack.deployment.models import DeploymentSpec
from inferstack.deployment.operations import (
    AlarmsSpec,
    ComplianceSpec,
    CostSpec,
    DataCaptureSpec,
    ObservabilitySpec,
)
from inferstack.deployment.security import EncryptionSpec, NetworkSpec, RateLimitSpec, SecuritySpec
from inferstack.deployment.serving import ModelSpec, ServingSpec

if TYPE_CHECKING:
    from inferstack.deployment.targets import Hardware


def validate_for_target(spec: DeploymentSpec, target: str, region: str | None = None) -> Hardware:
    """Run the checks that need the target; see :mod:`inferstack.deployment.targets`."""
    from inferstack.deployment.targets import validate_for_target as _validate

    return _validate(spec, target, region)


__all__ = [
    "AlarmsSpec",
    "ComplianceSpec",
    "ComputeSpec",
    "CostSpec",
    "DataCaptureSpec",
    "DeploymentSpec",
    "EncryptionSpec",
    "ModelSpec",
    "NetworkSpec",
    "ObservabilitySpec",
    "RateLimitSpec",
    "ScalingSpec",
    "ScalingTarget",
    "SecretRef",
    "SecuritySpec",
    "ServingSpec",
    "StackConfig",
    "Toleration",
    "is_digest_pinned",
    "load_stack_config",
    "parse_deployment",
    "validate_for_target",
    "validate_target_name",
]

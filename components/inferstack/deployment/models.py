"""The DeploymentSpec: one typed description of an LLM deployment for every target.

Every section is frozen and rejects unknown keys. Defaults are the secure choice; ``environment:
prod`` tightens them (two replicas, alarms on, images pinned by digest). Rules that need the
target (instance types, memory fit, spot, residency) live in :mod:`inferstack.deployment.targets`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator, model_validator

from inferstack.deployment.base import (
    _DNS_LABEL,
    Section,
    _field_error,
    is_digest_pinned,
)
from inferstack.deployment.compute import ComputeSpec, ScalingSpec
from inferstack.deployment.operations import (
    ComplianceSpec,
    CostSpec,
    ObservabilitySpec,
)
from inferstack.deployment.security import SecuritySpec
from inferstack.deployment.serving import ModelSpec, ServingSpec
from inferstack.deployment.types import Environment


class DeploymentSpec(Section):
    name: Annotated[str, Field(min_length=1, max_length=40)]
    """DNS label naming the deployment and its resources."""
    environment: Environment = "dev"
    """dev, staging or prod (prod: >= 2 replicas, alarms on, digest-pinned images)."""
    model: ModelSpec
    """The model and its weights."""
    serving: ServingSpec = Field(default_factory=ServingSpec)
    """The serving runtime."""
    compute: ComputeSpec = Field(default_factory=ComputeSpec)
    """The hardware of one replica."""
    scaling: ScalingSpec = Field(default_factory=ScalingSpec)
    """Replicas and autoscaling."""
    security: SecuritySpec = Field(default_factory=SecuritySpec)
    """Encryption, network, auth and abuse limits."""
    observability: ObservabilitySpec = Field(default_factory=ObservabilitySpec)
    """Logs, metrics, dashboards and alarms."""
    compliance: ComplianceSpec = Field(default_factory=ComplianceSpec)
    """Frameworks, residency and PHI."""
    cost: CostSpec = Field(default_factory=CostSpec)
    """Budget."""
    tags: dict[str, str] = Field(default_factory=dict)
    """Tags/labels on every resource; keys inferstack sets itself (inferstack/*) are refused."""

    @field_validator("name")
    @classmethod
    def _dns_label(cls, value: str) -> str:
        if not _DNS_LABEL.match(value):
            raise ValueError(
                f"'{value}' must be a DNS label: lowercase letters, digits and '-', "
                "starting with a letter"
            )
        return value

    @model_validator(mode="after")
    def _cross_field(self) -> DeploymentSpec:
        prod = self.environment == "prod"
        scaling = self.scaling
        if scaling.min_replicas is not None and scaling.min_replicas > scaling.max_replicas:
            raise _field_error(
                "scaling.min_replicas",
                f"min_replicas {scaling.min_replicas} exceeds max_replicas {scaling.max_replicas}",
                "raise scaling.max_replicas or lower scaling.min_replicas",
            )
        if scaling.min_replicas == 0 and not scaling.scale_to_zero:
            raise _field_error(
                "scaling.min_replicas",
                "0 replicas needs scaling.scale_to_zero: true",
                "set scale_to_zero: true or min_replicas >= 1",
            )
        if prod:
            if scaling.scale_to_zero:
                raise _field_error(
                    "scaling.scale_to_zero",
                    "prod keeps at least 2 replicas warm",
                    "use scale_to_zero in dev or staging",
                )
            if scaling.min_replicas is not None and scaling.min_replicas < 2:
                raise _field_error(
                    "scaling.min_replicas",
                    f"prod needs at least 2 replicas, got {scaling.min_replicas}",
                    "set min_replicas: 2 or more",
                )
            if scaling.max_replicas < 2:
                raise _field_error(
                    "scaling.max_replicas",
                    "prod needs at least 2 replicas",
                    "set max_replicas >= 2",
                )
            if self.observability.alarms.enabled is False:
                raise _field_error(
                    "observability.alarms.enabled",
                    "prod keeps alarms on",
                    "remove enabled: false",
                )
            image = self.serving.image
            if image is not None and not is_digest_pinned(image):
                raise _field_error(
                    "serving.image",
                    f"'{image}' is not pinned by digest, which prod requires",
                    "append @sha256:<digest>; `docker buildx imagetools inspect <image>` prints it",
                )
        if self.security.allow_insecure and prod:
            raise _field_error(
                "security.allow_insecure", "is for local dev clusters only", "remove it in prod"
            )
        for key in self.tags:
            if is_reserved_tag(key):
                raise _field_error(
                    f"tags.{key}",
                    "is a key inferstack sets itself and its policies trust, so no tag may set it",
                    "remove the tag or rename it; reserved: inferstack/*, inferstack.io/*, "
                    "node-restriction.kubernetes.io/* and app.kubernetes.io/{"
                    + ",".join(RESERVED_TAG_KEYS_SHORT)
                    + "}",
                )
        return self

    # Resolved values: what the components use.

    @property
    def min_replicas(self) -> int:
        if self.scaling.min_replicas is not None:
            return self.scaling.min_replicas
        return 2 if self.environment == "prod" else 1

    @property
    def alarms_enabled(self) -> bool:
        if self.observability.alarms.enabled is not None:
            return self.observability.alarms.enabled
        return self.environment == "prod"

    def auth_for(self, target: str) -> str:
        if self.security.auth is not None:
            return self.security.auth
        return DEFAULT_AUTH[target]

    def own_labels(self) -> dict[str, str]:
        """The labels inferstack sets on every resource; rules trust them."""
        return {
            "app.kubernetes.io/managed-by": "inferstack",
            "inferstack/deployment": self.name,
            "inferstack/environment": self.environment,
        }

    def labels(self) -> dict[str, str]:
        """Tags every resource carries: the user's, then inferstack's own (reserved keys win)."""
        return {**self.tags, **self.own_labels()}

    def merged_tags(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The user's tags, then the component's ``extra``, then inferstack's own labels."""
        return {**self.tags, **(extra or {}), **self.own_labels()}


# Label and tag keys the components set and the policy packs read: a user tag may not set them.
RESERVED_TAG_PREFIXES: tuple[str, ...] = (
    "inferstack/",
    "inferstack.io/",
    "node-restriction.kubernetes.io/",
)
RESERVED_TAG_KEYS_SHORT: tuple[str, ...] = (
    "managed-by",
    "part-of",
    "instance",
    "component",
    "name",
)
RESERVED_TAG_KEYS: frozenset[str] = frozenset(
    f"app.kubernetes.io/{key}" for key in RESERVED_TAG_KEYS_SHORT
)


def is_reserved_tag(key: str) -> bool:
    lowered = key.lower()
    return lowered in RESERVED_TAG_KEYS or lowered.startswith(RESERVED_TAG_PREFIXES)


DEFAULT_AUTH: dict[str, str] = {
    "onprem": "oidc",
    "sagemaker": "iam",
    "azureml": "entra",
    "vertex": "iam",
    "jetson": "mtls",
}

SUPPORTED_AUTH: dict[str, tuple[str, ...]] = {
    "onprem": ("oidc", "mtls", "api_key"),
    "sagemaker": ("iam", "api_key"),
    "azureml": ("entra", "api_key"),
    "vertex": ("iam", "iap"),
    "jetson": ("mtls", "api_key"),
}

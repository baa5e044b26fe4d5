"""The Jetson fleet inside a deployment: sites, device groups, cohorts and per-module variants.

Pure pydantic, no catalog and no Pulumi: checks that need the module catalog or the sizing model
(module names, memory fit) live in :mod:`inferstack.jetson.plan`, run by ``validate_for_target``.

Cohorts are rollout rings in order: the first receives a new model or image first (``canary``),
the last is the widest (``stable``). A device group is a set of identical devices at one site in
one cohort; workloads are built per device group, so the number of resources follows sites x
cohorts x modules and never the number of devices.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from inferstack.deployment.sites import (
    MirrorSpec,
    Name,
    Section,
    SiteSpec,
    TelemetrySpec,
    dns_label,
)
from inferstack.deployment.types import DType, Runtime

__all__ = [
    "CohortSpec",
    "DeviceGroupSpec",
    "FleetSpec",
    "MirrorSpec",
    "SiteSpec",
    "TelemetrySpec",
    "VariantSpec",
]

DEFAULT_CACHE_PATH = "/var/lib/inferstack/models"
_SOURCE = re.compile(
    r"^(hf://[^@\s]+(@[\w.\-]+)?|s3://[a-z0-9.\-]+(/\S*)?|pvc://[a-z0-9\-]+(/\S*)?)$"
)
_ABSOLUTE_PATH = re.compile(r"^/[A-Za-z0-9._/-]+$")


def _no_latest(image: str) -> str:
    if image.endswith(":latest"):
        raise ValueError(
            f"'{image}' floats with every push; pin a version tag and a digest "
            "(<image>:<tag>@sha256:<digest>)"
        )
    return image


class DeviceGroupSpec(Section):
    """Identical devices at one site in one cohort, told apart by node labels."""

    site: str
    """Name of the site the devices are at."""
    module: Annotated[str, Field(min_length=1, max_length=40)]
    """Jetson module (orin-nano-8gb, orin-nx-16gb, agx-orin-64gb, ...)."""
    count: Annotated[int, Field(ge=1, le=100_000)]
    """Devices in the group; sizes rolling updates and disruption budgets, not resources."""
    cohort: str | None = None
    """Rollout cohort of the devices; default: the last (widest) cohort."""
    name: Name | None = None
    """DNS label naming the group within its site and cohort; default: the module."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Extra node labels the group's devices carry (ward, line); added to node affinity."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else dns_label(value)

    @property
    def group_name(self) -> str:
        return self.name or self.module


class CohortSpec(Section):
    """A rollout ring and the release it runs: model and images."""

    name: Name
    """DNS label: canary, stable, ..."""
    model: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    """Catalog model id the cohort runs; default: the deployment's model.id."""
    sources: dict[DType, str] = Field(default_factory=dict)
    """Weights per variant dtype: hf://org/repo@revision; a GGUF file as
    hf://org/repo/file.gguf@revision. Default for model.dtype: the deployment's model.source."""
    images: dict[Runtime, str] = Field(default_factory=dict)
    """Image per runtime (tag@sha256:digest); default: the catalog image of the runtime."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return dns_label(value)

    @field_validator("sources")
    @classmethod
    def _sources(cls, value: dict[str, str]) -> dict[str, str]:
        for dtype, source in value.items():
            if not _SOURCE.match(source):
                raise ValueError(
                    f"sources.{dtype}: '{source}' is not a model source; use "
                    "hf://<org>/<repo>[/<file>.gguf]@<revision>, s3://<bucket>/<prefix> or "
                    "pvc://<claim>/<path>"
                )
        return value

    @field_validator("images")
    @classmethod
    def _images(cls, value: dict[str, str]) -> dict[str, str]:
        for image in value.values():
            _no_latest(image)
        return value


class VariantSpec(Section):
    """How one Jetson module runs the model: precision or quantization, runtime, limits."""

    dtype: DType
    """Weight precision or quantization on this module (gguf-q4_k_m on <= 8 GB modules)."""
    runtime: Runtime
    """Serving engine on this module (llamacpp for GGUF, vllm otherwise)."""
    max_context: Annotated[int, Field(ge=256, le=1_048_576)] | None = None
    """Context served on this module; default: the module family's limit."""
    max_concurrency: Annotated[int, Field(ge=1, le=256)] | None = None
    """Sequences in flight per device; default: the module family's limit."""

    @model_validator(mode="after")
    def _gguf_needs_llamacpp(self) -> VariantSpec:
        gguf = self.dtype.startswith("gguf-")
        if gguf != (self.runtime in ("llamacpp", "ollama")):
            raise ValueError(
                f"{self.dtype} with runtime {self.runtime}: GGUF files run on llamacpp or ollama, "
                "other dtypes on vllm or mlc"
            )
        return self


class FleetSpec(Section):
    """Sites of k3s-managed Jetson devices, their groups, cohorts and per-module variants."""

    sites: Annotated[list[SiteSpec], Field(min_length=1)]
    """Locations, one k3s cluster (and one Kubernetes provider) each."""
    device_groups: Annotated[list[DeviceGroupSpec], Field(min_length=1)]
    """Identical devices at one site in one cohort."""
    cohorts: Annotated[list[CohortSpec], Field(min_length=1)] = Field(
        default_factory=lambda: [CohortSpec(name="stable")]
    )
    """Rollout rings in order (first: canary, last: stable), each with its release."""
    variants: dict[str, VariantSpec] = Field(default_factory=dict)
    """Module -> variant (dtype, runtime, limits); default: GGUF Q4_K_M on llama.cpp for
    <= 8 GB modules, the deployment's model.dtype and serving.runtime above."""
    namespace: Name | None = None
    """Namespace on every site; default: the deployment name."""
    telemetry: TelemetrySpec | None = None
    """Telemetry receiver the sites may reach; nothing else on the internet is allowed."""
    model_cache_path: str = DEFAULT_CACHE_PATH
    """Directory on each device caching weights across restarts (created at provisioning,
    owned by uid 1000)."""
    exporter_image: Annotated[str, Field(min_length=1, max_length=512)] = (
        "quay.io/prometheus/node-exporter:v1.8.2"
    )
    """Device exporter (node-exporter: unified memory, memory pressure, thermal zones), pulled
    from the site mirror when one is given."""
    device_trust: bool | None = None
    """Schedule only on secure-boot, disk-encrypted devices; default: on with HIPAA or PHI."""

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str | None) -> str | None:
        return None if value is None else dns_label(value)

    @field_validator("model_cache_path")
    @classmethod
    def _cache_path(cls, value: str) -> str:
        if not _ABSOLUTE_PATH.match(value) or ".." in value.split("/") or value == "/":
            raise ValueError(f"'{value}' must be an absolute directory path on the device")
        return value.rstrip("/")

    @field_validator("exporter_image")
    @classmethod
    def _exporter_image(cls, value: str) -> str:
        return _no_latest(value)

    @model_validator(mode="after")
    def _references(self) -> FleetSpec:
        _unique([s.name for s in self.sites], "sites", "name")
        _unique([c.name for c in self.cohorts], "cohorts", "name")
        sites = {s.name for s in self.sites}
        cohorts = [c.name for c in self.cohorts]
        seen: dict[tuple[str, str, str], int] = {}
        for index, group in enumerate(self.device_groups):
            path = f"compute.fleet.device_groups[{index}]"
            if group.site not in sites:
                raise _error(
                    f"{path}.site",
                    f"'{group.site}' is not a site of the fleet",
                    f"use one of {', '.join(sorted(sites))}",
                )
            if group.cohort is not None and group.cohort not in cohorts:
                raise _error(
                    f"{path}.cohort",
                    f"'{group.cohort}' is not a cohort of the fleet",
                    f"use one of {', '.join(cohorts)}",
                )
            key = (group.site, self.cohort_of(group), group.group_name)
            if key in seen:
                raise _error(
                    f"{path}.name",
                    f"repeats device group {seen[key]} ({'/'.join(key)})",
                    "merge the groups or give each a distinct name",
                )
            seen[key] = index
        return self

    # Cohort selection: pure functions of the spec, used by the plan and the component.

    def cohort_of(self, group: DeviceGroupSpec) -> str:
        return group.cohort or self.cohorts[-1].name

    def cohort(self, name: str) -> CohortSpec:
        for cohort in self.cohorts:
            if cohort.name == name:
                return cohort
        raise KeyError(name)

    def groups(
        self, *, site: str | None = None, cohort: str | None = None
    ) -> list[DeviceGroupSpec]:
        """Device groups, optionally only those of one site and/or one cohort."""
        return [
            g
            for g in self.device_groups
            if (site is None or g.site == site) and (cohort is None or self.cohort_of(g) == cohort)
        ]

    def devices(self, *, site: str | None = None, cohort: str | None = None) -> int:
        return sum(g.count for g in self.groups(site=site, cohort=cohort))

    def cohorts_at(self, site: str) -> list[str]:
        """Cohorts with devices at a site, in rollout order."""
        present = {self.cohort_of(g) for g in self.groups(site=site)}
        return [c.name for c in self.cohorts if c.name in present]

    def previous_cohort(self, name: str) -> str | None:
        """The ring rolled out just before ``name``: its release is what ``name`` gets next."""
        names = [c.name for c in self.cohorts]
        index = names.index(name)
        return names[index - 1] if index > 0 else None

    def indexed_groups(self) -> Iterator[tuple[int, DeviceGroupSpec]]:
        yield from enumerate(self.device_groups)

    def site(self, name: str) -> SiteSpec:
        for site in self.sites:
            if site.name == name:
                return site
        raise KeyError(name)


def _unique(values: list[str], field: str, attr: str) -> None:
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value in seen:
            raise _error(
                f"compute.fleet.{field}[{index}].{attr}",
                f"'{value}' appears twice",
                f"give each entry of {field} a distinct {attr}",
            )
        seen.add(value)


def _error(path: str, problem: str, fix: str) -> ValueError:
    # Imported here: models.py imports this module, and the loader turns this error into a
    # SpecError naming the full path.
    from inferstack.deployment.base import _FieldError

    return _FieldError(path, problem, fix)

"""Everything the fleet deploys, decided from the spec alone: one workload per device group.

A workload is a device group (identical devices at one site in one cohort) with the release its
cohort runs (model, weights source, image), the variant its module runs, the startup budget of
its site's link, the rolling-update width that keeps part of the site serving, and the release it
stages next. The component turns workloads into Kubernetes objects; tests and the benchmark read
the plan directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from inferstack import catalog
from inferstack.catalog.types import JetsonModule
from inferstack.deployment.digests import require_digest
from inferstack.deployment.fleet import CohortSpec, DeviceGroupSpec, FleetSpec, SiteSpec
from inferstack.deployment.models import DeploymentSpec
from inferstack.deployment.targets import Hardware
from inferstack.errors import SpecError
from inferstack.jetson import fit, guard
from inferstack.jetson.args import FleetArgs
from inferstack.jetson.budget import ProbeBudget, startup_probe_budget
from inferstack.jetson.guard import GuardPlan

_HF = re.compile(r"^hf://(?P<repo>[^/@\s]+/[^/@\s]+)(@(?P<rev>[\w.\-]+))?$")
DOCKER_HUB = ("docker.io", "index.docker.io", "registry-1.docker.io")
# Share of a device group a rolling update may take down at once.
ROLLING_SHARE = 0.25
# Runtimes whose image cannot fetch weights (Ollama's has no HTTP client): a small fetch image
# stages them in an init container before the server starts.
INIT_FETCH_RUNTIMES = ("ollama",)
MIRROR_DIGEST = "append @sha256:<digest> of the copy in your mirror (`crane digest <image>`)"


@dataclass(frozen=True)
class Weights:
    """A Hugging Face repository (or its mirror) at a revision; GGUF files are picked by dtype."""

    repo: str
    revision: str | None

    @property
    def uri(self) -> str:
        return f"hf://{self.repo}" + (f"@{self.revision}" if self.revision else "")


@dataclass(frozen=True)
class Release:
    """What a cohort runs on one variant: model, weights and image."""

    cohort: str
    model: str
    variant: fit.Variant
    weights: Weights
    image: str  # as configured; each site pulls it from its mirror (see mirrored)


@dataclass(frozen=True)
class Workload:
    """One device group's serving workload."""

    index: int  # position in compute.fleet.device_groups
    site: SiteSpec
    group: DeviceGroupSpec
    cohort: str
    module: JetsonModule
    release: Release
    weights_gb: float
    budget: ProbeBudget
    max_unavailable: int
    staged: Release | None  # the previous cohort's release, staged before it reaches this group
    guard: GuardPlan | None = None  # Llama Guard in the group's Ollama; None: limits alone

    @property
    def key(self) -> str:
        """Unique within the site: cohort and group name."""
        return f"{self.cohort}-{self.group.group_name}"

    @property
    def devices(self) -> int:
        return self.group.count


@dataclass(frozen=True)
class FleetPlan:
    fleet: FleetSpec
    namespace: str
    device_trust: bool
    workloads: tuple[Workload, ...]

    def at(self, site: str) -> list[Workload]:
        return [w for w in self.workloads if w.site.name == site]


def require_fleet(spec: DeploymentSpec) -> FleetSpec:
    fleet = spec.compute.fleet
    if fleet is None:
        raise SpecError(
            "compute.fleet",
            "is required on the jetson target",
            "describe sites, device_groups and cohorts (see docs/targets/jetson.md)",
        )
    return fleet


def device_trust(spec: DeploymentSpec) -> bool:
    """Whether workloads may only run on secure-boot, disk-encrypted devices."""
    fleet = spec.compute.fleet
    if fleet is not None and fleet.device_trust is not None:
        return fleet.device_trust
    return "hipaa" in spec.compliance.frameworks or spec.compliance.phi


def check(spec: DeploymentSpec) -> None:
    """Every check a fleet spec needs before any resource exists (fit, weights, images)."""
    _plan(spec)


def build_plan(
    spec: DeploymentSpec,
    hardware: Hardware,
    args: FleetArgs,
    *,
    name: str,
    region: str | None = None,
) -> FleetPlan:
    """The fleet's workloads: one per device group, with its cohort's release and budget.

    Hardware comes per device group from the spec (``hardware`` names the first group's
    module); the args hold only patches, applied to the manifests; devices have no region.
    """
    return _plan(spec)


def _plan(spec: DeploymentSpec) -> FleetPlan:
    fleet = require_fleet(spec)
    _check_no_untrusted_override(spec, fleet)
    guard.check_spec(spec)
    require_digest(spec, "compute.fleet.exporter_image", fleet.exporter_image, MIRROR_DIGEST)
    releases: dict[tuple[str, str], Release] = {}
    workloads: list[Workload] = []
    for index, group in enumerate(fleet.device_groups):
        fit.check_group(spec, index, group)
        hw = fit.module(group.module)
        cohort = fleet.cohort_of(group)
        current = _release(spec, fleet, cohort, hw, releases)
        previous = fleet.previous_cohort(cohort)
        staged = _release(spec, fleet, previous, hw, releases) if previous else None
        report = fit.fit(fit.model_for(spec, fleet.cohort(cohort).model), hw, current.variant)
        site = fleet.site(group.site)
        weights_gb = report.memory.weights_gb
        screening = guard.resolve(spec, index, group, hw, current.variant.runtime, report)
        workloads.append(
            Workload(
                index=index,
                site=site,
                group=group,
                cohort=cohort,
                module=hw,
                release=current,
                weights_gb=weights_gb,
                budget=startup_probe_budget(
                    weights_gb,
                    site.link_mbps,
                    downloads=current.variant.runtime not in INIT_FETCH_RUNTIMES,
                ),
                max_unavailable=max_unavailable(group.count),
                staged=staged if staged is not None and _differs(staged, current) else None,
                guard=screening,
            )
        )
    _check_api_key(spec, workloads)
    return FleetPlan(
        fleet=fleet,
        namespace=fleet.namespace or spec.name,
        device_trust=device_trust(spec),
        workloads=tuple(workloads),
    )


def max_unavailable(devices: int) -> int:
    """Devices a rolling update takes down at once; always leaves one serving when it can."""
    if devices <= 1:
        return 1
    return max(1, min(devices - 1, int(devices * ROLLING_SHARE)))


def mirrored(image: str, site: SiteSpec) -> str:
    """``image`` pulled from the site's registry mirror, keeping its repository path."""
    if site.mirror is None:
        return image
    _, path = split_registry(image)
    return f"{site.mirror.registry}/{path}"


def split_registry(image: str) -> tuple[str, str]:
    """(registry host, repository path with tag/digest); Docker Hub names made explicit."""
    first, slash, rest = image.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = "docker.io", image
    if registry in DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    return registry, path


def parse_weights(source: str) -> Weights | None:
    match = _HF.match(source)
    if match is None:
        return None
    return Weights(repo=match["repo"], revision=match["rev"])


def _differs(a: Release, b: Release) -> bool:
    return (a.image, a.weights) != (b.image, b.weights)


def _release(
    spec: DeploymentSpec,
    fleet: FleetSpec,
    cohort_name: str,
    hw: JetsonModule,
    cache: dict[tuple[str, str], Release],
) -> Release:
    key = (cohort_name, hw.name)
    if key not in cache:
        index = [c.name for c in fleet.cohorts].index(cohort_name)
        cache[key] = _resolve_release(spec, index, fleet.cohorts[index], hw)
    return cache[key]


def _resolve_release(
    spec: DeploymentSpec, index: int, cohort: CohortSpec, hw: JetsonModule
) -> Release:
    path = f"compute.fleet.cohorts[{index}]"
    model = fit.model_for(spec, cohort.model)
    model_id = model if isinstance(model, str) else model.id
    if isinstance(model, str):
        _check_known(model, f"{path}.model")
    v = fit.variant(spec, hw, model)
    return Release(
        cohort=cohort.name,
        model=model_id,
        variant=v,
        weights=_weights(spec, path, cohort, model_id, v, hw),
        image=_image(spec, path, cohort, v.runtime),
    )


def _check_known(model_id: str, path: str) -> None:
    try:
        catalog.model(model_id)
    except KeyError:
        raise SpecError(
            path,
            f"'{model_id}' is not in the model catalog",
            "use a catalog model id (`inferstack fit --model ...` lists sizes)",
        ) from None


def _weights(
    spec: DeploymentSpec,
    path: str,
    cohort: CohortSpec,
    model_id: str,
    v: fit.Variant,
    hw: JetsonModule,
) -> Weights:
    example = "hf://<org>/<repo>@<revision>"
    source = cohort.sources.get(v.dtype)  # type: ignore[call-overload]
    where = f"{path}.sources.{v.dtype}"
    if source is None and v.dtype == spec.model.dtype:
        same_model = model_id == spec.model.id
        source = (spec.model.source if same_model else None) or f"hf://{model_id}"
        where = "model.source" if same_model else where
    if source is None:
        kind = "GGUF repository" if v.dtype.startswith("gguf-") else "checkpoint"
        raise SpecError(
            f"{path}.sources",
            f"has no {v.dtype} {kind} of {model_id}, which {hw.name} runs in cohort {cohort.name}",
            f"add sources: {{{v.dtype}: {example}}}",
        )
    weights = parse_weights(source)
    if weights is None:
        raise SpecError(
            where,
            f"'{source}' is not a Hugging Face repository; fleets fetch weights from the hub or "
            "the site's mirror of it",
            f"use {example}",
        )
    if spec.environment == "prod" and weights.revision is None:
        raise SpecError(
            where,
            f"'{source}' follows the repository's main branch, which prod does not allow",
            "pin a commit: append @<revision> (the commit sha on the model page)",
        )
    return weights


def _image(spec: DeploymentSpec, path: str, cohort: CohortSpec, runtime: str) -> str:
    image = cohort.images.get(runtime)  # type: ignore[call-overload]
    if image is None:
        entry = catalog.runtimes()[runtime]
        image = entry.jetson_image or entry.image
        if image == entry.image and entry.digest:
            image = f"{image}@{entry.digest}"
    require_digest(spec, f"{path}.images.{runtime}", image, MIRROR_DIGEST)
    return str(image)


def _check_api_key(spec: DeploymentSpec, workloads: list[Workload]) -> None:
    # With api_key the ingress authenticates nobody and leaves the check to the server;
    # Ollama has none, so its devices would serve anyone who reaches the site.
    if spec.auth_for("jetson") != "api_key":
        return
    for w in workloads:
        if w.release.variant.runtime == "ollama":
            raise SpecError(
                "security.auth",
                f"api_key leaves the check to the server, and Ollama (device group "
                f"'{w.group.group_name}' at site '{w.site.name}') has no API key check",
                "use mtls (enforced by the ingress), or a llamacpp or vllm variant for "
                f"{w.module.name}",
            )


def _check_no_untrusted_override(spec: DeploymentSpec, fleet: FleetSpec) -> None:
    # A HIPAA or PHI fleet that switches device trust off would run PHI on unverified devices.
    regulated = "hipaa" in spec.compliance.frameworks or spec.compliance.phi
    if regulated and fleet.device_trust is False:
        raise SpecError(
            "compute.fleet.device_trust",
            "cannot be false with HIPAA or PHI: patient data would reach unverified devices",
            "remove device_trust: false and label verified devices (docs/targets/jetson.md)",
        )

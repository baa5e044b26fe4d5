"""Everything about a Vertex AI deployment that follows from the spec alone.

Resolved before any resource is registered, so a spec Vertex AI cannot serve fails with the
field path and the fix instead of half a stack. Nothing here imports Pulumi or a Google SDK.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from inferstack import catalog, targets
from inferstack.deployment import DeploymentSpec
from inferstack.deployment.targets import Hardware, budget_usd
from inferstack.errors import SpecError
from inferstack.vertex import names
from inferstack.vertex.args import VertexArgs
from inferstack.vertex.container import Container, ModelSource, container, model_source
from inferstack.vertex.gateway_config import GatewayPlan, gateway_plan

# The online prediction metrics AutoscalingMetricSpec accepts (google.cloud.aiplatform_v1):
# accelerator duty cycle, CPU utilization and request count.
DUTY_CYCLE = "aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle"
REQUEST_COUNT = "aiplatform.googleapis.com/prediction/online/request_count"
# Vertex AI exposes no in-flight request metric; an LLM server's accelerator duty cycle rises
# with the requests it batches, so "concurrency" scales on duty cycle at this target.
CONCURRENCY_DUTY_CYCLE = 60
KMS_KEY = re.compile(
    r"^projects/(?P<project>[^/]+)/locations/(?P<location>[a-z0-9-]+)/keyRings/[^/]+/"
    r"cryptoKeys/[^/]+$"
)
NETWORK = re.compile(r"^(projects/(?P<project>[^/]+)/global/networks/)?(?P<name>[a-z][a-z0-9-]*)$")
SUBNET = re.compile(
    r"^(projects/[^/]+/regions/(?P<region>[a-z0-9-]+)/subnetworks/)?(?P<name>[a-z][a-z0-9-]*)$"
)


@dataclass(frozen=True)
class AutoscalingMetric:
    """One ``AutoscalingMetricSpec``: a Vertex AI metric and its target per replica."""

    metric_name: str
    target: int


@dataclass(frozen=True)
class Deployment:
    """One deployed model on the endpoint (a spot and an on-demand one when falling back)."""

    key: str
    machine_type: str
    accelerator_type: str
    accelerator_count: int
    min_replicas: int
    max_replicas: int
    spot: bool
    traffic_percent: int
    autoscaling: tuple[AutoscalingMetric, ...]


@dataclass(frozen=True)
class Network:
    mode: str  # "psc" | "peering" | "public"
    create: bool
    network: str  # a name (created) or projects/<p>/global/networks/<name>
    subnet: str | None
    subnet_cidr: str
    peering_prefix_length: int


@dataclass(frozen=True)
class VertexPlan:
    project: str
    region: str
    names: names.Names
    labels: dict[str, str]
    create_key: bool
    kms_key: str | None
    source: ModelSource
    container: Container
    deployments: tuple[Deployment, ...]
    network: Network
    capture: bool
    capture_sampling_rate: float
    capture_retention_days: int
    log_retention_days: int
    alarms: bool
    alarm_email: str | None
    budget_usd: float | None
    billing_account: str | None
    latency_threshold_ms: int
    error_rate_threshold: float
    force_destroy: bool
    gateway: GatewayPlan
    frameworks: tuple[str, ...] = field(default=())

    @property
    def spot(self) -> bool:
        return any(d.spot for d in self.deployments)

    @property
    def max_replicas(self) -> int:
        return sum(d.max_replicas for d in self.deployments)


def build_plan(
    spec: DeploymentSpec,
    hardware: Hardware,
    args: VertexArgs,
    *,
    name: str,
    region: str | None = None,
) -> VertexPlan:
    """The frozen plan of one Vertex AI deployment named ``name``; SpecError if it cannot work."""
    region = targets.get("vertex").require_region(region)
    if args.project is None:
        raise SpecError(
            "gcp:project", "is required for Vertex AI", "pulumi config set gcp:project <id>"
        )
    project = args.project
    deployment_names = names.Names.of(name, project, region)
    source = model_source(spec, deployment_names.bucket)
    kms_key = _existing_key(spec, region)
    # Every deployment gets a budget, by default the cost of max_replicas, on the billing
    # account given or else the one the project is linked to (read at preview).
    budget = budget_usd(spec, hardware)
    capture = spec.compliance.data_capture
    return VertexPlan(
        project=project,
        region=region,
        names=deployment_names,
        labels=names.labels(spec.labels()),
        create_key=kms_key is None,
        kms_key=kms_key,
        source=source,
        container=container(spec, hardware, source, project, region, deployment_names),
        deployments=_deployments(spec, hardware, args),
        network=_network(spec, args, region),
        capture=capture.enabled,
        capture_sampling_rate=capture.sampling_percentage / 100,
        capture_retention_days=capture.retention_days,
        log_retention_days=spec.observability.log_retention_days,
        alarms=spec.alarms_enabled,
        alarm_email=spec.observability.alarms.email,
        budget_usd=budget,
        billing_account=args.billing_account,
        latency_threshold_ms=args.latency_threshold_ms,
        error_rate_threshold=args.error_rate_threshold,
        force_destroy=args.force_destroy,
        gateway=gateway_plan(
            spec,
            deployment_names,
            project=project,
            region=region,
            endpoint_id=deployment_names.endpoint_id,
            image=args.gateway_image,
        ),
        frameworks=tuple(spec.compliance.frameworks),
    )


def accelerator_type(machine_type: str, gpu: str) -> str:
    """The ``MachineSpec.acceleratorType`` of a machine type, from the catalog."""
    section = _vertex_catalog()
    overrides: dict[str, str] = section["accelerator_overrides"]
    accelerators: dict[str, str] = section["accelerators"]
    if machine_type in overrides:
        return overrides[machine_type]
    if gpu not in accelerators:
        usable = [
            name
            for name, sku in catalog.instance_types("vertex").items()
            if sku.gpu in accelerators
        ]
        close = difflib.get_close_matches(machine_type, usable, n=2, cutoff=0.5)
        raise SpecError(
            "compute.instance_type",
            f"{machine_type} carries {gpu}, which Vertex AI online prediction does not offer",
            f"use {' or '.join(close) if close else ', '.join(usable[:6])}",
        )
    return accelerators[gpu]


def autoscaling(spec: DeploymentSpec) -> tuple[AutoscalingMetric, ...]:
    target = spec.scaling.target
    if target.metric == "queue_depth":
        raise SpecError(
            "scaling.target.metric",
            "Vertex AI online prediction has no request queue metric",
            "use concurrency, gpu_utilization (accelerator duty cycle) or invocations",
        )
    if target.metric == "invocations":
        return (AutoscalingMetric(REQUEST_COUNT, max(1, round(target.value))),)
    if target.metric == "gpu_utilization":
        if not 1 <= target.value <= 100:
            raise SpecError(
                "scaling.target.value",
                f"{target.value:g} is not a duty cycle percentage",
                "give a percentage between 1 and 100, e.g. 70",
            )
        return (AutoscalingMetric(DUTY_CYCLE, round(target.value)),)
    return (AutoscalingMetric(DUTY_CYCLE, CONCURRENCY_DUTY_CYCLE),)


def _deployments(
    spec: DeploymentSpec, hardware: Hardware, args: VertexArgs
) -> tuple[Deployment, ...]:
    sku = catalog.instance_types("vertex")[hardware.name]
    accelerator = accelerator_type(hardware.name, sku.gpu)
    metrics = autoscaling(spec)
    minimum = spec.min_replicas
    maximum = spec.scaling.max_replicas

    def deployment(key: str, low: int, high: int, spot: bool, traffic: int) -> Deployment:
        return Deployment(
            key=key,
            machine_type=hardware.name,
            accelerator_type=accelerator,
            accelerator_count=hardware.gpu_count,
            min_replicas=low,
            max_replicas=high,
            spot=spot,
            traffic_percent=traffic,
            autoscaling=metrics,
        )

    if not spec.compute.spot:
        return (deployment("primary", minimum, maximum, False, 100),)
    if args.fallback_share == 0:
        return (deployment("spot", minimum, maximum, True, 100),)
    # Spot capacity can vanish for the whole zone at once; the on-demand deployment keeps a
    # share of traffic answered meanwhile (see docs/targets/vertex.md, failure modes).
    return (
        deployment("spot", minimum, maximum, True, 100 - args.fallback_share),
        deployment("on-demand", 1, max(1, args.fallback_replicas), False, args.fallback_share),
    )


def _existing_key(spec: DeploymentSpec, region: str) -> str | None:
    key = spec.security.encryption.kms_key
    if key == "create":
        return None
    match = KMS_KEY.match(key)
    if match is None:
        raise SpecError(
            "security.encryption.kms_key",
            f"'{key}' is not a Cloud KMS key name",
            "give projects/<p>/locations/<region>/keyRings/<ring>/cryptoKeys/<key>, or 'create'",
        )
    if match["location"] != region:
        raise SpecError(
            "security.encryption.kms_key",
            f"the key is in {match['location']}, but Vertex AI accepts only keys in the "
            f"endpoint's region {region}",
            f"create the key in {region}, or use kms_key: create",
        )
    return key


def _network(spec: DeploymentSpec, args: VertexArgs, region: str) -> Network:
    net = spec.security.network
    mode = "public" if net.public else args.private_endpoint
    if net.security_group_ids:
        raise SpecError(
            "security.network.security_group_ids",
            "is for AWS; Google Cloud networks use firewall rules",
            "remove it",
        )
    if net.subnet_ids and net.vpc_id is None:
        raise SpecError(
            "security.network.vpc_id",
            "is required with subnet_ids",
            "set vpc_id to projects/<p>/global/networks/<name>",
        )
    if len(net.subnet_ids) > 1:
        raise SpecError(
            "security.network.subnet_ids",
            "takes one subnet on Vertex AI (the private endpoint's address comes from it)",
            "list one subnet in the endpoint's region",
        )
    if net.vpc_id is not None and NETWORK.match(net.vpc_id) is None:
        raise SpecError(
            "security.network.vpc_id",
            f"'{net.vpc_id}' is not a VPC network name",
            "give projects/<p>/global/networks/<name> or the network's name",
        )
    subnet = net.subnet_ids[0] if net.subnet_ids else None
    if subnet is not None:
        match = SUBNET.match(subnet)
        if match is None or (match["region"] and match["region"] != region):
            raise SpecError(
                "security.network.subnet_ids[0]",
                f"'{subnet}' is not a subnetwork of {region}",
                f"give projects/<p>/regions/{region}/subnetworks/<name>",
            )
    return Network(
        mode=mode,
        create=net.vpc_id is None,
        network=net.vpc_id or f"{spec.name}-vpc",
        subnet=subnet,
        subnet_cidr=args.subnet_cidr,
        peering_prefix_length=args.peering_prefix_length,
    )


@functools.cache
def _vertex_catalog() -> dict[str, Any]:
    text = resources.files("inferstack.catalog").joinpath("instance_types.yaml").read_text()
    section: dict[str, Any] = yaml.safe_load(text)["vertex"]
    return section

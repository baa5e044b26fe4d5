"""Everything about an Azure ML deployment that follows from the spec alone (no Pulumi here).

Resolved before any resource is registered, so a spec Azure ML cannot serve fails with the field
path and the fix instead of half a stack.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass

from inferstack import catalog, sizing, targets
from inferstack.azureml import container
from inferstack.azureml.args import AzureMLArgs
from inferstack.azureml.gateway_plan import GatewayPlan, check_budget, gateway_plan
from inferstack.deployment import DeploymentSpec
from inferstack.deployment.targets import Hardware, model_info
from inferstack.errors import SpecError

ENDPOINT_NAMESPACE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
DEPLOYMENT_NAMESPACE = f"{ENDPOINT_NAMESPACE}/deployments"
MODELS_DATASTORE = "models"


@dataclass(frozen=True)
class Probe:
    """One container probe; durations in seconds (rendered as ISO 8601 by the builder)."""

    initial_delay: int
    period: int
    timeout: int
    failure_threshold: int
    success_threshold: int = 1


@dataclass(frozen=True)
class ScaleRule:
    """The Azure Monitor metric autoscale tracks, and the thresholds around the target."""

    metric: str
    namespace: str
    on_endpoint: bool
    """True: an endpoint metric filtered to the deployment; False: the deployment's own."""
    scale_out_above: float
    scale_in_below: float
    statistic: str
    per_instance: bool


@dataclass(frozen=True)
class Alert:
    """A metric alert: name suffix, metric, namespace, operator, threshold, aggregation."""

    suffix: str
    description: str
    metric: str
    namespace: str
    on_endpoint: bool
    operator: str
    threshold: float
    aggregation: str
    severity: int
    dimension: tuple[str, str] | None = None


@dataclass(frozen=True)
class AzureMLPlan:
    resource_group: str
    create_resource_group: bool
    workspace_name: str
    vault_name: str
    key_name: str
    identity_name: str
    storage_name: str
    registry_name: str
    log_workspace_name: str
    app_insights_name: str
    vnet_name: str
    endpoint_name: str
    deployment_name: str
    datastore_name: str
    model_name: str
    model_version: str
    model_uri: str
    environment_name: str
    environment_version: str
    image_path: str
    """Repository, tag and digest of the serving image inside the workspace's registry."""
    port: int
    health_path: str
    environment: dict[str, str]
    instance_type: str
    gpu_count: int
    instance_count: int
    min_capacity: int
    max_capacity: int
    liveness: Probe
    readiness: Probe
    request_timeout: int
    max_concurrency: int
    scale: ScaleRule
    scale_out_cooldown: int
    scale_in_cooldown: int
    alerts: tuple[Alert, ...]
    create_key: bool
    key_id: str | None
    key_rotation_days: int
    soft_delete_days: int
    create_network: bool
    subnet_id: str | None
    address_space: str
    endpoint_prefix: str
    log_retention_days: int
    log_analytics_sku: str
    capture: bool
    capture_sampling: float
    capture_retention_days: int
    budget_usd: float | None
    email: str | None
    alarms: bool
    gateway: GatewayPlan


def build_plan(
    spec: DeploymentSpec,
    hardware: Hardware,
    args: AzureMLArgs,
    *,
    name: str,
    region: str | None = None,
) -> AzureMLPlan:
    """The frozen plan of one Azure ML deployment named ``name``; SpecError if it cannot work."""
    region = targets.get("azureml").require_region(region)
    component = name
    token = _short_hash(f"{component}/{region}")
    alnum = re.sub(r"[^a-z0-9]", "", component.lower())
    revision = _revision(spec)
    model_name = re.sub(r"[^A-Za-z0-9._-]", "-", spec.model.id)
    runtime = catalog.runtime(spec.serving.runtime)
    image_path, image_version = container.image(spec)
    liveness, readiness = probes(spec)
    key = spec.security.encryption
    if not key.create_key and not key.kms_key.startswith("https://"):
        raise SpecError(
            "security.encryption.kms_key",
            f"'{key.kms_key}' is not a Key Vault key identifier",
            "give https://<vault>.vault.azure.net/keys/<name>/<version>, or 'create'",
        )
    capture = spec.compliance.data_capture
    gateway = gateway_plan(spec, args, name=component, token=token)
    check_budget(
        spec, sizing.monthly_cost_usd(hardware.target, hardware.name, spec.min_replicas), gateway
    )
    return AzureMLPlan(
        resource_group=args.resource_group or f"rg-{component}",
        create_resource_group=args.resource_group is None,
        workspace_name=f"mlw-{component}"[:33],
        vault_name=f"kv-{component[:13].rstrip('-')}-{token}",
        key_name=f"{component}-cmk",
        identity_name=f"id-{component}",
        storage_name=f"st{alnum[:16]}{token}",
        registry_name=f"cr{alnum[:40]}{token}",
        log_workspace_name=f"log-{component}",
        app_insights_name=f"appi-{component}",
        vnet_name=f"vnet-{component}",
        endpoint_name=f"{component[:25].rstrip('-')}-{token}",
        deployment_name=args.deployment_name,
        datastore_name=MODELS_DATASTORE,
        model_name=model_name,
        model_version=revision[:12],
        model_uri=(f"azureml://datastores/{MODELS_DATASTORE}/paths/{spec.model.id}/{revision}/"),
        environment_name=f"{spec.serving.runtime}-{component}",
        environment_version=image_version,
        image_path=image_path,
        port=spec.serving.port if spec.serving.image else runtime.port,
        health_path=runtime.health_path,
        environment=container.environment(spec, hardware),
        instance_type=hardware.name,
        gpu_count=hardware.gpu_count,
        instance_count=spec.min_replicas,
        min_capacity=spec.min_replicas,
        max_capacity=spec.scaling.max_replicas,
        liveness=liveness,
        readiness=readiness,
        request_timeout=args.request_timeout_seconds,
        max_concurrency=spec.serving.max_concurrency,
        scale=scale_rule(spec, args),
        scale_out_cooldown=max(60, spec.scaling.scale_out_cooldown_seconds),
        scale_in_cooldown=max(60, spec.scaling.scale_in_cooldown_seconds),
        alerts=alerts(spec, args),
        create_key=key.create_key,
        key_id=None if key.create_key else key.kms_key,
        key_rotation_days=args.key_rotation_days,
        soft_delete_days=args.soft_delete_retention_days,
        create_network=args.subnet_id is None,
        subnet_id=args.subnet_id,
        address_space=args.address_space,
        endpoint_prefix=args.private_endpoint_prefix,
        # High business impact for PHI and for anything under HIPAA; it cannot be set later.
        log_retention_days=spec.observability.log_retention_days,
        log_analytics_sku=args.log_analytics_sku,
        capture=capture.enabled,
        capture_sampling=capture.sampling_percentage / 100,
        capture_retention_days=capture.retention_days,
        budget_usd=_budget(spec, hardware, gateway),
        email=spec.observability.alarms.email,
        alarms=spec.alarms_enabled,
        gateway=gateway,
    )


def _budget(spec: DeploymentSpec, hardware: Hardware, gateway: GatewayPlan) -> float | None:
    """``cost.monthly_budget_usd``, else the most the deployment costs as configured:
    max_replicas instances and the gateway, rounded up to $100."""
    if spec.cost.monthly_budget_usd is not None:
        return spec.cost.monthly_budget_usd
    most = sizing.monthly_cost_usd(hardware.target, hardware.name, spec.scaling.max_replicas)
    return None if most is None else float(math.ceil((most + gateway.monthly_usd) / 100) * 100)


def probes(spec: DeploymentSpec) -> tuple[Probe, Probe]:
    """Liveness waits out the load budget; readiness gates traffic until the model answers.

    Azure's defaults (10 s delay, 30 failures of 10 s) restart a container that is still
    loading a large model. The budget assumes the weights are already on the node (Azure ML
    downloads the registered model before the container starts) and load at about 50 MB/s,
    plus five minutes for CUDA graphs and warm-up.
    """
    weights = model_info(spec).parameters_b * catalog.dtype(spec.model.dtype).bytes_per_param
    budget = max(300, min(3600, round(300 + 20 * weights)))
    liveness = Probe(initial_delay=budget, period=10, timeout=10, failure_threshold=6)
    readiness = Probe(
        initial_delay=60, period=10, timeout=10, failure_threshold=math.ceil(budget / 10)
    )
    return liveness, readiness


def scale_rule(spec: DeploymentSpec, args: AzureMLArgs) -> ScaleRule:
    """Requests per minute per instance, or GPU utilization: never CPU, which idles on GPUs."""
    target = spec.scaling.target
    if target.metric == "queue_depth":
        raise SpecError(
            "scaling.target.metric",
            "Azure ML online endpoints publish no queue depth",
            "use concurrency, invocations or gpu_utilization",
        )
    if target.metric == "gpu_utilization":
        if target.value > 100:
            raise SpecError(
                "scaling.target.value", "GPU utilization is a percentage", "use 1 to 100"
            )
        return ScaleRule(
            metric="GpuUtilizationPercentage",
            namespace=DEPLOYMENT_NAMESPACE,
            on_endpoint=False,
            scale_out_above=target.value,
            scale_in_below=target.value / 2,
            statistic="Average",
            per_instance=False,
        )
    per_minute = target.value
    if target.metric == "concurrency":
        # Little's law: requests in flight = arrival rate x time in the system.
        per_minute = target.value * 60 / args.expected_request_seconds
    return ScaleRule(
        metric="RequestsPerMinute",
        namespace=ENDPOINT_NAMESPACE,
        on_endpoint=True,
        scale_out_above=round(per_minute, 2),
        scale_in_below=round(per_minute / 2, 2),
        statistic="Average",
        per_instance=True,
    )


def alerts(spec: DeploymentSpec, args: AzureMLArgs) -> tuple[Alert, ...]:
    """Errors, latency and capacity, each a metric Azure ML publishes for online endpoints."""
    if not spec.alarms_enabled:
        return ()
    timeout_ms = args.request_timeout_seconds * 1000
    return (
        Alert(
            "errors",
            "Server errors (5xx) from the endpoint",
            "RequestsPerMinute",
            ENDPOINT_NAMESPACE,
            True,
            "GreaterThan",
            5,
            "Total",
            1,
            ("statusCodeClass", "5xx"),
        ),
        Alert(
            "latency",
            "p99 request latency near the request timeout",
            "RequestLatency_P99",
            ENDPOINT_NAMESPACE,
            True,
            "GreaterThan",
            round(timeout_ms * 0.8),
            "Average",
            2,
        ),
        Alert(
            "capacity",
            "The deployment runs at its maximum instance count",
            "DeploymentCapacity",
            DEPLOYMENT_NAMESPACE,
            False,
            "GreaterThanOrEqual",
            spec.scaling.max_replicas,
            "Maximum",
            2,
        ),
        Alert(
            "gpu-memory",
            "GPU memory nearly exhausted",
            "GpuMemoryUtilizationPercentage",
            DEPLOYMENT_NAMESPACE,
            False,
            "GreaterThan",
            97,
            "Average",
            2,
        ),
    )


def _revision(spec: DeploymentSpec) -> str:
    source = spec.model.source
    if source is not None and not source.startswith("hf://"):
        raise SpecError(
            "model.source",
            f"'{source}' is not a Hugging Face repository; Azure ML serves a model registered "
            "from the workspace datastore",
            "set hf://<org>/<name>@<revision> and stage that revision in the workspace "
            "datastore (docs/targets/azureml.md)",
        )
    revision = spec.model.revision
    if revision is None:
        if spec.environment == "prod":
            raise SpecError(
                "model.source",
                "prod serves a pinned model revision",
                f"set hf://{spec.model.id}@<commit sha>",
            )
        return "main"
    return revision


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:6]

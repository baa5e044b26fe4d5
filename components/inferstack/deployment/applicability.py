"""Which targets use which spec field: a field set where nothing reads it is refused.

One table, field path -> the targets whose component (or target checks) act on it, and one
list of the fields every target uses; a test holds every field of the spec to exactly one.

A field the user set (present in the stack config, even at its default value) on a target
that does not use it fails with one line saying it has no effect there, so a setting never
looks applied when it is not: on-prem Kubernetes keeps no logs of its own (the cluster's log
pipeline does), so ``observability.log_retention_days`` there would promise a retention
nothing enforces.

Every entry follows what the target's component (its plan) reads; tests/unit/
test_deployment_applicability.py holds the table to the spec's fields.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from pydantic import BaseModel

from inferstack.deployment.models import DeploymentSpec
from inferstack.errors import SpecError
from inferstack.targets import NAMES, REGISTRY

ALL: Final = frozenset(NAMES)
KUBERNETES: Final = frozenset({"onprem", "jetson"})
CLOUD: Final = frozenset({"sagemaker", "azureml", "vertex"})
# From the registry: where the catalog prices the hardware, and where a region exists.
PRICED: Final = frozenset(name for name, target in REGISTRY.items() if target.priced)
REGIONAL: Final = frozenset(name for name, target in REGISTRY.items() if target.region_key)
# Where callers can be admitted by network (Vertex AI applies no IP filter to an endpoint;
# Azure ML endpoints stay private).
FILTERED: Final = frozenset(name for name, target in REGISTRY.items() if target.ip_filter)
# Jetson devices run one replica each: the fleet's device groups, not autoscaling, set the count.
REPLICATED: Final = CLOUD | {"onprem"}
# Where a scheduled red-team scan and a trace pipeline are deployed.
SCANNED: Final = frozenset({"onprem", "sagemaker", "vertex", "azureml"})
TRACED: Final = frozenset({"onprem", "sagemaker", "vertex"})

# Field path -> (targets that use it, why the others do not). Paths name a leaf, or a whole
# section or list whose items only those targets read.
USED_BY: Final[dict[str, tuple[frozenset[str], str]]] = {
    "compute.instance_type": (CLOUD | {"jetson"}, "the hardware is a GPU model there"),
    "compute.gpu_type": (frozenset({"onprem"}), "the hardware is an instance type or module"),
    "compute.gpu_count": (frozenset({"onprem"}), "the hardware is an instance type or module"),
    "compute.spot": (CLOUD, "there is no spot capacity to ask for"),
    "compute.node_selector": (frozenset({"onprem"}), "device groups choose the nodes"),
    "compute.select_gpu_product": (
        frozenset({"onprem"}),
        "the hardware is an instance type or module, not a GPU node label",
    ),
    "compute.tolerations": (KUBERNETES, "there are no Kubernetes nodes"),
    "compute.runtime_class_name": (KUBERNETES, "there are no Kubernetes nodes"),
    "compute.fleet": (frozenset({"jetson"}), "only Jetson deployments are fleets"),
    "scaling.min_replicas": (REPLICATED, "each device runs one replica"),
    "scaling.max_replicas": (REPLICATED, "each device runs one replica"),
    "scaling.target.metric": (REPLICATED, "nothing autoscales"),
    "scaling.target.value": (REPLICATED, "nothing autoscales"),
    "scaling.scale_to_zero": (REPLICATED, "nothing autoscales"),
    "scaling.scale_out_cooldown_seconds": (REPLICATED, "nothing autoscales"),
    "scaling.scale_in_cooldown_seconds": (REPLICATED, "nothing autoscales"),
    "serving.port": (
        KUBERNETES | {"azureml", "vertex"},
        "SageMaker fixes the container port (8080)",
    ),
    "security.encryption.kms_key": (
        CLOUD,
        "no cloud key service encrypts anything there (encrypt the cluster's disks and etcd)",
    ),
    "security.network.vpc_id": (
        frozenset({"sagemaker", "vertex"}),
        "there is no cloud network to name (Azure ML: inferstack:azureml.subnet_id)",
    ),
    "security.network.subnet_ids": (
        frozenset({"sagemaker", "vertex"}),
        "there is no cloud network to name (Azure ML: inferstack:azureml.subnet_id)",
    ),
    "security.network.security_group_ids": (
        frozenset({"sagemaker"}),
        "security groups are AWS's",
    ),
    "security.network.allowed_cidrs": (
        FILTERED,
        "it applies no IP filter to an endpoint (keep the endpoint private, reached through "
        "the private network and the gateway: Private Service Connect on Vertex AI, the VNet on "
        "Azure ML)",
    ),
    "security.network.hostname": (KUBERNETES, "the platform names the endpoint"),
    "security.network.tls_secret_name": (KUBERNETES, "the platform terminates TLS"),
    "security.network.ingress_class_name": (KUBERNETES, "there is no Kubernetes ingress"),
    "security.oidc_auth_url": (frozenset({"onprem"}), "auth: oidc is not available there"),
    "security.oidc_signin_url": (frozenset({"onprem"}), "auth: oidc is not available there"),
    "security.client_ca_secret_name": (KUBERNETES, "the platform authenticates callers"),
    "security.allow_insecure": (frozenset({"onprem"}), "only local dev clusters may use it"),
    "observability.log_retention_days": (
        CLOUD,
        "nothing of the deployment keeps logs (set retention in the cluster's log pipeline)",
    ),
    "observability.dashboards": (KUBERNETES, "no dashboard is created there"),
    "observability.alarms.enabled": (REPLICATED, "the fleet's alerts go to the site's Prometheus"),
    "observability.alarms.email": (REPLICATED, "no alert is routed to an email there"),
    "compliance.data_residency": (REGIONAL, "there is no cloud region to check it against"),
    "compliance.data_capture.enabled": (
        CLOUD,
        "the platform has no request capture (log requests at the ingress instead)",
    ),
    "compliance.data_capture.sampling_percentage": (
        CLOUD,
        "the platform has no request capture (log requests at the ingress instead)",
    ),
    "compliance.data_capture.retention_days": (
        CLOUD,
        "the platform has no request capture (log requests at the ingress instead)",
    ),
    "cost.monthly_budget_usd": (PRICED, "the catalog has no price for its hardware"),
    "serving.trust_remote_code": (REPLICATED, "Ollama and llama.cpp run no code from the model"),
    "serving.tool_calling": (REPLICATED, "the fleet's gateway admits no tool calls"),
    "security.red_team": (
        SCANNED,
        "scheduled scans are not available there yet (run garak against the gateway yourself)",
    ),
    "observability.tracing": (
        TRACED,
        "tracing is not available there yet (export the runtime's traces yourself)",
    ),
}


# Fields every target acts on (the model, its serving, caller auth and limits, the frameworks).
UNIVERSAL: Final = frozenset(
    {
        "name",
        "environment",
        "model.id",
        "model.source",
        "model.dtype",
        "model.max_context",
        "model.hf_token_secret.name",
        "model.hf_token_secret.key",
        "model.parameters_b",
        "model.layers",
        "model.kv_heads",
        "model.head_dim",
        "serving.runtime",
        "serving.image",
        "serving.max_concurrency",
        "serving.mode",
        "serving.gpu_memory_utilization",
        "serving.extra_args",
        "serving.kv_cache_dtype",
        "model.config",
        "security.network.public",
        "security.auth",
        "security.rate_limit.requests_per_second",
        "security.rate_limit.burst",
        "security.max_request_bytes",
        "security.guard.input",
        "security.guard.output",
        "security.guard.provider",
        "security.guard.max_output_tokens",
        "security.guard.blocked_message",
        "security.guard.checks.prompt_injection",
        "security.guard.checks.pii",
        "security.guard.checks.secrets",
        "security.guard.checks.denied_topics",
        "security.guard.checks.max_input_tokens",
        "observability.metrics",
        "compliance.frameworks",
        "compliance.phi",
        "tags",
    }
)


def targets_using(path: str) -> frozenset[str]:
    """The targets that act on a field."""
    entry = USED_BY.get(path)
    return entry[0] if entry else ALL


def set_paths(model: BaseModel, prefix: str = "") -> Iterator[str]:
    """Paths of the fields the user gave, leaves and table entries (not their defaults)."""
    for name in sorted(model.model_fields_set):
        path = f"{prefix}{name}"
        value: Any = getattr(model, name)
        if path not in USED_BY and isinstance(value, BaseModel):
            yield from set_paths(value, f"{path}.")
        else:
            yield path


def check_applicable(spec: DeploymentSpec, target: str) -> None:
    """Refuse the first field the user set that the target does not use."""
    for path in set_paths(spec):
        entry = USED_BY.get(path)
        if entry is None or target in entry[0]:
            continue
        title = REGISTRY[target].title
        raise SpecError(
            path,
            f"has no effect on {title}: {entry[1]}",
            "remove it from this stack's config",
        )

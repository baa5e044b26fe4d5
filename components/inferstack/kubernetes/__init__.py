"""The on-prem Kubernetes target: ``LLMService`` and the manifest builders it is made of.

The builders return plain manifest dicts (camelCase, as pulumi_kubernetes accepts them) and
take a :class:`ServingPlan`, so other components (a Jetson fleet) reuse them with their own
plan and provider. Importing this package loads neither pulumi nor pulumi_kubernetes:
``LLMService`` and ``register_object`` load them on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from inferstack.kubernetes.args import LLMServiceArgs, ModelCacheArgs
from inferstack.kubernetes.budget import StartupBudget, startup_budget
from inferstack.kubernetes.downloads import gguf_download_command
from inferstack.kubernetes.names import Names, object_labels, selector_labels
from inferstack.kubernetes.network import (
    egress_blocks,
    ingress,
    ingress_annotations,
    network_policies,
)
from inferstack.kubernetes.observability import (
    alert_rules,
    alertmanager_config,
    dashboard,
    dashboard_config_map,
    prometheus_rule,
    service_monitor,
)
from inferstack.kubernetes.plan import ServingPlan, build_plan
from inferstack.kubernetes.pod import (
    CacheLayout,
    cache_volumes,
    container_security_context,
    download_container,
    model_volume,
    pod_security_context,
    pod_spec,
    probes,
    replica_resources,
    scheduling,
    server_container,
)
from inferstack.kubernetes.runtime_data import ModelRef, gguf_path, model_location, model_ref
from inferstack.kubernetes.scaling import disruption_budget, load_query, scaled_object
from inferstack.kubernetes.server_commands import server_command
from inferstack.kubernetes.workload import (
    deployment,
    model_cache_claim,
    namespace,
    service,
    service_account,
)

if TYPE_CHECKING:
    from inferstack.kubernetes.component import LLMService
    from inferstack.kubernetes.objects import register_object, type_token

# Names whose modules import pulumi or pulumi_kubernetes: loaded on first use.
_LAZY = {
    "LLMService": "component",
    "register_object": "objects",
    "type_token": "objects",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"inferstack.kubernetes.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'inferstack.kubernetes' has no attribute {name!r}")


__all__ = [
    "CacheLayout",
    "LLMService",
    "LLMServiceArgs",
    "ModelCacheArgs",
    "ModelRef",
    "Names",
    "ServingPlan",
    "StartupBudget",
    "alert_rules",
    "alertmanager_config",
    "build_plan",
    "cache_volumes",
    "container_security_context",
    "dashboard",
    "dashboard_config_map",
    "deployment",
    "disruption_budget",
    "download_container",
    "egress_blocks",
    "gguf_download_command",
    "gguf_path",
    "ingress",
    "ingress_annotations",
    "load_query",
    "model_cache_claim",
    "model_location",
    "model_ref",
    "model_volume",
    "namespace",
    "network_policies",
    "object_labels",
    "pod_security_context",
    "pod_spec",
    "probes",
    "prometheus_rule",
    "register_object",
    "replica_resources",
    "scaled_object",
    "scheduling",
    "selector_labels",
    "server_command",
    "server_container",
    "service",
    "service_account",
    "service_monitor",
    "startup_budget",
    "type_token",
]

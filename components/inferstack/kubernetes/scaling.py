"""Autoscaling on what limits an LLM server (requests in flight and queued), and disruption limits.

KEDA is used rather than an HPA on a prometheus-adapter metric: a ScaledObject carries its
PromQL query with it (no cluster-wide adapter rules to keep in sync per service), and KEDA can
scale to zero and back, which an HPA cannot.
"""

from __future__ import annotations

from typing import Any

from inferstack.deployment import ScalingSpec
from inferstack.kubernetes.metrics import rate, series
from inferstack.kubernetes.plan import ServingPlan
from inferstack.kubernetes.workload import metadata

Manifest = dict[str, Any]

KEDA_API = "keda.sh/v1alpha1"
POLLING_SECONDS = 15
# The activation trigger only wakes the service from zero; this threshold keeps it from
# ever asking for more than one replica, which the load trigger decides.
ACTIVATION_ONLY_THRESHOLD = "1000000"


def metric_selector(plan: ServingPlan) -> str:
    """Series of this service as scraped through its ServiceMonitor."""
    return f'namespace="{plan.namespace}",service="{plan.names.service}"'


def load_query(plan: ServingPlan, metric: str) -> str | None:
    """PromQL for ``scaling.target.metric``; None when the runtime does not export it."""
    if metric == "gpu_utilization":
        # dcgm-exporter's per-pod labels; "exported_" when the scrape keeps its own labels.
        pods = f"{plan.names.deployment}-.*"
        return (
            f'avg(DCGM_FI_DEV_GPU_UTIL{{namespace="{plan.namespace}",pod=~"{pods}"}} '
            f'or DCGM_FI_DEV_GPU_UTIL{{exported_namespace="{plan.namespace}",'
            f'exported_pod=~"{pods}"}})'
        )
    metrics = plan.metrics
    if metrics is None:
        return None
    selector = metric_selector(plan)
    if metric == "concurrency":
        return (
            f"sum({series(metrics.running, selector)}) + sum({series(metrics.waiting, selector)})"
        )
    if metric == "queue_depth":
        return f"sum({series(metrics.waiting, selector)})"
    if metric == "invocations" and metrics.requests:
        return f"sum({rate(metrics.requests, selector, '1m')})"
    return None


def ingress_request_rate(ingress_name: str, window: str = "2m") -> str:
    """Requests reaching the ingress controller for this service, counted even at 0 replicas."""
    return f'sum(rate(nginx_ingress_controller_requests{{ingress="{ingress_name}"}}[{window}]))'


def scaled_object(
    plan: ServingPlan,
    scaling: ScalingSpec,
    *,
    prometheus_url: str,
    ingress_name: str,
) -> Manifest | None:
    """A KEDA ScaledObject on the runtime's load; None when the runtime exports no such metric.

    With ``scale_to_zero`` a second trigger watches the ingress controller's request count:
    with no pods there are no server metrics, so only the ingress can say someone is waiting.
    """
    query = load_query(plan, scaling.target.metric)
    if query is None:
        return None
    triggers: list[Manifest] = [
        {
            "type": "prometheus",
            "name": "llm-load",
            "metricType": "AverageValue",
            "metadata": {
                "serverAddress": prometheus_url,
                "query": query,
                "threshold": f"{scaling.target.value:g}",
                "activationThreshold": "0",
                "ignoreNullValues": "true",
            },
        }
    ]
    if scaling.scale_to_zero:
        triggers.append(
            {
                "type": "prometheus",
                "name": "ingress-activation",
                "metricType": "AverageValue",
                "metadata": {
                    "serverAddress": prometheus_url,
                    "query": ingress_request_rate(ingress_name),
                    "threshold": ACTIVATION_ONLY_THRESHOLD,
                    "activationThreshold": "0",
                    "ignoreNullValues": "true",
                },
            }
        )
    minimum = 0 if scaling.scale_to_zero else max(plan.min_replicas, 1)
    return {
        "apiVersion": KEDA_API,
        "kind": "ScaledObject",
        "metadata": metadata(plan.names.deployment, plan.labels, plan.namespace),
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": plan.names.deployment,
            },
            "minReplicaCount": minimum,
            "maxReplicaCount": scaling.max_replicas,
            "pollingInterval": POLLING_SECONDS,
            # How long without load before scaling to zero.
            "cooldownPeriod": scaling.scale_in_cooldown_seconds,
            # Prometheus unreachable: hold the floor rather than guess.
            "fallback": {"failureThreshold": 3, "replicas": max(plan.min_replicas, 1)},
            "advanced": {
                "horizontalPodAutoscalerConfig": {
                    "name": plan.names.deployment,
                    "behavior": {
                        "scaleUp": {
                            "stabilizationWindowSeconds": scaling.scale_out_cooldown_seconds,
                            "policies": [{"type": "Pods", "value": 2, "periodSeconds": 60}],
                        },
                        "scaleDown": {
                            "stabilizationWindowSeconds": scaling.scale_in_cooldown_seconds,
                            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 120}],
                        },
                    },
                }
            },
            "triggers": triggers,
        },
    }


def disruption_budget(plan: ServingPlan, *, max_unavailable: int | str = 1) -> Manifest:
    """At most ``max_unavailable`` replicas (a count or a percentage) evicted at a time.

    minAvailable 1 (or maxUnavailable 0) on a single replica would block node drains forever;
    one at a time keeps a replica serving whenever there are two or more. Fleets of devices
    allow a share of a site at once instead.
    """
    if isinstance(max_unavailable, int) and max_unavailable < 1:
        raise ValueError("max_unavailable below 1 would block node drains")
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(plan.names.deployment, plan.labels, plan.namespace),
        "spec": {
            "maxUnavailable": max_unavailable,
            "selector": {"matchLabels": dict(plan.selector)},
            # A crash-looping pod must not hold a drain hostage.
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }

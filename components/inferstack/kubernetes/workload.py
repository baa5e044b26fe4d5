"""The namespace, identity, storage, Deployment and Service of one serving workload."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inferstack.kubernetes.plan import ServingPlan
from inferstack.kubernetes.pod import pod_spec

Manifest = dict[str, Any]

PSA_LEVEL = "restricted"


def metadata(name: str, labels: dict[str, str], namespace: str | None = None) -> Manifest:
    meta: Manifest = {"name": name, "labels": dict(labels)}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def namespace(name: str, labels: dict[str, str]) -> Manifest:
    """A namespace that admits only pods meeting Pod Security ``restricted``."""
    psa = {
        f"pod-security.kubernetes.io/{mode}{suffix}": value
        for mode in ("enforce", "audit", "warn")
        for suffix, value in (("", PSA_LEVEL), ("-version", "latest"))
    }
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata(name, {**labels, **psa})}


def service_account(plan: ServingPlan) -> Manifest:
    # The server never calls the Kubernetes API: no token in the pod.
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(plan.names.service_account, plan.labels, plan.namespace),
        "automountServiceAccountToken": False,
    }


def model_cache_claim(plan: ServingPlan) -> Manifest | None:
    """The shared ReadWriteMany cache; None for per-pod caches and pvc:// sources."""
    if plan.model.scheme == "pvc" or plan.model_cache.kind != "shared":
        return None
    spec: Manifest = {
        "accessModes": ["ReadWriteMany"],
        "resources": {"requests": {"storage": f"{plan.cache_size_gi}Gi"}},
    }
    if plan.model_cache.storage_class_name is not None:
        spec["storageClassName"] = plan.model_cache.storage_class_name
    # WaitForFirstConsumer classes bind only when the pod starts: do not block on binding.
    return volume_claim(metadata(plan.names.model_cache, plan.labels, plan.namespace), spec)


def volume_claim(
    meta: Manifest, spec: Manifest, annotations: Mapping[str, str] | None = None
) -> Manifest:
    """A PersistentVolumeClaim the deployment does not wait to see bound (``skipAwait``): it
    binds when its first pod starts, or at once to a volume named for it."""
    annotated = {**meta, "annotations": {"pulumi.com/skipAwait": "true", **(annotations or {})}}
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": annotated,
        "spec": spec,
    }


def deployment(plan: ServingPlan) -> Manifest:
    """The serving Deployment; its progress deadline covers image pull, download and start."""
    replicas = max(plan.min_replicas, 1)
    # With one replica a surge pod keeps serving during rollout; with more, replacing one at a
    # time avoids waiting for a spare GPU node that may not exist.
    strategy = (
        {"maxSurge": 0, "maxUnavailable": 1}
        if replicas >= 2
        else {"maxSurge": 1, "maxUnavailable": 0}
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(plan.names.deployment, plan.pod_labels, plan.namespace),
        "spec": {
            "replicas": replicas,
            "revisionHistoryLimit": 3,
            "progressDeadlineSeconds": plan.budget.progress_deadline_seconds,
            "selector": {"matchLabels": dict(plan.selector)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": strategy},
            "template": {
                "metadata": {"labels": plan.pod_labels},
                "spec": pod_spec(plan),
            },
        },
    }


def service(plan: ServingPlan) -> Manifest:
    """ClusterIP only: the ingress controller is the single way in from outside."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        # The selector labels let the ServiceMonitor find this Service.
        "metadata": metadata(plan.names.service, {**plan.labels, **plan.selector}, plan.namespace),
        "spec": {
            "type": "ClusterIP",
            "selector": dict(plan.selector),
            "ports": [{"name": "http", "port": plan.port, "targetPort": "http", "protocol": "TCP"}],
        },
    }

"""Register a plain manifest as its pulumi_kubernetes resource (CRDs as CustomResource)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

Manifest = dict[str, Any]

# Built-in kinds get their typed class (schema-checked by the provider); anything else is a CRD.
KINDS: dict[tuple[str, str], Callable[..., pulumi.CustomResource]] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "PersistentVolume"): k8s.core.v1.PersistentVolume,
    ("v1", "PersistentVolumeClaim"): k8s.core.v1.PersistentVolumeClaim,
    ("v1", "Service"): k8s.core.v1.Service,
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("apps/v1", "DaemonSet"): k8s.apps.v1.DaemonSet,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
    ("networking.k8s.io/v1", "Ingress"): k8s.networking.v1.Ingress,
    ("autoscaling/v2", "HorizontalPodAutoscaler"): k8s.autoscaling.v2.HorizontalPodAutoscaler,
}


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


@functools.cache
def _snake(key: str) -> str:
    return _CAMEL.sub("_", key).lower()


def register(
    manifest: Manifest, resource_name: str, opts: pulumi.ResourceOptions
) -> pulumi.CustomResource:
    """Create the resource for ``manifest``; nested fields stay camelCase, as the provider takes."""
    api_version, kind = manifest["apiVersion"], manifest["kind"]
    fields = {k: v for k, v in manifest.items() if k not in ("apiVersion", "kind")}
    typed = KINDS.get((api_version, kind))
    if typed is None:
        extra = set(fields) - {"metadata", "spec"}
        if extra:
            raise ValueError(f"{kind}: custom resources take metadata and spec, not {extra}")
        return k8s.apiextensions.CustomResource(
            resource_name,
            api_version=api_version,
            kind=kind,
            metadata=fields["metadata"],
            spec=fields.get("spec"),
            opts=opts,
        )
    return typed(resource_name, opts=opts, **{_snake(k): v for k, v in fields.items()})

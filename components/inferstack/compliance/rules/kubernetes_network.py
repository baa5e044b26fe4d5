"""Kubernetes exposure: Services, default-deny NetworkPolicies, namespace PSA.

Ingress front doors are :mod:`inferstack.compliance.rules.kubernetes_ingress`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

from inferstack.compliance.model import (
    Report,
    Resource,
    Rule,
    RuleConfig,
    Scope,
    Severity,
    StackResource,
)
from inferstack.compliance.props import (
    MISSING,
    UNKNOWN,
    elements,
    entries,
    get,
    keys,
)
from inferstack.compliance.rules._common import (
    GDPR_BY_DESIGN,
    GDPR_SECURITY,
    HIPAA_ACCESS,
    HIPAA_TRANSMISSION,
    strings_setting,
    unverifiable,
)
from inferstack.compliance.rules._k8s import (
    NAMESPACE,
    NETWORK_POLICY,
    SERVICE,
    WORKLOAD_TYPES,
)
from inferstack.compliance.rules._stack import of_type

NGINX: Final = "nginx.ingress.kubernetes.io/"
INTERNAL_LB_ANNOTATIONS: Final = {
    "service.beta.kubernetes.io/aws-load-balancer-internal": ("true",),
    "service.beta.kubernetes.io/aws-load-balancer-scheme": ("internal",),
    "service.beta.kubernetes.io/azure-load-balancer-internal": ("true",),
    "networking.gke.io/load-balancer-type": ("internal",),
    "cloud.google.com/load-balancer-type": ("internal",),
}
RATE_LIMIT_ANNOTATIONS: Final = (
    f"{NGINX}limit-rps",
    f"{NGINX}limit-rpm",
    f"{NGINX}limit-connections",
)
BODY_SIZE_ANNOTATION: Final = f"{NGINX}proxy-body-size"
PSA_ENFORCE_LABEL: Final = "pod-security.kubernetes.io/enforce"
_SIZE: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)\s*$")
_UNITS: Final = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def _check_service(res: Resource, report: Report, cfg: RuleConfig) -> None:
    kind = get(res.props, "spec", "type")
    if kind is UNKNOWN:
        report(unverifiable("spec.type"))
        return
    kind = "ClusterIP" if kind is MISSING or kind is None else str(kind)
    if kind in cfg.strings("allowedTypes"):
        return
    annotations = dict(entries(res.props, "metadata", "annotations"))
    if kind == "LoadBalancer" and _internal(annotations):
        return
    report(
        f"the Service is of type {kind}, reachable from outside the cluster; "
        "use ClusterIP behind an authenticated Ingress or an internal load balancer"
    )


def _internal(annotations: dict[str, Any]) -> bool:
    return any(
        isinstance(annotations.get(key), str) and annotations[key].lower() in values
        for key, values in INTERNAL_LB_ANNOTATIONS.items()
    )


def _check_psa(res: Resource, report: Report, cfg: RuleConfig) -> None:
    level = get(res.props, "metadata", "labels", PSA_ENFORCE_LABEL)
    if level is UNKNOWN:
        report(unverifiable(f"label {PSA_ENFORCE_LABEL}"))
    elif level != "restricted":
        report(f"the namespace does not enforce the restricted pod security standard ({level!r})")


class _Namespaces:
    """Identities for namespaces that are the same in preview and in update.

    A namespace created in the stack is identified by its Namespace resource, whether a
    workload names it literally or through the Namespace's (unknown in preview) output.
    """

    def __init__(self, resources: Sequence[StackResource]) -> None:
        self._resources = {ns.urn: ns for ns in of_type(resources, NAMESPACE)}
        self._by_name = {
            name: ns
            for ns in self._resources.values()
            if isinstance(name := get(ns.props, "metadata", "name"), str)
        }

    def of(self, resource: StackResource) -> tuple[str, str] | None:
        """(identity, name to show) of the resource's namespace; None if it cannot be known."""
        for dep in resource.property_dependencies.get("metadata", ()):
            if dep.urn in self._resources:
                return self._identify(self._resources[dep.urn])
        value = get(resource.props, "metadata", "namespace")
        if value is UNKNOWN:
            return None
        name = "default" if value is MISSING or value is None else str(value)
        if name in self._by_name:
            return self._identify(self._by_name[name])
        return f"name:{name}", name

    @staticmethod
    def _identify(namespace: StackResource) -> tuple[str, str]:
        name = get(namespace.props, "metadata", "name")
        return f"urn:{namespace.urn}", name if isinstance(name, str) else namespace.name


def _default_deny(policy: StackResource) -> bool:
    selector = get(policy.props, "spec", "podSelector")
    if (
        selector is UNKNOWN
        or elements(selector, "matchExpressions")
        or keys(selector, "matchLabels")
    ):
        return False
    # Without policyTypes, Kubernetes treats every policy as an Ingress policy.
    types = elements(policy.props, "spec", "policyTypes")
    if types and "Ingress" not in types:
        return False
    ingress = get(policy.props, "spec", "ingress")
    return ingress is not UNKNOWN and not elements(policy.props, "spec", "ingress")


def _check_default_deny(
    resources: Sequence[StackResource], report: Report, cfg: RuleConfig
) -> None:
    namespaces = _Namespaces(resources)
    protected = {
        found[0]
        for policy in of_type(resources, NETWORK_POLICY)
        if _default_deny(policy) and (found := namespaces.of(policy)) is not None
    }
    for workload in of_type(resources, *WORKLOAD_TYPES):
        found = namespaces.of(workload)
        if found is None:
            report(unverifiable("metadata.namespace"), workload.urn)
        elif found[0] not in protected:
            report(
                f"workload '{workload.name}' runs in namespace '{found[1]}', which has no "
                "default-deny ingress NetworkPolicy",
                workload.urn,
            )


_EXPOSURE = (HIPAA_ACCESS, HIPAA_TRANSMISSION, GDPR_BY_DESIGN, GDPR_SECURITY)

RULES: Final = (
    Rule(
        name="kubernetes-core-service-restrict-exposure",
        description="Services are not exposed outside the cluster (LoadBalancer or NodePort).",
        severity=Severity.HIGH,
        resource_types=(SERVICE,),
        controls=_EXPOSURE,
        frameworks=frozenset({"baseline"}),
        remediation="Use type ClusterIP behind an authenticated, TLS-terminating Ingress, or mark "
        "the load balancer internal; allow other types with allowedTypes.",
        check=_check_service,
        reads=("spec.type", "metadata.annotations", "metadata.annotations.*"),
        settings=(
            strings_setting("allowedTypes", "Service types that are allowed.", ("ClusterIP",)),
        ),
    ),
    Rule(
        name="kubernetes-networking-namespace-require-default-deny",
        description="Every namespace running workloads has a default-deny ingress NetworkPolicy.",
        severity=Severity.HIGH,
        resource_types=(*WORKLOAD_TYPES, NETWORK_POLICY, NAMESPACE),
        controls=(HIPAA_ACCESS, HIPAA_TRANSMISSION, GDPR_BY_DESIGN, GDPR_SECURITY),
        frameworks=frozenset({"baseline"}),
        remediation="Add a NetworkPolicy with podSelector: {} and policyTypes: [Ingress] (and "
        "Egress) to the namespace, then allow only the ingress controller and Prometheus.",
        check=_check_default_deny,
        reads=(
            "metadata.namespace",
            "spec.podSelector",
            "spec.podSelector.matchExpressions",
            "spec.podSelector.matchLabels",
            "spec.policyTypes",
            "spec.policyTypes[*]",
            "spec.ingress",
            "spec.ingress[*]",
        ),
        references=("metadata.name",),
        scope=Scope.STACK,
        peers=("CKV2_K8S_6",),
    ),
    Rule(
        name="kubernetes-core-namespace-require-psa-restricted",
        description="Namespaces enforce the restricted Pod Security Standard.",
        severity=Severity.MEDIUM,
        resource_types=(NAMESPACE,),
        controls=(HIPAA_ACCESS, GDPR_BY_DESIGN, GDPR_SECURITY),
        frameworks=frozenset({"baseline"}),
        remediation="Label the namespace pod-security.kubernetes.io/enforce: restricted.",
        check=_check_psa,
        reads=("metadata.labels", "metadata.labels.*"),
    ),
)

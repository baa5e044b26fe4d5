"""Kubernetes exposure: Services, Ingress front doors, default-deny NetworkPolicies, namespace PSA.

The ingress annotations understood are ingress-nginx's (the spec's default ingress class) and the
AWS Load Balancer Controller's authentication; other controllers can be accepted through the
``extra*Annotations`` settings.
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
    as_bool,
    as_number,
    elements,
    entries,
    get,
    keys,
)
from inferstack.compliance.rules._common import (
    GDPR_BY_DESIGN,
    GDPR_SECURITY,
    HIPAA_ACCESS,
    HIPAA_AUTHENTICATION,
    HIPAA_TRANSMISSION,
    HIPAA_TRANSMISSION_ENCRYPTION,
    HIPAA_TRANSMISSION_INTEGRITY,
    OWASP_CONSUMPTION,
    number_setting,
    strings_setting,
    unverifiable,
)
from inferstack.compliance.rules._k8s import (
    INGRESS,
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


def _annotations(res: Resource) -> dict[str, Any] | None:
    """Annotations by key, or None after reporting that the map itself is unknown."""
    if get(res.props, "metadata", "annotations") is UNKNOWN:
        return None
    return dict(entries(res.props, "metadata", "annotations"))


def _check_service(res: Resource, report: Report, cfg: RuleConfig) -> None:
    kind = get(res.props, "spec", "type")
    if kind is UNKNOWN:
        report(unverifiable("spec.type"))
        return
    kind = "ClusterIP" if kind is MISSING or kind is None else str(kind)
    if kind in cfg.strings("allowedTypes"):
        return
    annotations = _annotations(res)
    if annotations is None:
        report(unverifiable("metadata.annotations"))
        return
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


def _check_ingress_tls(res: Resource, report: Report, cfg: RuleConfig) -> None:
    tls = get(res.props, "spec", "tls")
    if tls is UNKNOWN:
        report(unverifiable("spec.tls"))
        return
    entries_ = elements(res.props, "spec", "tls")
    if not entries_:
        report("the Ingress serves plain HTTP: it has no spec.tls")
        return
    covered: set[str] = set()
    for index, entry in enumerate(entries_):
        if entry is UNKNOWN or get(entry, "hosts") is UNKNOWN:
            report(unverifiable(f"spec.tls[{index}]"))
            return
        if get(entry, "secretName") in (MISSING, None, ""):
            report("a spec.tls entry has no secretName")
        covered.update(h for h in elements(entry, "hosts") if isinstance(h, str))
    for rule in elements(res.props, "spec", "rules"):
        host = get(rule, "host")
        if isinstance(host, str) and host not in covered:
            report(f"host '{host}' is not covered by spec.tls")
    annotations = _annotations(res)
    if annotations is None:
        report(unverifiable("metadata.annotations"))
    elif as_bool(annotations.get(f"{NGINX}ssl-redirect")) is False:
        report("ssl-redirect is disabled, so plain HTTP requests are served")


def _check_ingress_auth(res: Resource, report: Report, cfg: RuleConfig) -> None:
    annotations = _annotations(res)
    if annotations is None:
        report(unverifiable("metadata.annotations"))
        return
    if _authenticated(annotations, cfg.strings("extraAuthAnnotations")):
        return
    report(
        "the Ingress forwards requests without authentication: set an external auth-url "
        "(OIDC through oauth2-proxy) or client certificate verification (mTLS)"
    )


def _authenticated(annotations: dict[str, Any], extra: Sequence[str]) -> bool:
    if _set(annotations.get(f"{NGINX}auth-url")):
        return True
    # Only "on" rejects callers without a certificate ("optional" lets them through); an
    # unknown value counts as set, like every unknown reference.
    verify = annotations.get(f"{NGINX}auth-tls-verify-client", "")
    if _set(annotations.get(f"{NGINX}auth-tls-secret")) and (
        verify is UNKNOWN or str(verify).lower() == "on"
    ):
        return True
    alb_auth = annotations.get("alb.ingress.kubernetes.io/auth-type")
    if isinstance(alb_auth, str) and alb_auth.lower() in ("cognito", "oidc"):
        return True
    return any(_set(annotations.get(key)) for key in extra)


def _set(value: Any) -> bool:
    return value is UNKNOWN or (isinstance(value, str) and value.strip() != "")


def _check_rate_limit(res: Resource, report: Report, cfg: RuleConfig) -> None:
    annotations = _annotations(res)
    if annotations is None:
        report(unverifiable("metadata.annotations"))
        return
    for key in RATE_LIMIT_ANNOTATIONS:
        value = annotations.get(key)
        if value is UNKNOWN:
            report(unverifiable(f"annotation {key}"))
            return
        limit = as_number(value)
        if limit is not None and limit > 0:
            return
    if any(_set(annotations.get(key)) for key in cfg.strings("extraRateLimitAnnotations")):
        return
    report("the Ingress has no rate limit (limit-rps, limit-rpm or limit-connections)")


def _body_bytes(value: Any) -> float | None:
    match = _SIZE.match(str(value)) if isinstance(value, str | int | float) else None
    if match is None:
        return None
    return float(match.group(1)) * _UNITS[match.group(2).lower()]


def _check_body_size(res: Resource, report: Report, cfg: RuleConfig) -> None:
    annotations = _annotations(res)
    if annotations is None:
        report(unverifiable("metadata.annotations"))
        return
    value = annotations.get(BODY_SIZE_ANNOTATION, MISSING)
    if value is UNKNOWN:
        report(unverifiable(f"annotation {BODY_SIZE_ANNOTATION}"))
        return
    if value is MISSING:
        report(f"the Ingress sets no request body limit ({BODY_SIZE_ANNOTATION})")
        return
    size = _body_bytes(value)
    limit = cfg.number("maxBodyBytes")
    if size is None or size <= 0:
        report(f"{BODY_SIZE_ANNOTATION} '{value}' does not bound the request body")
    elif limit is not None and size > limit:
        report(f"{BODY_SIZE_ANNOTATION} '{value}' exceeds the {int(limit)} byte limit")


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
        settings=(
            strings_setting("allowedTypes", "Service types that are allowed.", ("ClusterIP",)),
        ),
    ),
    Rule(
        name="kubernetes-networking-ingress-require-tls",
        description="Ingresses terminate TLS for every host and do not fall back to plain HTTP.",
        severity=Severity.HIGH,
        resource_types=(INGRESS,),
        controls=(
            HIPAA_TRANSMISSION,
            HIPAA_TRANSMISSION_INTEGRITY,
            HIPAA_TRANSMISSION_ENCRYPTION,
            GDPR_SECURITY,
        ),
        frameworks=frozenset({"baseline"}),
        remediation="Add spec.tls with a secretName covering every rule host "
        "(security.network.tls_secret_name, or cert-manager).",
        check=_check_ingress_tls,
    ),
    Rule(
        name="kubernetes-networking-ingress-require-auth",
        description="Ingresses authenticate callers before requests reach the model server.",
        severity=Severity.CRITICAL,
        resource_types=(INGRESS,),
        controls=(HIPAA_ACCESS, HIPAA_AUTHENTICATION, GDPR_SECURITY),
        frameworks=frozenset({"baseline"}),
        remediation="Set nginx.ingress.kubernetes.io/auth-url (OIDC via oauth2-proxy) or "
        "auth-tls-secret with auth-tls-verify-client: 'on' (security.auth: oidc or mtls).",
        check=_check_ingress_auth,
        settings=(
            strings_setting(
                "extraAuthAnnotations",
                "Other annotation keys whose presence means the controller authenticates.",
                (),
            ),
        ),
    ),
    Rule(
        name="kubernetes-networking-ingress-require-rate-limit",
        description="Ingresses rate-limit callers, bounding consumption of GPU capacity.",
        severity=Severity.MEDIUM,
        resource_types=(INGRESS,),
        controls=(OWASP_CONSUMPTION, HIPAA_ACCESS, GDPR_SECURITY),
        frameworks=frozenset({"baseline"}),
        remediation="Set nginx.ingress.kubernetes.io/limit-rps (and limit-burst-multiplier) "
        "from security.rate_limit.",
        check=_check_rate_limit,
        peers=(),
        settings=(
            strings_setting(
                "extraRateLimitAnnotations",
                "Other annotation keys whose presence means the controller rate-limits.",
                (),
            ),
        ),
    ),
    Rule(
        name="kubernetes-networking-ingress-limit-body-size",
        description="Ingresses cap the request body size, so one prompt cannot be unbounded.",
        severity=Severity.MEDIUM,
        resource_types=(INGRESS,),
        controls=(OWASP_CONSUMPTION, GDPR_SECURITY),
        frameworks=frozenset({"baseline"}),
        remediation="Set nginx.ingress.kubernetes.io/proxy-body-size (e.g. '64k') from "
        "security.max_request_bytes; '0' means unlimited.",
        check=_check_body_size,
        settings=(
            number_setting(
                "maxBodyBytes", "Largest allowed request body limit, in bytes.", 10 * 1024 * 1024
            ),
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
    ),
)

"""Kubernetes Ingress front doors: TLS, authentication, rate limits, request body limits.

The annotations understood are ingress-nginx's (the spec's default ingress class) and the AWS
Load Balancer Controller's authentication; other controllers can be accepted through the
``extra*Annotations`` settings. Rate and body limits serve availability (OWASP LLM10, GDPR Art.
32), not access control.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

from inferstack.compliance.model import Report, Resource, Rule, RuleConfig, Severity
from inferstack.compliance.props import MISSING, UNKNOWN, as_bool, as_number, elements, entries, get
from inferstack.compliance.rules._common import (
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
from inferstack.compliance.rules._k8s import INGRESS

NGINX: Final = "nginx.ingress.kubernetes.io/"
RATE_LIMIT_ANNOTATIONS: Final = (
    f"{NGINX}limit-rps",
    f"{NGINX}limit-rpm",
    f"{NGINX}limit-connections",
)
BODY_SIZE_ANNOTATION: Final = f"{NGINX}proxy-body-size"
_SIZE: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)\s*$")
_UNITS: Final = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
ANNOTATIONS: Final = ("metadata.annotations", "metadata.annotations.*")
TLS_READS: Final = (
    "spec.tls",
    "spec.tls[*]",
    "spec.tls[*].hosts",
    "spec.tls[*].hosts[*]",
    "spec.rules",
    "spec.rules[*]",
    "spec.rules[*].host",
)


def _annotations(res: Resource) -> dict[str, Any] | None:
    """Annotations by key, or None when the map itself is unknown (the caller reports it)."""
    if get(res.props, "metadata", "annotations") is UNKNOWN:
        return None
    return dict(entries(res.props, "metadata", "annotations"))


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
        hosts = elements(entry, "hosts")
        if UNKNOWN in hosts:
            report(unverifiable(f"spec.tls[{index}].hosts"))
            return
        covered.update(h for h in hosts if isinstance(h, str))
    for index, rule in enumerate(elements(res.props, "spec", "rules")):
        host = get(rule, "host")
        if rule is UNKNOWN or host is UNKNOWN:
            report(unverifiable(f"spec.rules[{index}].host"))
        elif isinstance(host, str) and host not in covered:
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
            report(unverifiable(f"metadata.annotations.{key}"))
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
        report(unverifiable(f"metadata.annotations.{BODY_SIZE_ANNOTATION}"))
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


RULES: Final = (
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
        remediation="Set security.network.tls_secret_name (or issue the certificate with "
        "cert-manager); on the resource: spec.tls with a secretName covering every rule host.",
        check=_check_ingress_tls,
        reads=(*TLS_READS, *ANNOTATIONS),
        # A Secret's name may come from the Secret resource: a reference, checked for presence.
        references=("spec.tls[*].secretName",),
    ),
    Rule(
        name="kubernetes-networking-ingress-require-auth",
        description="Ingresses authenticate callers before requests reach the model server.",
        severity=Severity.CRITICAL,
        resource_types=(INGRESS,),
        controls=(HIPAA_ACCESS, HIPAA_AUTHENTICATION, GDPR_SECURITY),
        frameworks=frozenset({"baseline"}),
        remediation="Set security.auth: oidc or mtls; on the resource: "
        "nginx.ingress.kubernetes.io/auth-url (OIDC via oauth2-proxy) or auth-tls-secret with "
        "auth-tls-verify-client: 'on'.",
        check=_check_ingress_auth,
        reads=ANNOTATIONS,
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
        controls=(OWASP_CONSUMPTION, GDPR_SECURITY),
        frameworks=frozenset({"baseline"}),
        remediation="Set security.rate_limit; on the resource: "
        "nginx.ingress.kubernetes.io/limit-rps (and limit-burst-multiplier).",
        check=_check_rate_limit,
        reads=ANNOTATIONS,
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
        remediation="Set security.max_request_bytes; on the resource: "
        "nginx.ingress.kubernetes.io/proxy-body-size (e.g. '64k'); '0' means unlimited.",
        check=_check_body_size,
        reads=ANNOTATIONS,
        settings=(
            number_setting(
                "maxBodyBytes", "Largest allowed request body limit, in bytes.", 10 * 1024 * 1024
            ),
        ),
    ),
)

"""Jetson fleets: device groups that could screen prompts do, and the site ingress buffers bodies.

A serving DaemonSet of a fleet (it selects devices by ``inferstack.io/jetson-module`` and asks
for ``nvidia.com/gpu``) on a module whose memory leaves room for Llama Guard 3 1B (AGX Orin,
Thor) must run the device gateway with a guard model named (its ``gateway`` container's
``GUARD_MODEL``): otherwise prompts reach the model unscreened where screening was affordable.
On smaller modules the gateway's limits apply alone, which the docs say; no finding there.

The site ingress's authentication, rate and body limits are the baseline's ingress rules; this
module adds request buffering, so the controller reads a body whole (within the body limit)
before any device sees it, and a slow client cannot hold a device's connection open.
"""

from __future__ import annotations

from typing import Any, Final

from inferstack import catalog
from inferstack.compliance.model import Report, Resource, Rule, RuleConfig, Severity
from inferstack.compliance.props import MISSING, UNKNOWN, elements, get
from inferstack.compliance.rules._common import OWASP_CONSUMPTION, OWASP_INJECTION, unverifiable
from inferstack.compliance.rules._k8s import DAEMONSET, INGRESS
from inferstack.compliance.rules.jetson import _TERM_READS as TERM_READS
from inferstack.compliance.rules.jetson import MODULE_LABEL, _expressions

GUARD_FAMILIES: Final = ("agx-orin", "thor")  # inferstack.jetson.guard.GUARD_FAMILIES
GATEWAY: Final = "gateway"
GUARD_ENV: Final = "GUARD_MODEL"
GPU: Final = "nvidia.com/gpu"
_CONTAINERS: Final = ("spec", "template", "spec", "containers")
BUFFERING: Final = "nginx.ingress.kubernetes.io/proxy-request-buffering"


def guard_modules() -> frozenset[str]:
    """Jetson modules of the guard-capable families, from the catalog."""
    return frozenset(
        name for name, hw in catalog.jetson_modules().items() if hw.family in GUARD_FAMILIES
    )


def _modules(res: Resource, report: Report) -> set[str] | None:
    """Modules the DaemonSet's required node affinity selects; None when unknown (reported)."""
    terms = _expressions(res.props, report)
    if terms is None:
        return None
    modules: set[str] = set()
    for _, pairs in terms:
        for expression, key in pairs:
            if key != MODULE_LABEL:
                continue
            values = elements(expression, "values")
            if get(expression, "operator") is UNKNOWN or UNKNOWN in values:
                report(unverifiable("spec.template.spec.affinity", "the module is unknown"))
                return None
            modules.update(str(v) for v in values)
    return modules


def _containers(res: Resource, report: Report) -> list[Any] | None:
    containers = elements(res.props, *_CONTAINERS)
    if get(res.props, *_CONTAINERS) is UNKNOWN or UNKNOWN in containers:
        report(unverifiable("spec.template.spec.containers"))
        return None
    return containers


def _serves_on_gpu(containers: list[Any]) -> bool | None:
    for container in containers:
        limit = get(container, "resources", "limits", GPU)
        if limit is UNKNOWN:
            return None
        if limit not in (None, MISSING) and str(limit) not in ("0", ""):
            return True
    return False


def _guard_model(containers: list[Any], report: Report) -> str | None:
    """The gateway's guard model ('' when it has none); None when unknown (reported)."""
    for index, container in enumerate(containers):
        if get(container, "name") != GATEWAY:
            continue
        for variable in elements(container, "env"):
            name, value = get(variable, "name"), get(variable, "value")
            if UNKNOWN in (variable, name) or (name == GUARD_ENV and value is UNKNOWN):
                report(unverifiable(f"spec.template.spec.containers[{index}].env"))
                return None
            if name == GUARD_ENV:
                return "" if value in (None, MISSING) else str(value)
    return ""


def _check_guard(res: Resource, report: Report, cfg: RuleConfig) -> None:
    modules = _modules(res, report)
    if not modules:
        return
    capable = sorted(modules & guard_modules())
    if not capable:
        return
    containers = _containers(res, report)
    if containers is None:
        return
    serving = _serves_on_gpu(containers)
    if serving is None:
        report(unverifiable("spec.template.spec.containers[*].resources.limits"))
        return
    if not serving:
        return
    guard = _guard_model(containers, report)
    if guard == "":
        report(
            f"serves a model on {', '.join(capable)}, which can hold Llama Guard 3 1B, without "
            "a gateway that screens prompts with it"
        )


def _check_buffering(res: Resource, report: Report, cfg: RuleConfig) -> None:
    value = get(res.props, "metadata", "annotations", BUFFERING)
    if value is UNKNOWN:
        report(unverifiable(f"metadata.annotations.{BUFFERING}"))
    elif value is not None and str(value).strip().lower() == "off":
        report(
            f"{BUFFERING}: off streams request bodies to the backend as they arrive; "
            "a slow client holds the backend's connection"
        )


RULES: Final = (
    Rule(
        name="kubernetes-jetson-devicegroup-require-guard",
        description=(
            "Jetson device groups on AGX Orin and Thor modules screen prompts with Llama Guard "
            "in their gateway before the model sees them."
        ),
        severity=Severity.HIGH,
        resource_types=(DAEMONSET,),
        controls=(OWASP_INJECTION,),
        frameworks=frozenset({"owasp-llm"}),
        remediation=(
            "Keep security.guard.provider auto (or llama-guard) and serve the group with Ollama "
            "(compute.fleet.variants.<module>: {dtype: gguf-q4_k_m, runtime: ollama}); do not "
            "patch out the gateway container or its GUARD_MODEL (docs/targets/jetson.md)."
        ),
        check=_check_guard,
        reads=(
            *TERM_READS,
            "spec.template.spec.containers",
            "spec.template.spec.containers[*]",
            "spec.template.spec.containers[*].name",
            "spec.template.spec.containers[*].resources.limits.*",
            "spec.template.spec.containers[*].env",
            "spec.template.spec.containers[*].env[*]",
            "spec.template.spec.containers[*].env[*].name",
            "spec.template.spec.containers[*].env[*].value",
        ),
    ),
    Rule(
        name="kubernetes-networking-ingress-require-request-buffering",
        description=(
            "Ingresses read each request body whole before passing it on, so slow clients "
            "cannot hold model servers' connections."
        ),
        severity=Severity.MEDIUM,
        resource_types=(INGRESS,),
        controls=(OWASP_CONSUMPTION,),
        frameworks=frozenset({"owasp-llm"}),
        remediation=(
            "Remove nginx.ingress.kubernetes.io/proxy-request-buffering: 'off' (ingress-nginx "
            "buffers by default; the Jetson fleet sets 'on' explicitly)."
        ),
        check=_check_buffering,
        reads=("metadata.annotations", "metadata.annotations.*"),
    ),
)

"""OWASP LLM prompt injection on Kubernetes: a guard in front of every model, and no bypass.

A model workload (pod label ``app.kubernetes.io/component: inference-server``) needs, with the
same instance label, a gateway (``gateway``) and the guard it calls (``guard``); its pods may be
reached only from the gateway's pods, the red-team scanner's pods and the metrics scraper's
namespace; and the gateway screens every prompt before the model (its LiteLLM config has a
``pre_call`` guardrail that is on by default and not switched off). Jetson fleets (DaemonSets)
front their devices with the site ingress: the Jetson rules judge them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import yaml

from inferstack.compliance.model import (
    Report,
    Resource,
    Rule,
    RuleConfig,
    Scope,
    Severity,
    StackResource,
)
from inferstack.compliance.props import MISSING, UNKNOWN, elements, entries, get
from inferstack.compliance.rules._common import (
    OWASP_DISCLOSURE,
    OWASP_INJECTION,
    strings_setting,
    unverifiable,
)
from inferstack.compliance.rules._k8s import (
    DEPLOYMENT,
    NETWORK_POLICY,
    POD,
    REPLICASET,
    STATEFULSET,
    pod_template_labels_path,
)
from inferstack.compliance.rules._stack import of_type

CONFIG_MAP: Final = "kubernetes:core/v1:ConfigMap"
COMPONENT: Final = "app.kubernetes.io/component"
INSTANCE: Final = "app.kubernetes.io/instance"
NAMESPACE_NAME: Final = "kubernetes.io/metadata.name"
MODEL_WORKLOADS: Final = (DEPLOYMENT, STATEFULSET, REPLICASET, POD)
GATEWAY_CONFIG_KEY: Final = "config.yaml"


def _labels_path(resource_type: str) -> tuple[str, ...]:
    if resource_type == POD:
        return ("metadata", "labels")
    return pod_template_labels_path(resource_type)


def _pod_labels(workload: StackResource) -> dict[str, Any] | None:
    """The pod labels, or None when they are known only after deploy."""
    path = _labels_path(workload.resource_type)
    if get(workload.props, *path) is UNKNOWN:
        return None
    return dict(entries(workload.props, *path))


class _Workloads:
    """The stack's workloads by component label, for one stack check."""

    def __init__(self, resources: Sequence[StackResource], report: Report, cfg: RuleConfig):
        self.models: list[tuple[StackResource, dict[str, Any]]] = []
        self.instances: dict[str, set[str]] = {}
        models = set(cfg.strings("modelComponents"))
        for workload in of_type(resources, *MODEL_WORKLOADS):
            labels = _pod_labels(workload)
            if labels is None:
                path = ".".join(_labels_path(workload.resource_type))
                report(unverifiable(path, "known only after deploy"), workload.urn)
                continue
            component, instance = labels.get(COMPONENT), labels.get(INSTANCE)
            if component is UNKNOWN or instance is UNKNOWN:
                report(unverifiable("pod labels", "known only after deploy"), workload.urn)
                continue
            if component in models:
                self.models.append((workload, labels))
            elif isinstance(component, str) and isinstance(instance, str):
                self.instances.setdefault(component, set()).add(instance)


def _check_guarded(resources: Sequence[StackResource], report: Report, cfg: RuleConfig) -> None:
    found = _Workloads(resources, report, cfg)
    for workload, labels in found.models:
        instance = labels.get(INSTANCE)
        for part in ("gateway", "guard"):
            if not isinstance(instance, str) or instance not in found.instances.get(part, ()):
                report(
                    f"model workload '{workload.name}' has no {part} workload in front of it "
                    f"(pods labelled {COMPONENT}: {part}, {INSTANCE}: {instance})",
                    workload.urn,
                )


def _selects(policy: StackResource, labels: dict[str, Any], namespace: Any) -> bool | None:
    """Whether the policy selects pods with ``labels`` in ``namespace``; None when unknown."""
    policy_namespace = get(policy.props, "metadata", "namespace")
    selector = get(policy.props, "spec", "podSelector")
    if policy_namespace is UNKNOWN or selector is UNKNOWN:
        return None
    if policy_namespace != namespace:
        return False
    wanted = dict(entries(selector, "matchLabels"))
    if any(value is UNKNOWN for value in wanted.values()):
        return None
    # matchExpressions narrow the selection further; judging the peers anyway is the safe side.
    return all(labels.get(key) == value for key, value in wanted.items())


def _peer_problem(peer: Any, cfg: RuleConfig) -> str | None:
    """Why a ``from`` peer admits more than the gateway, the red team or the scraper."""
    if peer is UNKNOWN:
        return "admits a source known only after deploy"
    if get(peer, "ipBlock") is not MISSING:
        return "admits addresses by ipBlock"
    namespaces = get(peer, "namespaceSelector")
    if namespaces is not MISSING:
        names = dict(entries(peer, "namespaceSelector", "matchLabels"))
        name = names.get(NAMESPACE_NAME)
        scrapers = cfg.strings("scraperNamespaces")
        if (
            list(names) == [NAMESPACE_NAME]
            and not elements(namespaces, "matchExpressions")
            and isinstance(name, str)
            and name in scrapers
        ):
            return None
        return "admits pods of other namespaces than the metrics scraper's"
    pods = get(peer, "podSelector")
    if pods is MISSING:
        return "admits every source"
    component = get(pods, "matchLabels", COMPONENT)
    if component is UNKNOWN:
        return "admits pods chosen by a label known only after deploy"
    if isinstance(component, str) and component in cfg.strings("admittedComponents"):
        return None
    return "admits pods other than the gateway's"


def _check_ingress(resources: Sequence[StackResource], report: Report, cfg: RuleConfig) -> None:
    found = _Workloads(resources, report, cfg)
    for workload, labels in found.models:
        namespace = get(workload.props, "metadata", "namespace")
        if namespace is UNKNOWN:
            report(unverifiable("metadata.namespace"), workload.urn)
            continue
        for policy in of_type(resources, NETWORK_POLICY):
            selected = _selects(policy, labels, namespace)
            if selected is None:
                report(unverifiable("spec.podSelector"), policy.urn)
                continue
            if not selected:
                continue
            types = get(policy.props, "spec", "policyTypes")
            if types is UNKNOWN:
                report(unverifiable("spec.policyTypes"), policy.urn)
                continue
            if elements(policy.props, "spec", "policyTypes") and "Ingress" not in types:
                continue
            for rule in elements(policy.props, "spec", "ingress"):
                peers = get(rule, "from")
                problems = (
                    ["admits a source known only after deploy"]
                    if peers is UNKNOWN
                    else [_peer_problem(peer, cfg) for peer in elements(rule, "from")]
                    or ["admits every source (no 'from')"]
                )
                for problem in dict.fromkeys(p for p in problems if p):
                    report(
                        f"NetworkPolicy '{policy.name}' {problem} to model workload "
                        f"'{workload.name}'; only the gateway, the red team and the metrics "
                        "scraper may reach the model",
                        policy.urn,
                    )


def _gateway_config(res: Resource, report: Report) -> Any:
    component = get(res.props, "metadata", "labels", COMPONENT)
    if component is UNKNOWN:
        report(unverifiable(f"metadata.labels.{COMPONENT}"))
        return None
    if component != "gateway":
        res.not_applicable("not a gateway's ConfigMap")
    text = get(res.props, "data", GATEWAY_CONFIG_KEY)
    if text is UNKNOWN:
        report(unverifiable(f"data.{GATEWAY_CONFIG_KEY}"))
        return None
    if not isinstance(text, str):
        report(f"the gateway's ConfigMap has no {GATEWAY_CONFIG_KEY}")
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        report(f"the gateway's {GATEWAY_CONFIG_KEY} is not YAML")
        return None


def _screens_input(guardrail: Any) -> bool:
    if not isinstance(guardrail, Mapping):
        return False
    params = guardrail.get("litellm_params")
    if not isinstance(params, Mapping):
        return False
    mode = params.get("mode")
    modes = mode if isinstance(mode, list) else [mode]
    return (
        "pre_call" in modes
        and params.get("default_on") is True
        and params.get("screen", True) is not False
    )


def _check_input_screening(res: Resource, report: Report, cfg: RuleConfig) -> None:
    config = _gateway_config(res, report)
    if config is None:
        return
    guardrails = config.get("guardrails") if isinstance(config, Mapping) else None
    if not isinstance(guardrails, list) or not any(_screens_input(g) for g in guardrails):
        report(
            "the gateway sends prompts to the model unscreened: no guardrail runs pre_call, "
            "on by default"
        )


_COMPONENTS = strings_setting(
    "modelComponents",
    "Values of app.kubernetes.io/component that mark a model server's pods.",
    ("inference-server",),
)

RULES: Final = (
    Rule(
        name="kubernetes-llm-gateway-require-guard",
        description="Every model workload has a gateway and a guard service in front of it.",
        severity=Severity.HIGH,
        resource_types=MODEL_WORKLOADS,
        controls=(OWASP_INJECTION, OWASP_DISCLOSURE),
        frameworks=frozenset({"owasp-llm"}),
        remediation="Deploy the model with inferstack's LLMService (security.guard on), or run "
        "a gateway and a guard labelled app.kubernetes.io/component: gateway / guard with the "
        "model's app.kubernetes.io/instance.",
        check=_check_guarded,
        reads=(
            "spec.template.metadata.labels",
            "spec.template.metadata.labels.*",
            "metadata.labels",
            "metadata.labels.*",
        ),
        scope=Scope.STACK,
        settings=(_COMPONENTS,),
    ),
    Rule(
        name="kubernetes-llm-model-restrict-ingress",
        description="Only the gateway, the red team and the metrics scraper reach model pods.",
        severity=Severity.HIGH,
        resource_types=(*MODEL_WORKLOADS, NETWORK_POLICY),
        controls=(OWASP_INJECTION,),
        frameworks=frozenset({"owasp-llm"}),
        remediation="Admit the model's port only from pods labelled app.kubernetes.io/component: "
        "gateway (or red-team) and the monitoring namespace; send every other caller through "
        "the gateway.",
        check=_check_ingress,
        reads=(
            "spec.template.metadata.labels",
            "spec.template.metadata.labels.*",
            "metadata.labels",
            "metadata.labels.*",
            "metadata.namespace",
            "spec.podSelector",
            "spec.podSelector.matchLabels",
            "spec.podSelector.matchLabels.*",
            "spec.policyTypes",
            "spec.policyTypes[*]",
            "spec.ingress",
            "spec.ingress[*]",
            "spec.ingress[*].from",
            "spec.ingress[*].from[*]",
            "spec.ingress[*].from[*].ipBlock",
            "spec.ingress[*].from[*].namespaceSelector",
            "spec.ingress[*].from[*].namespaceSelector.matchExpressions",
            "spec.ingress[*].from[*].namespaceSelector.matchLabels",
            "spec.ingress[*].from[*].namespaceSelector.matchLabels.*",
            "spec.ingress[*].from[*].podSelector",
            "spec.ingress[*].from[*].podSelector.matchLabels",
            "spec.ingress[*].from[*].podSelector.matchLabels.*",
        ),
        scope=Scope.STACK,
        settings=(
            _COMPONENTS,
            strings_setting(
                "admittedComponents",
                "Pod components that may reach the model (app.kubernetes.io/component).",
                ("gateway", "red-team"),
            ),
            strings_setting(
                "scraperNamespaces",
                "Namespaces whose pods may scrape the model's metrics.",
                ("monitoring",),
            ),
        ),
    ),
    Rule(
        name="kubernetes-llm-gateway-require-input-screening",
        description="The gateway screens every prompt with the guard before the model sees it.",
        severity=Severity.HIGH,
        resource_types=(CONFIG_MAP,),
        controls=(OWASP_INJECTION, OWASP_DISCLOSURE),
        frameworks=frozenset({"owasp-llm"}),
        remediation="Set security.guard.input: true (the default), so the gateway's pre_call "
        "guardrail sends every prompt to the guard.",
        check=_check_input_screening,
        reads=("metadata.labels", "metadata.labels.*", "data", "data.*"),
    ),
)

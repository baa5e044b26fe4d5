"""Fixtures for the owasp-llm Kubernetes guard rules: a model, its gateway and guard, policies."""

from __future__ import annotations

import json
from typing import Any, Final

from policy_cases import Case, bad, ok
from policy_harness import Res

DEPLOYMENT: Final = "kubernetes:apps/v1:Deployment"
NETWORK_POLICY: Final = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
CONFIG_MAP: Final = "kubernetes:core/v1:ConfigMap"
GUARDED: Final = "kubernetes-llm-gateway-require-guard"
INGRESS: Final = "kubernetes-llm-model-restrict-ingress"
SCREENING: Final = "kubernetes-llm-gateway-require-input-screening"
NS: Final = "bot"
COMPONENT: Final = "app.kubernetes.io/component"
INSTANCE: Final = "app.kubernetes.io/instance"


def selector(component: str, instance: str = "bot") -> dict[str, str]:
    return {INSTANCE: instance, COMPONENT: component}


def workload(name: str, component: str, instance: str = "bot") -> Res:
    labels = selector(component, instance)
    return Res(
        DEPLOYMENT,
        name,
        {
            "metadata": {"name": name, "namespace": NS, "labels": labels},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": {**labels, "app.kubernetes.io/name": "vllm"}},
                    "spec": {"containers": [{"name": component, "image": "x"}]},
                },
            },
        },
    )


MODEL: Final = workload("bot", "inference-server")
GATEWAY: Final = workload("bot-gateway", "gateway")
GUARD: Final = workload("bot-guard", "guard")


def policy(name: str, spec: dict[str, Any]) -> Res:
    return Res(NETWORK_POLICY, name, {"metadata": {"name": name, "namespace": NS}, "spec": spec})


def to_model(*peers: dict[str, Any], rule: dict[str, Any] | None = None) -> Res:
    ingress = rule if rule is not None else {"from": list(peers), "ports": [{"port": 8000}]}
    return policy(
        "bot-extra",
        {
            "podSelector": {"matchLabels": selector("inference-server")},
            "policyTypes": ["Ingress"],
            "ingress": [ingress],
        },
    )


def namespace(name: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


POLICIES: Final = (
    policy("bot-default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
    policy(
        "bot-allow-dns",
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [namespace("kube-system")]}],
        },
    ),
    to_model({"podSelector": {"matchLabels": selector("gateway")}}),
    policy(
        "bot-allow-metrics-scraper",
        {
            "podSelector": {"matchLabels": selector("inference-server")},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [namespace("monitoring")], "ports": [{"port": 8000}]}],
        },
    ),
    policy(
        "bot-gateway-allow-ingress-controller",
        {
            "podSelector": {"matchLabels": selector("gateway")},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [namespace("ingress-nginx")], "ports": [{"port": 4000}]}],
        },
    ),
)


def gateway_config(*guardrails: dict[str, Any]) -> Res:
    config = {"model_list": [], "guardrails": list(guardrails)}
    return Res(
        CONFIG_MAP,
        "bot-gateway",
        {
            "metadata": {"name": "bot-gateway", "namespace": NS, "labels": selector("gateway")},
            "data": {"config.yaml": json.dumps(config)},
        },
    )


def guardrail(mode: str | list[str], **params: Any) -> dict[str, Any]:
    litellm = {"guardrail": "llm_guard_guardrail.LLMGuardGuardrail", "mode": mode}
    return {"guardrail_name": "g", "litellm_params": {**litellm, "default_on": True, **params}}


CASES: Final[list[Case]] = [
    ok(GUARDED, "model-gateway-guard", (MODEL, GATEWAY, GUARD), framework="owasp-llm"),
    ok(GUARDED, "no-model", (GATEWAY,), framework="owasp-llm"),
    bad(GUARDED, "model-alone", (MODEL,), "no gateway workload", framework="owasp-llm"),
    bad(GUARDED, "no-guard", (MODEL, GATEWAY), "no guard workload", framework="owasp-llm"),
    bad(
        GUARDED,
        "other-instance",
        (MODEL, workload("other-gateway", "gateway", "other"), GUARD),
        "no gateway workload",
        framework="owasp-llm",
    ),
    ok(INGRESS, "contract-peers", (MODEL, *POLICIES), framework="owasp-llm"),
    ok(
        INGRESS,
        "red-team",
        (MODEL, to_model({"podSelector": {"matchLabels": selector("red-team")}})),
        framework="owasp-llm",
    ),
    bad(
        INGRESS,
        "any-pod",
        (MODEL, *POLICIES, to_model({"podSelector": {}})),
        "admits pods other than the gateway's",
        framework="owasp-llm",
    ),
    bad(
        INGRESS,
        "no-from",
        (MODEL, to_model(rule={"ports": [{"port": 8000}]})),
        "admits every source",
        framework="owasp-llm",
    ),
    bad(
        INGRESS,
        "ip-block",
        (MODEL, to_model({"ipBlock": {"cidr": "10.0.0.0/8"}})),
        "admits addresses by ipBlock",
        framework="owasp-llm",
    ),
    bad(
        INGRESS,
        "ingress-controller",
        (MODEL, to_model(namespace("ingress-nginx"))),
        "admits pods of other namespaces",
        framework="owasp-llm",
    ),
    bad(
        INGRESS,
        "client-pods",
        (MODEL, to_model({"podSelector": {"matchLabels": {COMPONENT: "client"}}})),
        "admits pods other than the gateway's",
        framework="owasp-llm",
    ),
    ok(
        SCREENING,
        "pre-call",
        gateway_config(guardrail("pre_call", screen=True), guardrail("post_call")),
        framework="owasp-llm",
    ),
    ok(SCREENING, "modes-list", gateway_config(guardrail(["pre_call"])), framework="owasp-llm"),
    bad(
        SCREENING,
        "input-off",
        gateway_config(guardrail("pre_call", screen=False)),
        "prompts to the model unscreened",
        framework="owasp-llm",
    ),
    bad(
        SCREENING,
        "output-only",
        gateway_config(guardrail("post_call")),
        "prompts to the model unscreened",
        framework="owasp-llm",
    ),
    bad(SCREENING, "none", gateway_config(), "unscreened", framework="owasp-llm"),
]

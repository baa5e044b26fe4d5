"""Fixtures for the Jetson guard rules: device groups that screen, ingresses that buffer."""

from __future__ import annotations

from typing import Any, Final

from policy_cases import Case, bad, ok
from policy_harness import Computed, Res, patched

GUARD: Final = "kubernetes-jetson-devicegroup-require-guard"
BUFFERING: Final = "kubernetes-networking-ingress-require-request-buffering"
DAEMONSET: Final = "kubernetes:apps/v1:DaemonSet"
INGRESS: Final = "kubernetes:networking.k8s.io/v1:Ingress"
POD: Final = ("spec", "template", "spec")
REQUIRED: Final = "requiredDuringSchedulingIgnoredDuringExecution"
TERMS: Final = (*POD, "affinity", "nodeAffinity", REQUIRED, "nodeSelectorTerms")
GATEWAY_ENV: Final = (*POD, "containers", 1, "env")


def _term(module: str) -> dict[str, Any]:
    return {
        "matchExpressions": [
            {"key": "inferstack.io/jetson-module", "operator": "In", "values": [module]},
            {"key": "inferstack.io/cohort", "operator": "In", "values": ["stable"]},
        ]
    }


def _gateway(guard: str) -> dict[str, Any]:
    return {
        "name": "gateway",
        "image": "openresty/openresty:1.27.1.2-0-alpine",
        "env": [
            {"name": "MODEL_PORT", "value": "8000"},
            {"name": "GUARD_MODEL", "value": guard},
        ],
    }


SERVER: Final = {
    "name": "server",
    "image": "ollama/ollama:0.12.3",
    "resources": {"limits": {"cpu": "4", "memory": "61Gi", "nvidia.com/gpu": "1"}},
}

GUARDED: Final[dict[str, Any]] = {
    "metadata": {"name": "triage-stable-agx", "namespace": Computed("triage"), "labels": {}},
    "spec": {
        "selector": {"matchLabels": {"app": "triage"}},
        "template": {
            "metadata": {"labels": {"app": "triage"}},
            "spec": {
                "runtimeClassName": "nvidia",
                "affinity": {
                    "nodeAffinity": {REQUIRED: {"nodeSelectorTerms": [_term("agx-orin-64gb")]}}
                },
                "containers": [SERVER, _gateway("inferstack-llama-guard:acf7aafa60f0")],
            },
        },
    },
}

UNGUARDED: Final = patched(GUARDED, ((*GATEWAY_ENV, 1, "value"), ""))


def _group(props: dict[str, Any]) -> Res:
    return Res(DAEMONSET, "triage-stable-agx", props)


def _ingress(annotations: dict[str, Any]) -> Res:
    return Res(
        INGRESS,
        "triage",
        {
            "metadata": {"name": "triage", "annotations": annotations},
            "spec": {"rules": [{"host": "triage.clinic.internal"}]},
        },
    )


CASES: Final[list[Case]] = [
    ok(GUARD, "agx-group-screens-with-llama-guard", _group(GUARDED), framework="owasp-llm"),
    ok(
        GUARD,
        "small-module-gateway-limits-alone",
        _group(patched(UNGUARDED, ((*TERMS, 0), _term("orin-nano-8gb")))),
        framework="owasp-llm",
    ),
    ok(
        GUARD,
        "prepull-on-agx-serves-nothing",
        _group(patched(UNGUARDED, ((*POD, "containers"), [{"name": "hold", "image": "x"}]))),
        framework="owasp-llm",
    ),
    bad(
        GUARD,
        "agx-group-without-guard",
        _group(UNGUARDED),
        "agx-orin-64gb, which can hold Llama Guard 3 1B",
        framework="owasp-llm",
    ),
    bad(
        GUARD,
        "gateway-patched-out-on-thor",
        _group(
            patched(
                GUARDED,
                ((*TERMS, 0), _term("thor-t5000")),
                ((*POD, "containers"), [SERVER]),
            )
        ),
        "thor-t5000",
        framework="owasp-llm",
    ),
    bad(
        GUARD,
        "guard-variable-removed",
        _group(patched(GUARDED, (GATEWAY_ENV, [{"name": "MODEL_PORT", "value": "8000"}]))),
        "without a gateway that screens prompts",
        framework="owasp-llm",
    ),
    ok(
        BUFFERING,
        "request-buffering-on",
        _ingress({"nginx.ingress.kubernetes.io/proxy-request-buffering": "on"}),
        framework="owasp-llm",
    ),
    ok(BUFFERING, "controller-default", _ingress({}), framework="owasp-llm"),
    bad(
        BUFFERING,
        "request-buffering-off",
        _ingress({"nginx.ingress.kubernetes.io/proxy-request-buffering": "off"}),
        "streams request bodies",
        framework="owasp-llm",
    ),
]

"""Who may reach the gateway, the guard and the model once a gateway stands in front of it.

Added to the namespace's default deny: the ingress controller reaches the gateway only; the
gateway reaches the model and the guard; the model's server port admits the gateway's pods
(and, from :func:`inferstack.kubernetes.network.network_policies`, the metrics scraper); the
guard admits the gateway's pods and may fetch its scanners' models over HTTPS.
"""

from __future__ import annotations

from typing import Any

from inferstack.guard.gateway_config import GATEWAY_PORT
from inferstack.kubernetes.gateway import GATEWAY, GUARD, GUARD_PORT, FrontPlan
from inferstack.kubernetes.network import NAMESPACE_NAME_LABEL, egress_blocks
from inferstack.kubernetes.workload import metadata

Manifest = dict[str, Any]


def _policy(front: FrontPlan, name: str, spec: Manifest) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(name, front.serving.labels, front.namespace),
        "spec": spec,
    }


def _tcp(port: int) -> list[Manifest]:
    return [{"protocol": "TCP", "port": port}]


def front_policies(
    front: FrontPlan, *, ingress_namespace: str, download_cidrs: list[str]
) -> list[Manifest]:
    serving = front.serving
    gateway_pods = {"podSelector": {"matchLabels": front.selector(GATEWAY)}}
    model_pods = {"podSelector": {"matchLabels": dict(serving.selector)}}
    guard_pods = {"podSelector": {"matchLabels": front.selector(GUARD)}}
    gateway_egress = [{"to": [model_pods], "ports": _tcp(serving.port)}]
    if front.guard.deployed:
        gateway_egress.append({"to": [guard_pods], "ports": _tcp(GUARD_PORT)})
    policies = [
        _policy(
            front,
            serving.names.policy("allow-gateway"),
            {
                **model_pods,
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [gateway_pods], "ports": _tcp(serving.port)}],
            },
        ),
        _policy(
            front,
            front.name("gateway-allow-ingress-controller"),
            {
                **gateway_pods,
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {NAMESPACE_NAME_LABEL: ingress_namespace}
                                }
                            }
                        ],
                        "ports": _tcp(GATEWAY_PORT),
                    }
                ],
            },
        ),
        _policy(
            front,
            front.name("gateway-egress"),
            {**gateway_pods, "policyTypes": ["Egress"], "egress": gateway_egress},
        ),
    ]
    if not front.guard.deployed:
        return policies
    policies.append(
        _policy(
            front,
            front.name("guard-allow-gateway"),
            {
                **guard_pods,
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [gateway_pods], "ports": _tcp(GUARD_PORT)}],
            },
        )
    )
    if download_cidrs:
        # The scanners' models come from the Hugging Face Hub at start (HTTPS only).
        policies.append(
            _policy(
                front,
                front.name("guard-allow-model-download"),
                {
                    **guard_pods,
                    "policyTypes": ["Egress"],
                    "egress": [{"to": egress_blocks(download_cidrs), "ports": _tcp(443)}],
                },
            )
        )
    return policies

"""Who may talk to a serving pod, and how requests reach it: NetworkPolicies and the Ingress."""

from __future__ import annotations

import ipaddress
import math
from typing import Any

from inferstack.deployment import RateLimitSpec
from inferstack.kubernetes.plan import ServingPlan
from inferstack.kubernetes.workload import metadata

Manifest = dict[str, Any]

NGINX = "nginx.ingress.kubernetes.io"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
# Not reachable by the model download even when it may go to 0.0.0.0/0: internal networks,
# link-local (cloud metadata) and carrier-grade NAT.
PRIVATE_RANGES = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "100.64.0.0/10",
)
# oauth2-proxy's own endpoints on the same host (its documented ingress-nginx setup).
OAUTH2_PROXY_AUTH_URL = "https://$host/oauth2/auth"
OAUTH2_PROXY_SIGNIN_URL = "https://$host/oauth2/start?rd=$escaped_request_uri"


def _policy(name: str, plan: ServingPlan, spec: Manifest) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(name, plan.labels, plan.namespace),
        "spec": spec,
    }


def _from_namespace(namespace: str) -> Manifest:
    return {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: namespace}}}


def egress_blocks(cidrs: list[str]) -> list[Manifest]:
    """ipBlocks for ``cidrs``, each excluding the private ranges it contains."""
    blocks: list[Manifest] = []
    for cidr in cidrs:
        network = ipaddress.ip_network(cidr)
        excluded = [
            r
            for r in PRIVATE_RANGES
            if network.version == 4
            and (private := ipaddress.IPv4Network(r)) != network
            and private.subnet_of(network)
        ]
        block: Manifest = {"cidr": cidr}
        if excluded:
            block["except"] = excluded
        blocks.append({"ipBlock": block})
    return blocks


def network_policies(
    plan: ServingPlan,
    *,
    ingress_namespace: str,
    monitoring_namespace: str,
    download_cidrs: list[str],
    scraped: bool = True,
    download_egress: list[Manifest] | None = None,
    scrape_ports: list[int] | None = None,
    ingress_controller: bool = True,
) -> list[Manifest]:
    """Default deny in and out; then DNS, the ingress controller, the scraper and the download.

    NetworkPolicies select pods, not containers: the HTTPS egress the download init container
    needs is open to the server container too. The server runs with HF_HUB_OFFLINE=1 and
    never uses it; list a Hub mirror in ``download_cidrs`` to narrow it.

    ``download_egress``: the download's egress rules as given (a site mirror, say), instead of
    HTTPS to ``download_cidrs``. ``scrape_ports``: the ports the monitoring namespace may
    scrape on the selected pods (an exporter next to the server), instead of the server port
    when the runtime exports metrics. ``ingress_controller=False`` leaves the server port closed to
    the ingress controller (a gateway in front of the server admits its own callers).
    """
    names = plan.names
    server_port = [{"protocol": "TCP", "port": plan.port}]
    policies = [
        _policy(
            names.policy("default-deny"),
            plan,
            {
                "podSelector": {},
                "policyTypes": ["Ingress", "Egress"],
            },
        ),
        _policy(
            names.policy("allow-dns"),
            plan,
            {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {
                                **_from_namespace("kube-system"),
                                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                            }
                        ],
                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                    }
                ],
            },
        ),
    ]
    if ingress_controller:
        policies.append(
            _policy(
                names.policy("allow-ingress-controller"),
                plan,
                {
                    "podSelector": {"matchLabels": dict(plan.selector)},
                    "policyTypes": ["Ingress"],
                    "ingress": [
                        {"from": [_from_namespace(ingress_namespace)], "ports": server_port}
                    ],
                },
            )
        )
    if scrape_ports is None:
        scrape_ports = [plan.port] if plan.metrics_path is not None else []
    if scraped and scrape_ports:
        policies.append(
            _policy(
                names.policy("allow-metrics-scraper"),
                plan,
                {
                    "podSelector": {"matchLabels": dict(plan.selector)},
                    "policyTypes": ["Ingress"],
                    "ingress": [
                        {
                            "from": [_from_namespace(monitoring_namespace)],
                            "ports": [{"protocol": "TCP", "port": p} for p in scrape_ports],
                        }
                    ],
                },
            )
        )
    if download_egress is None:
        # No CIDRs, no download egress: a rule with an empty "to" would admit every address.
        https = [{"protocol": "TCP", "port": 443}]
        download_egress = (
            [{"to": egress_blocks(download_cidrs), "ports": https}] if download_cidrs else []
        )
    if plan.model.downloads and download_egress:
        policies.append(
            _policy(
                names.policy("allow-model-download"),
                plan,
                {
                    "podSelector": {"matchLabels": dict(plan.selector)},
                    "policyTypes": ["Egress"],
                    "egress": download_egress,
                },
            )
        )
    return policies


def ingress_annotations(
    *,
    auth: str,
    rate_limit: RateLimitSpec,
    max_request_bytes: int,
    tls: bool = True,
    allowed_cidrs: list[str] | None = None,
    oidc_auth_url: str | None = None,
    oidc_signin_url: str | None = None,
    client_ca_secret: str | None = None,
    cluster_issuer: str | None = None,
) -> dict[str, str]:
    """ingress-nginx annotations for TLS, authentication, throttling and the body size limit.

    ``auth``: ``oidc`` sends each request to oauth2-proxy (``auth-url``); ``mtls`` verifies a
    client certificate against ``client_ca_secret`` (``namespace/name``); ``api_key`` leaves
    the check to the server, which reads its key from a Secret.
    """
    annotations = {
        f"{NGINX}/limit-rps": str(rate_limit.requests_per_second),
        # ingress-nginx takes burst as a multiple of the rate.
        f"{NGINX}/limit-burst-multiplier": str(
            max(1, math.ceil(rate_limit.burst / rate_limit.requests_per_second))
        ),
        f"{NGINX}/proxy-body-size": f"{math.ceil(max_request_bytes / 1024)}k",
        # Generations stream for minutes: no buffering, long reads.
        f"{NGINX}/proxy-buffering": "off",
        f"{NGINX}/proxy-read-timeout": "600",
        f"{NGINX}/proxy-send-timeout": "600",
        f"{NGINX}/backend-protocol": "HTTP",
    }
    if tls:
        annotations[f"{NGINX}/force-ssl-redirect"] = "true"
        annotations[f"{NGINX}/ssl-redirect"] = "true"
    if allowed_cidrs:
        annotations[f"{NGINX}/whitelist-source-range"] = ",".join(allowed_cidrs)
    if auth == "oidc":
        annotations[f"{NGINX}/auth-url"] = oidc_auth_url or OAUTH2_PROXY_AUTH_URL
        annotations[f"{NGINX}/auth-signin"] = oidc_signin_url or OAUTH2_PROXY_SIGNIN_URL
        annotations[f"{NGINX}/auth-response-headers"] = "X-Auth-Request-User,X-Auth-Request-Email"
    elif auth == "mtls":
        if client_ca_secret is None:
            raise ValueError("mtls needs client_ca_secret (namespace/name)")
        annotations[f"{NGINX}/auth-tls-verify-client"] = "on"
        annotations[f"{NGINX}/auth-tls-secret"] = client_ca_secret
        annotations[f"{NGINX}/auth-tls-verify-depth"] = "2"
        annotations[f"{NGINX}/auth-tls-pass-certificate-to-upstream"] = "false"
    if cluster_issuer:
        annotations["cert-manager.io/cluster-issuer"] = cluster_issuer
    return annotations


def ingress(
    plan: ServingPlan,
    *,
    host: str,
    ingress_class_name: str,
    annotations: dict[str, str],
    tls_secret_name: str | None,
    service_name: str | None = None,
) -> Manifest:
    """Only the OpenAI-compatible API (/v1) is routed: /metrics and /health stay in-cluster.

    ``service_name``: the Service requests go to (a gateway's); default the server's.
    """
    meta = metadata(plan.names.ingress, plan.labels, plan.namespace)
    meta["annotations"] = dict(annotations)
    backend = {"service": {"name": service_name or plan.names.service, "port": {"name": "http"}}}
    spec: Manifest = {
        "ingressClassName": ingress_class_name,
        "rules": [
            {
                "host": host,
                "http": {"paths": [{"path": "/v1", "pathType": "Prefix", "backend": backend}]},
            }
        ],
    }
    if tls_secret_name is not None:
        spec["tls"] = [{"hosts": [host], "secretName": tls_secret_name}]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta, "spec": spec}

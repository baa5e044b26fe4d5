"""The OpenTelemetry Collector beside a service: ConfigMap, Deployment, Service, NetworkPolicies.

The runtime (gRPC, :data:`GRPC_PORT`) and the gateway (HTTP, :data:`HTTP_PORT`) send their
spans to ``<name>-otel-collector``; it drops prompt and completion content unless
``observability.tracing.capture_content`` and exports to ``observability.tracing.endpoint``.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final
from urllib.parse import urlsplit

from inferstack import catalog
from inferstack.deployment import DeploymentSpec
from inferstack.deployment.operations import TracingSpec
from inferstack.errors import SpecError
from inferstack.kubernetes.names import Names
from inferstack.kubernetes.network import NAMESPACE_NAME_LABEL
from inferstack.kubernetes.plan import ServingPlan
from inferstack.kubernetes.pod import container_security_context
from inferstack.kubernetes.workload import metadata
from inferstack.tracing.collector import (
    COLLECTOR_IMAGE,
    GRPC_PORT,
    HEADERS_ENV,
    HEALTH_PORT,
    HTTP_PORT,
    POD_IP_ENV,
    collector_config_yaml,
    export_port,
)
from inferstack.tracing.content import COLLECTOR_COMPONENT, CONFIG_KEY, RETENTION_ANNOTATION

Manifest = dict[str, Any]

COMPONENT: Final = COLLECTOR_COMPONENT
COMPONENT_LABEL: Final = "app.kubernetes.io/component"
CONFIG_DIR: Final = "/conf"
CONFIG_HASH_ANNOTATION: Final = "inferstack.dev/config-sha256"
# The components whose pods send spans: the runtime and the gateway.
SENDERS: Final = ("inference-server", "gateway")
# The image's own non-root user.
COLLECTOR_UID: Final = 10001


# Runtimes with an OpenTelemetry exporter, and the published images that lack its SDK.
TRACING_RUNTIMES: Final = ("vllm", "tgi")
IMAGES_WITHOUT_SDK: Final = {"vllm": ("vllm/vllm-openai", "docker.io/vllm/vllm-openai")}


def check_tracing(spec: DeploymentSpec) -> None:
    """Refuse runtime spans the runtime cannot export (vLLM exits at start without the SDK)."""
    tracing = spec.observability.tracing
    if tracing is None or not tracing.runtime_spans:
        return
    path = "observability.tracing.runtime_spans"
    runtime = spec.serving.runtime
    if runtime not in TRACING_RUNTIMES:
        raise SpecError(
            path,
            f"{runtime} exports no OpenTelemetry spans",
            "set runtime_spans: false (the gateway's spans are still collected)",
        )
    image = spec.serving.image or catalog.runtimes()[runtime].image
    if image_repository(image) in IMAGES_WITHOUT_SDK.get(runtime, ()):
        raise SpecError(
            path,
            "the published vllm/vllm-openai image has no OpenTelemetry SDK, and vLLM exits at "
            "start when given --otlp-traces-endpoint",
            "set serving.image to an image built from it with opentelemetry-sdk and "
            "opentelemetry-exporter-otlp-proto-grpc installed (docs/observability.md), or "
            "runtime_spans: false",
        )


def image_repository(image: str) -> str:
    """``[registry/]name`` of an image reference, without its tag or digest."""
    name = image.split("@", 1)[0]
    head, _, last = name.rpartition("/")
    last = last.split(":", 1)[0]
    return f"{head}/{last}" if head else last


def collector_name(names: Names) -> str:
    return names.otel_collector


def collector_endpoint(names: Names, port: int) -> str:
    """The collector Service's in-cluster URL on ``port`` (gRPC 4317, HTTP 4318): what the
    gateway exports to (HTTP) and the runtime (gRPC)."""
    return names.otel_collector_url(port)


def collector_selector(instance: str) -> dict[str, str]:
    return {"app.kubernetes.io/instance": instance, COMPONENT_LABEL: COMPONENT}


def _labels(plan: ServingPlan) -> dict[str, str]:
    return {
        **plan.labels,
        "app.kubernetes.io/name": "opentelemetry-collector",
        COMPONENT_LABEL: COMPONENT,
    }


def config_map(plan: ServingPlan, tracing: TracingSpec) -> Manifest:
    meta = metadata(collector_name(plan.names), _labels(plan), plan.namespace)
    if tracing.capture_content and tracing.content_retention_days is not None:
        meta["annotations"] = {RETENTION_ANNOTATION: str(tracing.content_retention_days)}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta,
        "data": {CONFIG_KEY: collector_config_yaml(tracing)},
    }


def _container(tracing: TracingSpec) -> Manifest:
    env: list[Manifest] = [
        {"name": POD_IP_ENV, "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        # Below the memory limit, so the Go runtime collects before the kernel kills.
        {"name": "GOMEMLIMIT", "value": "400MiB"},
    ]
    if tracing.headers_secret is not None:
        secret = tracing.headers_secret
        ref = {"name": secret.name, "key": secret.key}
        env.append({"name": HEADERS_ENV, "valueFrom": {"secretKeyRef": ref}})
    health = {"httpGet": {"path": "/", "port": "health"}, "periodSeconds": 10, "timeoutSeconds": 5}
    security = {**container_security_context(), "runAsUser": COLLECTOR_UID}
    security["runAsGroup"] = COLLECTOR_UID
    return {
        "name": "otel-collector",
        "image": COLLECTOR_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "args": [f"--config=file:{CONFIG_DIR}/{CONFIG_KEY}.yaml"],
        "env": env,
        "ports": [
            {"name": "otlp-grpc", "containerPort": GRPC_PORT, "protocol": "TCP"},
            {"name": "otlp-http", "containerPort": HTTP_PORT, "protocol": "TCP"},
            {"name": "health", "containerPort": HEALTH_PORT, "protocol": "TCP"},
        ],
        "resources": {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
        "securityContext": security,
        "readinessProbe": health,
        "livenessProbe": {**health, "failureThreshold": 6},
        "volumeMounts": [{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True}],
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }


def deployment(plan: ServingPlan, tracing: TracingSpec, *, replicas: int) -> Manifest:
    """The collector: stateless, restricted, no API token; restarted when its config changes."""
    name = collector_name(plan.names)
    digest = hashlib.sha256(collector_config_yaml(tracing).encode()).hexdigest()
    selector = collector_selector(plan.names.base)
    pod_security = {
        "runAsNonRoot": True,
        "runAsUser": COLLECTOR_UID,
        "runAsGroup": COLLECTOR_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    volume = {
        "name": "config",
        "configMap": {"name": name, "items": [{"key": CONFIG_KEY, "path": f"{CONFIG_KEY}.yaml"}]},
    }
    pod: Manifest = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security,
        "containers": [_container(tracing)],
        "volumes": [volume],
    }
    if plan.image_pull_secrets:
        pod["imagePullSecrets"] = [{"name": s} for s in plan.image_pull_secrets]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(name, _labels(plan), plan.namespace),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {
                    "labels": {**_labels(plan), **selector},
                    "annotations": {CONFIG_HASH_ANNOTATION: digest},
                },
                "spec": pod,
            },
        },
    }


def service(plan: ServingPlan) -> Manifest:
    ports = [
        {"name": "otlp-grpc", "port": GRPC_PORT, "targetPort": "otlp-grpc", "appProtocol": "grpc"},
        {"name": "otlp-http", "port": HTTP_PORT, "targetPort": "otlp-http", "appProtocol": "http"},
    ]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(collector_name(plan.names), _labels(plan), plan.namespace),
        "spec": {
            "type": "ClusterIP",
            "selector": collector_selector(plan.names.base),
            "ports": [{**p, "protocol": "TCP"} for p in ports],
        },
    }


def _policy(plan: ServingPlan, purpose: str, spec: Manifest) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(plan.names.policy(purpose), _labels(plan), plan.namespace),
        "spec": spec,
    }


def _senders(instance: str) -> Manifest:
    return {
        "matchLabels": {"app.kubernetes.io/instance": instance},
        "matchExpressions": [{"key": COMPONENT_LABEL, "operator": "In", "values": list(SENDERS)}],
    }


def export_destination(endpoint: str, cidrs: list[str]) -> list[Manifest]:
    """Where the exporter may connect: the backend's namespace when it is an in-cluster
    Service (``<svc>.<namespace>.svc[.cluster.local]``), else ``cidrs``."""
    host = urlsplit(endpoint).hostname or ""
    parts = host.split(".")
    if len(parts) >= 3 and host.endswith((".svc", ".svc.cluster.local")):
        return [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: parts[1]}}}]
    return [{"ipBlock": {"cidr": cidr}} for cidr in cidrs]


def network_policies(
    plan: ServingPlan, tracing: TracingSpec, export_cidrs: list[str]
) -> list[Manifest]:
    """Senders to the collector, the collector to the backend; nothing else (default deny)."""
    otlp = [{"protocol": "TCP", "port": GRPC_PORT}, {"protocol": "TCP", "port": HTTP_PORT}]
    collector = {"matchLabels": collector_selector(plan.names.base)}
    return [
        _policy(
            plan,
            "otel-collector-ingress",
            {
                "podSelector": collector,
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"podSelector": _senders(plan.names.base)}], "ports": otlp}],
            },
        ),
        _policy(
            plan,
            "otel-collector-export",
            {
                "podSelector": collector,
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": export_destination(tracing.endpoint, export_cidrs),
                        "ports": [{"protocol": "TCP", "port": export_port(tracing.endpoint)}],
                    }
                ],
            },
        ),
        _policy(
            plan,
            "allow-trace-export",
            {
                "podSelector": _senders(plan.names.base),
                "policyTypes": ["Egress"],
                "egress": [{"to": [{"podSelector": collector}], "ports": otlp}],
            },
        ),
    ]


def collector_manifests(
    plan: ServingPlan, tracing: TracingSpec | None, *, replicas: int, export_cidrs: list[str]
) -> list[Manifest]:
    """Everything the collector needs, in registration order; nothing without tracing."""
    if tracing is None:
        return []
    return [
        config_map(plan, tracing),
        deployment(plan, tracing, replicas=replicas),
        service(plan),
        *network_policies(plan, tracing, export_cidrs),
    ]

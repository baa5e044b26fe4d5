"""The gateway in front of the model: a LiteLLM proxy that screens every request with the guard.

The ingress routes to the gateway, never to the model; the model accepts traffic only from the
gateway's pods (and the metrics scraper). The gateway checks its key, caps ``max_tokens``, holds
the model to its rate and concurrency, and calls the guard service (:mod:`.guard`) before and
after the model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from inferstack.deployment import DeploymentSpec, SecretRef, is_digest_pinned
from inferstack.deployment.digests import digest_requirement, require_digest
from inferstack.deployment.operations import TracingSpec
from inferstack.errors import SpecError
from inferstack.guard import (
    GATEWAY_CONFIG_FILE,
    GATEWAY_HOOK_FILE,
    GatewayModel,
    ResolvedGuard,
    gateway_config,
    hook_source,
    resolve_guard,
)
from inferstack.guard.gateway_config import (
    GATEWAY_PORT,
    GUARD_TOKEN_ENV,
    MASTER_KEY_ENV,
    MODEL_KEY_ENV,
)
from inferstack.kubernetes.args import GUARD_IMAGE_TAG, LLMServiceArgs
from inferstack.kubernetes.plan import ServingPlan
from inferstack.kubernetes.pod import container_security_context, pod_security_context, probe
from inferstack.kubernetes.runtime_data import env, secret_env
from inferstack.kubernetes.workload import metadata
from inferstack.targets import Target
from inferstack.tracing.collector import HTTP_PORT, gateway_export_env

Manifest = dict[str, Any]

GATEWAY: Final = "gateway"
GUARD: Final = "guard"
GUARD_PORT: Final = 8000
CONFIG_MOUNT: Final = "/etc/litellm"
COMPONENT_LABEL: Final = "app.kubernetes.io/component"
INSTANCE_LABEL: Final = "app.kubernetes.io/instance"


@dataclass(frozen=True)
class FrontPlan:
    """The gateway and guard of one service: names, images, secrets and the resolved guard."""

    serving: ServingPlan
    guard: ResolvedGuard
    gateway_image: str
    guard_image: str | None
    gateway_key: SecretRef
    guard_token: SecretRef
    replicas: int
    requests_per_minute: int
    tracing: TracingSpec | None = None
    """observability.tracing: the gateway exports its spans to the service's collector."""

    @property
    def base(self) -> str:
        return self.serving.names.base

    @property
    def namespace(self) -> str:
        return self.serving.namespace

    def name(self, part: str) -> str:
        return f"{self.base}-{part}"

    def selector(self, part: str) -> dict[str, str]:
        return {INSTANCE_LABEL: self.base, COMPONENT_LABEL: part}

    def labels(self, part: str) -> dict[str, str]:
        return {**self.serving.labels, **self.selector(part)}

    def url(self, part: str, port: int) -> str:
        return f"http://{self.name(part)}.{self.namespace}.svc:{port}"

    @property
    def guard_url(self) -> str | None:
        return self.url(GUARD, GUARD_PORT) if self.guard.deployed else None


def build_front(
    spec: DeploymentSpec, serving: ServingPlan, args: LLMServiceArgs, target: Target
) -> FrontPlan:
    """Resolve the guard for ``target`` and the gateway's settings; SpecError before anything."""
    guard = resolve_guard(spec.security.guard, target)
    names = serving.names
    prod = spec.environment == "prod"
    guard_image = None
    if guard.deployed:
        guard_image = _guard_image(args.guard_image, digest_requirement(spec))
    require_digest(
        spec,
        "inferstack:kubernetes.gateway_image",
        args.gateway_image,
        "use <image>@sha256:<digest>, or remove it for the LiteLLM image inferstack pins",
    )
    gateway_key = args.gateway_key_secret or serving.api_key
    rate = spec.security.rate_limit
    return FrontPlan(
        serving=serving,
        guard=guard,
        gateway_image=args.gateway_image,
        guard_image=guard_image,
        gateway_key=gateway_key or SecretRef(name=f"{names.base}-gateway-key", key="master-key"),
        guard_token=args.guard_token_secret
        or SecretRef(name=f"{names.base}-guard-token", key="token"),
        replicas=2 if prod else 1,
        requests_per_minute=rate.burst * 60,
        tracing=spec.observability.tracing,
    )


def _guard_image(given: str | None, required: str | None) -> str:
    """``guard_image``, else the LLM Guard API's tag where no pack requires digests (``required``).

    A tag-only ``guard_image`` is refused in every environment: it is set only to pin the guard.
    """
    if given is None and required is None:
        return GUARD_IMAGE_TAG
    if given is None or not is_digest_pinned(given):
        shown = f"'{given}' is not pinned by digest" if given else "not set"
        raise SpecError(
            "inferstack:kubernetes.guard_image",
            f"{shown}; {required or 'prod'} runs the LLM Guard API only by digest, and its "
            "publisher lists none",
            f"mirror {GUARD_IMAGE_TAG} and give <registry>/llm-guard-api:0.3.16@sha256:<digest>",
        )
    return given


def gateway_model(front: FrontPlan) -> GatewayModel:
    serving = front.serving
    return GatewayModel(
        served_name=serving.model.served_name,
        api_base=f"http://{serving.names.service}.{serving.namespace}.svc:{serving.port}/v1",
        requests_per_minute=front.requests_per_minute,
        max_parallel_requests=serving.concurrency * max(serving.max_replicas, 1),
        keyed=serving.api_key is not None,
    )


def config_map(front: FrontPlan) -> Manifest:
    tracing = front.tracing
    config = gateway_config(
        front.guard,
        gateway_model(front),
        guard_api_base=front.guard_url,
        traced=tracing is not None,
        capture_content=tracing is not None and tracing.capture_content,
    )
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(front.name(GATEWAY), front.labels(GATEWAY), front.namespace),
        # JSON is YAML: the proxy reads it as its config.yaml.
        "data": {
            GATEWAY_CONFIG_FILE: json.dumps(config, indent=2, sort_keys=True),
            GATEWAY_HOOK_FILE: hook_source(),
        },
    }


def service_account(front: FrontPlan, part: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(front.name(part), front.labels(part), front.namespace),
        "automountServiceAccountToken": False,
    }


def scratch(size: str = "1Gi") -> tuple[list[Manifest], list[Manifest]]:
    """A /tmp for a read-only root filesystem."""
    return [{"name": "tmp", "emptyDir": {"sizeLimit": size}}], [
        {"name": "tmp", "mountPath": "/tmp"}
    ]


def hardened_pod(
    front: FrontPlan, part: str, container: Manifest, volumes: list[Manifest]
) -> Manifest:
    spec: Manifest = {
        "serviceAccountName": front.name(part),
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security_context(),
        "terminationGracePeriodSeconds": 60,
        "containers": [container],
        "volumes": volumes,
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": front.selector(part)},
            }
        ],
    }
    if front.serving.image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in front.serving.image_pull_secrets]
    return spec


def deployment(front: FrontPlan, part: str, pod: Manifest) -> Manifest:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(front.name(part), front.labels(part), front.namespace),
        "spec": {
            "replicas": front.replicas,
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": front.selector(part)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "template": {"metadata": {"labels": front.labels(part)}, "spec": pod},
        },
    }


def service(front: FrontPlan, part: str, port: int) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(front.name(part), front.labels(part), front.namespace),
        "spec": {
            "type": "ClusterIP",
            "selector": front.selector(part),
            "ports": [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def gateway_container(front: FrontPlan, mounts: list[Manifest]) -> Manifest:
    serving = front.serving
    variables = [secret_env(MASTER_KEY_ENV, front.gateway_key)]
    if serving.api_key is not None:
        # The model's own key: the gateway is its only caller.
        variables.append(secret_env(MODEL_KEY_ENV, serving.api_key))
    variables += [
        # The bundled cost map, not a download at every start.
        env("LITELLM_LOCAL_MODEL_COST_MAP", "True"),
        env("LITELLM_TELEMETRY", "False"),
        env("PYTHONDONTWRITEBYTECODE", "1"),
        env("HOME", "/tmp"),
    ]
    if front.guard.deployed:
        variables.append(secret_env(GUARD_TOKEN_ENV, front.guard_token))
    if front.tracing is not None:
        collector = serving.names.otel_collector_url(HTTP_PORT)
        exports = gateway_export_env(collector, front.name(GATEWAY))
        variables += [env(name, value) for name, value in exports.items()]
    check = {"httpGet": {"path": "/health/liveliness", "port": "http"}}
    ready = {"httpGet": {"path": "/health/readiness", "port": "http"}}
    return {
        "name": GATEWAY,
        "image": front.gateway_image,
        "imagePullPolicy": "IfNotPresent",
        "args": ["--config", f"{CONFIG_MOUNT}/{GATEWAY_CONFIG_FILE}", "--port", str(GATEWAY_PORT)],
        "env": variables,
        "ports": [{"name": "http", "containerPort": GATEWAY_PORT, "protocol": "TCP"}],
        "resources": {
            "requests": {"cpu": "500m", "memory": "1Gi"},
            "limits": {"cpu": "2", "memory": "2Gi"},
        },
        "securityContext": container_security_context(),
        "volumeMounts": mounts,
        "startupProbe": probe(check, 5, 5, 60),
        "readinessProbe": probe(ready, 10, 5, 3),
        "livenessProbe": probe(check, 15, 10, 6),
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }


def gateway_manifests(front: FrontPlan) -> list[Manifest]:
    """ServiceAccount, ConfigMap (config.yaml and the guardrail), Deployment and Service."""
    volumes, mounts = scratch()
    volumes.append({"name": "config", "configMap": {"name": front.name(GATEWAY)}})
    mounts.append({"name": "config", "mountPath": CONFIG_MOUNT, "readOnly": True})
    pod = hardened_pod(front, GATEWAY, gateway_container(front, mounts), volumes)
    return [
        service_account(front, GATEWAY),
        config_map(front),
        deployment(front, GATEWAY, pod),
        service(front, GATEWAY, GATEWAY_PORT),
    ]

"""Fixtures for the trace content rule: the collector ConfigMap as the component renders it."""

from __future__ import annotations

from typing import Any, Final

import yaml
from policy_cases import Case, bad, ok
from policy_harness import Res

from inferstack.deployment.operations import TracingSpec
from inferstack.tracing.collector import LOOPBACK, collector_config, collector_config_yaml
from inferstack.tracing.content import RETENTION_ANNOTATION
from inferstack.vertex.tracing import COLLECTOR_CONFIG_ENV, CONFIG_ARG, CONTAINER, HEALTH_LISTEN

CONFIG_MAP: Final = "kubernetes:core/v1:ConfigMap"
RULE: Final = "kubernetes-otel-collector-restrict-content-capture"
HTTPS: Final = "https://langfuse.example.com/api/public/otel"
HTTP: Final = "http://langfuse-web.langfuse.svc:3000/api/public/otel"
LABELS: Final = {
    "app.kubernetes.io/instance": "support-bot",
    "app.kubernetes.io/component": "otel-collector",
}


def _config_map(
    config: str, annotations: dict[str, str] | None = None, component: str = "otel-collector"
) -> Res:
    metadata: dict[str, Any] = {
        "name": "support-bot-otel-collector",
        "namespace": "support-bot",
        "labels": {**LABELS, "app.kubernetes.io/component": component},
    }
    if annotations is not None:
        metadata["annotations"] = annotations
    return Res(
        CONFIG_MAP, "support-bot-otel-collector", {"metadata": metadata, "data": {"relay": config}}
    )


def _rendered(endpoint: str, *, capture: bool) -> str:
    spec = TracingSpec(
        endpoint=endpoint, capture_content=capture, content_retention_days=30 if capture else None
    )
    return collector_config_yaml(spec)


def _edited(endpoint: str, edit: Any) -> str:
    config = collector_config(TracingSpec(endpoint=endpoint))
    edit(config)
    return yaml.safe_dump(config)


def _skip_verify(config: dict[str, Any]) -> None:
    config["exporters"]["otlphttp"]["tls"] = {"insecure_skip_verify": True}
    _drop_nothing(config)


def _drop_nothing(config: dict[str, Any]) -> None:
    pipeline = config["service"]["pipelines"]["traces"]
    pipeline["processors"] = [p for p in pipeline["processors"] if "drop-content" not in p]


RETAINED: Final = {RETENTION_ANNOTATION: "30"}
GDPR: Final = {"framework": "gdpr"}
SERVICE: Final = "gcp:cloudrunv2/service:Service"
SIDECAR_RULE: Final = "gcp-cloudrun-service-restrict-trace-content"


def _sidecar_config(endpoint: str, *, capture: bool) -> str:
    """The configuration the Vertex gateway's sidecar runs (loopback receivers)."""
    spec = TracingSpec(
        endpoint=endpoint, capture_content=capture, content_retention_days=30 if capture else None
    )
    return collector_config_yaml(spec, listen=LOOPBACK, health_listen=HEALTH_LISTEN)


def _service(
    config: str | None,
    annotations: dict[str, str] | None = None,
    args: list[str] | None = None,
) -> Res:
    """A Cloud Run gateway service with a collector sidecar reading ``config`` from its env."""
    gateway = {"name": "gateway", "image": "gateway@sha256:" + "a" * 64, "envs": []}
    sidecar: dict[str, Any] = {
        "name": CONTAINER,
        "image": "otel@sha256:" + "b" * 64,
        "args": args if args is not None else [CONFIG_ARG],
        "envs": [] if config is None else [{"name": COLLECTOR_CONFIG_ENV, "value": config}],
    }
    props: dict[str, Any] = {
        "name": "support-bot-gateway",
        "template": {"containers": [gateway, sidecar]},
    }
    if annotations is not None:
        props["annotations"] = annotations
    return Res(SERVICE, "gateway-service", props)


CASES: Final[list[Case]] = [
    ok(RULE, "content-dropped", _config_map(_rendered(HTTPS, capture=False)), **GDPR),
    ok(RULE, "content-dropped-plain-http", _config_map(_rendered(HTTP, capture=False)), **GDPR),
    ok(
        RULE,
        "captured-https-retained",
        _config_map(_rendered(HTTPS, capture=True), RETAINED),
        **GDPR,
    ),
    ok(
        RULE,
        "not-a-collector",
        _config_map("not: [a collector", component="dashboard"),
        framework="owasp-llm",
    ),
    bad(
        RULE,
        "captured-plain-http",
        _config_map(_rendered(HTTP, capture=True), RETAINED),
        "over plain HTTP",
        **GDPR,
    ),
    bad(
        RULE,
        "captured-unverified-tls",
        _config_map(_edited(HTTPS, _skip_verify), RETAINED),
        "does not verify the server",
        framework="owasp-llm",
    ),
    bad(
        RULE,
        "drop-processors-left-out-of-pipeline",
        _config_map(_edited(HTTP, _drop_nothing), RETAINED),
        "keeps prompt and completion content",
        **GDPR,
    ),
    bad(
        RULE,
        "captured-without-retention",
        _config_map(_rendered(HTTPS, capture=True)),
        "no retention",
        **GDPR,
    ),
    bad(
        RULE,
        "captured-longer-than-allowed",
        _config_map(_rendered(HTTPS, capture=True), {RETENTION_ANNOTATION: "400"}),
        "more than the 90 allowed",
        config={"maxRetentionDays": 90},
        **GDPR,
    ),
    bad(RULE, "config-not-yaml", _config_map("receivers: [otlp"), "not valid YAML", **GDPR),
    ok(
        SIDECAR_RULE,
        "sidecar-content-dropped",
        _service(_sidecar_config(HTTPS, capture=False)),
        **GDPR,
    ),
    ok(
        SIDECAR_RULE,
        "sidecar-captured-https-retained",
        _service(_sidecar_config(HTTPS, capture=True), RETAINED),
        framework="owasp-llm",
    ),
    ok(
        SIDECAR_RULE,
        "service-without-collector",
        _service(_sidecar_config(HTTPS, capture=True), args=["--port=4000"]),
        **GDPR,
    ),
    bad(
        SIDECAR_RULE,
        "sidecar-captured-without-retention",
        _service(_sidecar_config(HTTPS, capture=True)),
        "annotate the Cloud Run service",
        **GDPR,
    ),
    bad(
        SIDECAR_RULE,
        "sidecar-captured-plain-http",
        _service(_sidecar_config(HTTP, capture=True), RETAINED),
        "over plain HTTP",
        framework="owasp-llm",
    ),
    bad(
        SIDECAR_RULE,
        "sidecar-config-variable-missing",
        _service(None, args=["--config", f"env:{COLLECTOR_CONFIG_ENV}"]),
        "has no OTELCOL_CONFIG variable",
        **GDPR,
    ),
]

"""Fixtures for the trace content rule: the collector ConfigMap as the component renders it."""

from __future__ import annotations

from typing import Any, Final

import yaml
from policy_cases import Case, bad, ok
from policy_harness import Res

from inferstack.deployment.operations import TracingSpec
from inferstack.tracing.collector import collector_config, collector_config_yaml
from inferstack.tracing.content import RETENTION_ANNOTATION

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
]

"""The OpenTelemetry Collector configuration for one deployment's traces.

Receives OTLP over gRPC (the runtime: vLLM's ``--otlp-traces-endpoint``) and HTTP (the gateway),
drops prompt and completion content unless ``capture_content``, samples whole traces, batches and
exports over OTLP/HTTP (what Langfuse's ``/api/public/otel`` takes). The keys and OTTL functions
are those of the collector-contrib release :data:`COLLECTOR_IMAGE` pins.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlsplit

import yaml

from inferstack.deployment.operations import TracingSpec
from inferstack.tracing.content import (
    CONTENT_ATTRIBUTE_PATTERNS,
    CONTENT_EVENT_PATTERN,
    DROP_ATTRIBUTES,
    DROP_EVENTS,
)

# collector-contrib 0.144.0 (the multi-arch index digest of the Docker Hub image).
COLLECTOR_IMAGE: Final = (
    "otel/opentelemetry-collector-contrib:0.144.0"
    "@sha256:213886eb6407af91b87fa47551c3632be1a6419ff3a5114ef1e6fc364628496f"
)
GRPC_PORT: Final = 4317
HTTP_PORT: Final = 4318
HEALTH_PORT: Final = 13133
POD_IP_ENV: Final = "POD_IP"
HEADERS_ENV: Final = "OTLP_EXPORT_HEADERS"
"""Holds the exporter's headers as YAML (``Name: value`` lines), from ``headers_secret``."""
POD_IP: Final = f"${{env:{POD_IP_ENV}}}"
"""Where a collector Deployment listens: its pod's address (from the downward API)."""
LOOPBACK: Final = "127.0.0.1"
"""Where a sidecar collector listens: only containers of the same instance reach it."""
GATEWAY_CALLBACK: Final = "otel"
"""LiteLLM's OpenTelemetry callback (``litellm_settings.callbacks``)."""

EXPORTER: Final = "otlphttp"
# A fixed seed: every collector replica keeps or drops the same traces, so a trace whose spans
# reach different replicas (gateway and runtime) is kept whole or not at all.
HASH_SEED: Final = 20251
Config = dict[str, Any]


def _quoted(value: str) -> str:
    """An OTTL string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def content_statements() -> list[str]:
    """OTTL statements deleting every content attribute of the current span or span event."""
    return [
        f"delete_matching_keys(attributes, {_quoted(pattern)})"
        for pattern in CONTENT_ATTRIBUTE_PATTERNS
    ]


def _processors(tracing: TracingSpec) -> Config:
    processors: Config = {
        # First, so a burst is refused (the senders retry) before it is held in memory.
        "memory_limiter": {
            "check_interval": "1s",
            "limit_percentage": 80,
            "spike_limit_percentage": 20,
        },
    }
    if not tracing.capture_content:
        processors[DROP_EVENTS] = {
            "error_mode": "ignore",
            "traces": {"spanevent": [f"IsMatch(name, {_quoted(CONTENT_EVENT_PATTERN)})"]},
        }
        statements = content_statements()
        processors[DROP_ATTRIBUTES] = {
            "error_mode": "ignore",
            "trace_statements": [
                {"context": "span", "statements": statements},
                {"context": "spanevent", "statements": list(statements)},
            ],
        }
    processors["probabilistic_sampler"] = {
        "mode": "hash_seed",
        "hash_seed": HASH_SEED,
        "sampling_percentage": round(tracing.sampling_ratio * 100, 4),
    }
    processors["batch"] = {"timeout": "5s", "send_batch_size": 512, "send_batch_max_size": 1024}
    return processors


def _exporter(tracing: TracingSpec) -> Config:
    exporter: Config = {
        "endpoint": tracing.endpoint,
        "compression": "gzip",
        "timeout": "10s",
        "retry_on_failure": {"enabled": True, "max_elapsed_time": "300s"},
        "sending_queue": {"enabled": True, "queue_size": 1000},
    }
    if tracing.headers_secret is not None:
        # The env provider parses the variable as YAML: a whole-value reference becomes the map.
        exporter["headers"] = f"${{env:{HEADERS_ENV}}}"
    return exporter


def collector_config(
    tracing: TracingSpec, *, listen: str = POD_IP, health_listen: str | None = None
) -> Config:
    """The collector's configuration as a mapping (what ``--config`` reads, as YAML).

    ``listen`` is the address the OTLP receivers bind (default: the pod's), ``health_listen``
    the health check's (default: ``listen``).
    """
    processors = _processors(tracing)
    health = health_listen or listen
    return {
        "extensions": {"health_check": {"endpoint": f"{health}:{HEALTH_PORT}"}},
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": f"{listen}:{GRPC_PORT}"},
                    "http": {"endpoint": f"{listen}:{HTTP_PORT}"},
                }
            }
        },
        "processors": processors,
        "exporters": {EXPORTER: _exporter(tracing)},
        "service": {
            "extensions": ["health_check"],
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": list(processors),
                    "exporters": [EXPORTER],
                }
            },
        },
    }


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def collector_config_yaml(
    tracing: TracingSpec, *, listen: str = POD_IP, health_listen: str | None = None
) -> str:
    """The configuration as the collector reads it (no YAML anchors: each list spelled out)."""
    config = collector_config(tracing, listen=listen, health_listen=health_listen)
    return yaml.dump(config, Dumper=_Dumper, sort_keys=False, width=1000)


def gateway_export_env(collector_url: str, service: str) -> dict[str, str]:
    """The environment of a LiteLLM gateway whose ``otel`` callback exports to a collector.

    OTLP/HTTP to ``collector_url`` (LiteLLM appends ``/v1/traces``); variables as read by
    ``OpenTelemetryConfig.from_env`` in ``litellm/integrations/opentelemetry.py``. The proxy
    image carries the exporter: LiteLLM's requirements.txt, which its Dockerfile installs,
    pins opentelemetry-api, -sdk and -exporter-otlp. The gateway
    keeps every span it starts (a caller's ``traceparent`` decision is followed): the collector
    is the one place traces are sampled.
    """
    return {
        "OTEL_EXPORTER": "otlp_http",
        "OTEL_ENDPOINT": collector_url,
        "OTEL_SERVICE_NAME": service,
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
    }


def export_port(endpoint: str) -> int:
    """The TCP port the exporter connects to: the URL's, else the scheme's default."""
    parts = urlsplit(endpoint)
    if parts.port is not None:
        return parts.port
    return 443 if parts.scheme == "https" else 80

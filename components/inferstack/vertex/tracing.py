"""Traces of the gateway on Cloud Run: an OpenTelemetry Collector sidecar, planned from the spec.

With ``observability.tracing`` the gateway's Cloud Run service runs a second container, the
collector (:data:`~inferstack.tracing.collector.COLLECTOR_IMAGE`, pulled through its own
Artifact Registry remote repository). It listens on 127.0.0.1 only, so nothing outside the
instance can send it spans; LiteLLM's ``otel`` callback exports to it over OTLP/HTTP; it drops
prompt and completion content unless ``capture_content``, samples whole traces and exports to
``observability.tracing.endpoint`` through the gateway's VPC egress. Its configuration is the
on-prem collector's (:func:`~inferstack.tracing.collector.collector_config_yaml`), handed over
in an environment variable and read with ``--config=env:<VAR>``.

``headers_secret`` names a Secret Manager secret (``<id>`` in the deployment's project, or
``projects/<project>/secrets/<id>``) and its version (``key``: a number, or ``latest``). Cloud
Run resolves it into the collector's environment when an instance starts; the gateway's service
account may access that secret alone.

Plain data, resolved before any resource registers: what Vertex AI cannot trace fails here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from inferstack.deployment import DeploymentSpec
from inferstack.errors import SpecError
from inferstack.tracing.collector import (
    COLLECTOR_IMAGE,
    HTTP_PORT,
    LOOPBACK,
    collector_config_yaml,
    gateway_export_env,
)
from inferstack.vertex.container import Upstream, pull_through
from inferstack.vertex.names import Names, bounded

CONTAINER: Final = "otel-collector"
"""The sidecar's container name (the gateway container depends on it)."""
COLLECTOR_CONFIG_ENV: Final = "OTELCOL_CONFIG"
"""The sidecar's environment variable holding its configuration (YAML)."""
CONFIG_ARG: Final = f"--config=env:{COLLECTOR_CONFIG_ENV}"
# Cloud Run's startup probe connects from outside the container's loopback interface, so the
# health check (status only, no data) listens on every interface; the OTLP receivers do not.
HEALTH_LISTEN: Final = "0.0.0.0"
SECRET_ROLE: Final = "roles/secretmanager.secretAccessor"
# Secret Manager secret ids: letters, digits, '-' and '_', at most 255 characters.
_SECRET = re.compile(r"^(projects/(?P<project>[a-z0-9-]+)/secrets/)?(?P<id>[A-Za-z0-9_-]{1,255})$")
_VERSION = re.compile(r"^(latest|[1-9][0-9]*)$")


@dataclass(frozen=True)
class HeadersSecret:
    """The Secret Manager secret version holding the exporter's headers."""

    project: str
    secret_id: str
    version: str

    @property
    def name(self) -> str:
        """As Cloud Run's ``secret_key_ref.secret`` takes it (any project)."""
        return f"projects/{self.project}/secrets/{self.secret_id}"


@dataclass(frozen=True)
class TracePlan:
    config: str
    """The collector's configuration, YAML."""
    image: str
    upstream: Upstream | None
    repository: str
    headers: HeadersSecret | None
    retention_days: int | None
    """How long the backend keeps captured content; None when content is dropped."""
    gateway_env: tuple[tuple[str, str], ...]
    """LiteLLM's OpenTelemetry settings: export to the sidecar."""

    @property
    def capture_content(self) -> bool:
        return self.retention_days is not None


def trace_plan(
    spec: DeploymentSpec, names: Names, *, project: str, region: str
) -> TracePlan | None:
    tracing = spec.observability.tracing
    if tracing is None:
        return None
    if tracing.runtime_spans:
        raise SpecError(
            "observability.tracing.runtime_spans",
            "Vertex AI runs the model container itself and the component gives it no OTLP settings",
            "set runtime_spans: false (the gateway's spans are still exported)",
        )
    headers = None
    if tracing.headers_secret is not None:
        headers = _headers(tracing.headers_secret.name, tracing.headers_secret.key, project)
    repository = bounded(names.display_name, "collector-images", 63)
    image, upstream = pull_through(
        COLLECTOR_IMAGE, "observability.tracing", project, region, repository
    )
    collector = f"http://{LOOPBACK}:{HTTP_PORT}"
    return TracePlan(
        config=collector_config_yaml(tracing, listen=LOOPBACK, health_listen=HEALTH_LISTEN),
        image=image,
        upstream=upstream,
        repository=repository,
        headers=headers,
        retention_days=tracing.content_retention_days if tracing.capture_content else None,
        gateway_env=tuple(gateway_export_env(collector, names.gateway).items()),
    )


def _headers(name: str, key: str, project: str) -> HeadersSecret:
    match = _SECRET.match(name)
    if match is None:
        raise SpecError(
            "observability.tracing.headers_secret.name",
            f"'{name}' is not a Secret Manager secret",
            "give the secret id, or projects/<project>/secrets/<id>",
        )
    if _VERSION.match(key) is None:
        raise SpecError(
            "observability.tracing.headers_secret.key",
            f"'{key}' is not a Secret Manager secret version",
            "set key to the version number (e.g. '1'), or latest",
        )
    return HeadersSecret(match["project"] or project, match["id"], key)

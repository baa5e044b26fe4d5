"""Observability, compliance and cost: how a deployment is watched, governed and paid for."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator, model_validator

from inferstack.deployment.base import (
    _EMAIL,
    SecretRef,
    Section,
)
from inferstack.deployment.types import Framework


class AlarmsSpec(Section):
    enabled: bool | None = None
    """Alarms on errors, latency, queueing and memory; default on in prod."""
    email: str | None = None
    """Where alarms are sent."""

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError(f"'{value}' is not an email address")
        return value


class TracingSpec(Section):
    endpoint: Annotated[str, Field(pattern=r"^https?://\S+$")]
    """OTLP/HTTP endpoint traces are exported to (e.g. https://langfuse.example/api/public/otel)."""
    headers_secret: SecretRef | None = None
    """Secret holding the exporter's headers as ``Name: value`` lines (a YAML map, e.g.
    ``Authorization: Basic ...``)."""
    sampling_ratio: Annotated[float, Field(ge=0.0, le=1.0)] = 0.1
    """Share of requests traced."""
    capture_content: bool = False
    """Keep prompt and completion text in spans; off: the collector drops them."""
    content_retention_days: Annotated[int, Field(ge=1, le=3653)] | None = None
    """How long the trace backend keeps captured content (required with capture_content)."""
    runtime_spans: bool = False
    """Also export the serving runtime's own spans (vLLM ``--otlp-traces-endpoint``, TGI
    ``--otlp-endpoint``); the gateway's are always collected. The runtime image must carry the
    OpenTelemetry SDK, which the published vllm/vllm-openai image does not."""

    @model_validator(mode="after")
    def _content_needs_retention(self) -> TracingSpec:
        if self.capture_content and self.content_retention_days is None:
            raise ValueError(
                "capture_content: true needs content_retention_days (how long the backend "
                "keeps prompts and completions)"
            )
        return self


class ObservabilitySpec(Section):
    log_retention_days: Annotated[int, Field(ge=0, le=3653)] = 365
    """Log retention: a period the target's log service accepts (SageMaker: CloudWatch's list,
    Azure ML: 30-730, Vertex AI: 1-3650); 0 = never expire, SageMaker only, refused by the GDPR
    pack."""
    metrics: bool = True
    """Scrape the runtime's metrics."""
    dashboards: bool = True
    """Ship a dashboard for the runtime's metrics."""
    alarms: AlarmsSpec = Field(default_factory=AlarmsSpec)
    """Alerting."""
    tracing: TracingSpec | None = None
    """OpenTelemetry traces of the gateway and the runtime; off unless set."""


class DataCaptureSpec(Section):
    enabled: bool = False
    """Capture requests and responses (encrypted with the deployment's key)."""
    sampling_percentage: Annotated[int, Field(ge=1, le=100)] = 20
    """Share of requests captured."""
    retention_days: Annotated[int, Field(ge=1, le=3653)] = 30
    """Days captured payloads are kept."""


class ComplianceSpec(Section):
    frameworks: list[Framework] = Field(default_factory=list)
    """Frameworks the deployment must satisfy: hipaa, gdpr, owasp-llm (baseline always)."""
    data_residency: list[str] = Field(default_factory=list)
    """Allowed jurisdictions ('eu') or region names; gdpr implies ['eu']."""
    phi: bool = False
    """The workload processes protected health information."""
    data_capture: DataCaptureSpec = Field(default_factory=DataCaptureSpec)
    """Request/response capture, off by default."""

    @property
    def residency(self) -> list[str]:
        """The residency list in force: GDPR without an explicit list means the EU/EEA."""
        if self.data_residency:
            return list(self.data_residency)
        return ["eu"] if "gdpr" in self.frameworks else []


class CostSpec(Section):
    monthly_budget_usd: Annotated[float, Field(gt=0)] | None = None
    """Monthly budget; checked against on-demand prices and wired to budget alerts. Default on
    cloud targets: the on-demand cost of scaling.max_replicas, rounded up to $100."""

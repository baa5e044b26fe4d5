"""Traces that keep prompts private: content capture is off, or encrypted in transit and retained.

The rule reads the OpenTelemetry Collector's own configuration (the ``relay`` key of its
ConfigMap, labelled ``app.kubernetes.io/component: otel-collector``), not a summary of it:

- content counts as dropped when every traces pipeline runs the content-dropping processors
  (``filter/drop-content-events`` and ``transform/drop-content``);
- otherwise content is captured, and every exporter of those pipelines must use an encrypted,
  verified connection (an ``https://`` endpoint, or a scheme-less gRPC endpoint, and neither
  ``tls.insecure`` nor ``tls.insecure_skip_verify``), and the ConfigMap must say how long the
  backend keeps the content (annotation ``inferstack.dev/trace-content-retention-days``).
"""

from __future__ import annotations

from typing import Any, Final

import yaml

from inferstack.compliance.model import Report, Resource, Rule, RuleConfig, Severity
from inferstack.compliance.props import MISSING, UNKNOWN, get
from inferstack.compliance.rules._common import (
    GDPR_BY_DESIGN,
    GDPR_CONFIDENTIALITY,
    GDPR_STORAGE_LIMITATION,
    OWASP_DISCLOSURE,
    number_setting,
    unverifiable,
)
from inferstack.tracing.content import (
    COLLECTOR_COMPONENT,
    CONFIG_KEY,
    CONTENT_PROCESSORS,
    RETENTION_ANNOTATION,
)

CONFIG_MAP: Final = "kubernetes:core/v1:ConfigMap"
COMPONENT_LABEL: Final = "app.kubernetes.io/component"


def _traces_pipelines(config: dict[str, Any]) -> dict[str, Any]:
    service = config.get("service")
    pipelines = service.get("pipelines") if isinstance(service, dict) else None
    if not isinstance(pipelines, dict):
        return {}
    return {
        name: pipeline
        for name, pipeline in pipelines.items()
        if isinstance(name, str)
        and (name == "traces" or name.startswith("traces/"))
        and isinstance(pipeline, dict)
    }


def _drops_content(config: dict[str, Any], pipeline: dict[str, Any]) -> bool:
    defined = config.get("processors")
    listed = pipeline.get("processors")
    if not isinstance(defined, dict) or not isinstance(listed, list):
        return False
    return all(name in listed and name in defined for name in CONTENT_PROCESSORS)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _transport_problem(name: str, exporter: Any) -> str | None:
    """Why ``exporter`` sends in clear or unverified; None when its transport is encrypted."""
    if not isinstance(exporter, dict):
        return f"exporter '{name}' is not configured"
    endpoint = exporter.get("endpoint") or exporter.get("traces_endpoint")
    tls = _mapping(exporter.get("tls"))
    if not isinstance(endpoint, str) or not endpoint:
        return f"exporter '{name}' has no endpoint"
    if endpoint.lower().startswith("http://"):
        return f"exporter '{name}' sends to {endpoint} over plain HTTP"
    if tls.get("insecure") is True:
        return f"exporter '{name}' disables TLS (tls.insecure: true)"
    if tls.get("insecure_skip_verify") is True:
        return f"exporter '{name}' does not verify the server (tls.insecure_skip_verify: true)"
    return None


def _check_content(res: Resource, report: Report, cfg: RuleConfig) -> None:
    component = get(res.props, "metadata", "labels", COMPONENT_LABEL)
    if component is UNKNOWN:
        report(unverifiable("metadata.labels", f"the {COMPONENT_LABEL} label is unknown"))
        return
    if component != COLLECTOR_COMPONENT:
        return
    text = get(res.props, "data", CONFIG_KEY)
    if text is UNKNOWN:
        report(unverifiable(f"data.{CONFIG_KEY}"))
        return
    if text is MISSING or not isinstance(text, str):
        report(f"the collector ConfigMap has no '{CONFIG_KEY}' configuration to check")
        return
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError:
        report(f"the collector configuration in '{CONFIG_KEY}' is not valid YAML")
        return
    if not isinstance(config, dict):
        report(f"the collector configuration in '{CONFIG_KEY}' is not a mapping")
        return
    captured = [
        (name, pipeline)
        for name, pipeline in _traces_pipelines(config).items()
        if not _drops_content(config, pipeline)
    ]
    if not captured:
        return
    exporters = _mapping(config.get("exporters"))
    for pipeline_name, pipeline in captured:
        names = pipeline.get("exporters") if isinstance(pipeline.get("exporters"), list) else []
        for name in names:
            problem = _transport_problem(str(name), exporters.get(name))
            if problem is not None:
                report(
                    f"pipeline '{pipeline_name}' keeps prompt and completion content and {problem}"
                )
    _check_retention(res, report, cfg)


def _check_retention(res: Resource, report: Report, cfg: RuleConfig) -> None:
    days = get(res.props, "metadata", "annotations", RETENTION_ANNOTATION)
    if days is UNKNOWN:
        report(unverifiable("metadata.annotations", f"{RETENTION_ANNOTATION} is unknown"))
        return
    try:
        value = int(str(days)) if days is not MISSING else 0
    except ValueError:
        value = 0
    if value <= 0:
        report(
            "traces keep prompt and completion content with no retention: annotate the "
            f"collector ConfigMap with {RETENTION_ANNOTATION}"
        )
        return
    limit = cfg.number("maxRetentionDays")
    if limit is not None and value > limit:
        report(f"captured trace content is kept {value} days, more than the {limit:g} allowed")


RULES: Final = (
    Rule(
        name="kubernetes-otel-collector-restrict-content-capture",
        description="Traces drop prompt and completion content, or keep it only encrypted in "
        "transit and with a retention period.",
        severity=Severity.HIGH,
        resource_types=(CONFIG_MAP,),
        controls=(OWASP_DISCLOSURE, GDPR_CONFIDENTIALITY, GDPR_STORAGE_LIMITATION, GDPR_BY_DESIGN),
        frameworks=frozenset({"owasp-llm", "gdpr"}),
        remediation="Leave observability.tracing.capture_content false (the collector drops the "
        "content), or export over https:// and set content_retention_days.",
        check=_check_content,
        reads=("metadata.labels.*", f"data.{CONFIG_KEY}", "metadata.annotations.*"),
        settings=(
            number_setting(
                "maxRetentionDays",
                "Longest retention allowed for captured trace content, in days (null: any).",
                None,
            ),
        ),
    ),
)

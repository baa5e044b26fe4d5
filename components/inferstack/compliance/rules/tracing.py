"""Traces that keep prompts private: content capture is off, or encrypted in transit and retained.

The rules read the OpenTelemetry Collector's own configuration, not a summary of it: on
Kubernetes the ``relay`` key of its ConfigMap (labelled ``app.kubernetes.io/component:
otel-collector``); on Cloud Run the environment variable a container's ``--config=env:<VAR>``
argument names (the gateway's collector sidecar). Then:

- content counts as dropped when every traces pipeline runs the content-dropping processors
  (``filter/drop-content-events`` and ``transform/drop-content``);
- otherwise content is captured, and every exporter of those pipelines must use an encrypted,
  verified connection (an ``https://`` endpoint, or a scheme-less gRPC endpoint, and neither
  ``tls.insecure`` nor ``tls.insecure_skip_verify``), and the ConfigMap must say how long the
  backend keeps the content (annotation ``inferstack.dev/trace-content-retention-days``, on
  the Cloud Run service for a sidecar).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import yaml

from inferstack.compliance.model import Report, Resource, Rule, RuleConfig, Severity
from inferstack.compliance.props import MISSING, UNKNOWN, elements, get
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
CLOUD_RUN_SERVICE: Final = "gcp:cloudrunv2/service:Service"
COMPONENT_LABEL: Final = "app.kubernetes.io/component"
ENV_CONFIG: Final = "env:"
"""The collector's environment-variable config provider (``--config=env:<VAR>``)."""


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
    if _judge(text, f"in '{CONFIG_KEY}'", report):
        _check_retention(res, ("metadata", "annotations"), "collector ConfigMap", report, cfg)


def _judge(text: str, where: str, report: Report) -> bool:
    """Report a configuration whose captured content leaves in clear; True if it keeps content
    (then a retention period is due)."""
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError:
        report(f"the collector configuration {where} is not valid YAML")
        return False
    if not isinstance(config, dict):
        report(f"the collector configuration {where} is not a mapping")
        return False
    captured = [
        (name, pipeline)
        for name, pipeline in _traces_pipelines(config).items()
        if not _drops_content(config, pipeline)
    ]
    if not captured:
        return False
    exporters = _mapping(config.get("exporters"))
    for pipeline_name, pipeline in captured:
        names = pipeline.get("exporters") if isinstance(pipeline.get("exporters"), list) else []
        for name in names:
            problem = _transport_problem(str(name), exporters.get(name))
            if problem is not None:
                report(
                    f"pipeline '{pipeline_name}' keeps prompt and completion content and {problem}"
                )
    return True


def _config_variable(args: Any) -> str | None:
    """The environment variable a collector's arguments read their configuration from."""
    if not isinstance(args, Sequence) or isinstance(args, str):
        return None
    for index, arg in enumerate(args):
        value: Any = None
        if isinstance(arg, str) and arg.startswith("--config="):
            value = arg.removeprefix("--config=")
        elif arg == "--config" and index + 1 < len(args):
            value = args[index + 1]
        if isinstance(value, str) and value.startswith(ENV_CONFIG):
            return value.removeprefix(ENV_CONFIG)
    return None


def _check_sidecar(res: Resource, report: Report, cfg: RuleConfig) -> None:
    keeps = False
    for container in elements(res.props, "template", "containers"):
        args = get(container, "args")
        if container is UNKNOWN or args is UNKNOWN:
            report(unverifiable("template.containers[*].args[*]"))
            return
        variable = _config_variable(args)
        if variable is None:
            continue
        label = f"the container reading --config=env:{variable}"
        text: Any = MISSING
        for env in elements(container, "envs"):
            env_name = get(env, "name")
            if env_name is UNKNOWN:
                report(unverifiable("template.containers[*].envs[*].name"))
                return
            if env_name == variable:
                text = get(env, "value")
        if text is UNKNOWN:
            report(unverifiable(f"template.containers[*].envs[{variable}]"))
            return
        if not isinstance(text, str):
            report(f"{label} has no {variable} variable")
            continue
        keeps = _judge(text, f"of {label}", report) or keeps
    if keeps:
        _check_retention(res, ("annotations",), "Cloud Run service", report, cfg)


def _check_retention(
    res: Resource, path: tuple[str, ...], holder: str, report: Report, cfg: RuleConfig
) -> None:
    days = get(res.props, *path, RETENTION_ANNOTATION)
    if days is UNKNOWN:
        report(unverifiable(".".join(path), f"{RETENTION_ANNOTATION} is unknown"))
        return
    try:
        value = int(str(days)) if days is not MISSING else 0
    except ValueError:
        value = 0
    if value <= 0:
        report(
            "traces keep prompt and completion content with no retention: annotate the "
            f"{holder} with {RETENTION_ANNOTATION}"
        )
        return
    limit = cfg.number("maxRetentionDays")
    if limit is not None and value > limit:
        report(f"captured trace content is kept {value} days, more than the {limit:g} allowed")


_RETENTION_SETTING: Final = number_setting(
    "maxRetentionDays",
    "Longest retention allowed for captured trace content, in days (null: any).",
    None,
)

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
        settings=(_RETENTION_SETTING,),
    ),
    Rule(
        name="gcp-cloudrun-service-restrict-trace-content",
        description="A Cloud Run service's collector sidecar drops prompt and completion "
        "content, or keeps it only encrypted in transit and with a retention period.",
        severity=Severity.HIGH,
        resource_types=(CLOUD_RUN_SERVICE,),
        controls=(OWASP_DISCLOSURE, GDPR_CONFIDENTIALITY, GDPR_STORAGE_LIMITATION, GDPR_BY_DESIGN),
        frameworks=frozenset({"owasp-llm", "gdpr"}),
        remediation="Leave observability.tracing.capture_content false (the sidecar drops the "
        "content), or export over https:// and set content_retention_days.",
        check=_check_sidecar,
        reads=(
            "template.containers[*].args[*]",
            "template.containers[*].envs[*].name",
            "template.containers[*].envs[*].value",
            "annotations.*",
        ),
        settings=(_RETENTION_SETTING,),
    ),
)

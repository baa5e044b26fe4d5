"""Scraping, dashboards and alerts for a serving workload (Prometheus Operator and Grafana)."""

from __future__ import annotations

import json
from typing import Any

from inferstack.kubernetes.metrics import rate, series
from inferstack.kubernetes.plan import ServingPlan
from inferstack.kubernetes.scaling import metric_selector
from inferstack.kubernetes.workload import metadata

Manifest = dict[str, Any]

MONITORING_API = "monitoring.coreos.com/v1"
ALERTMANAGER_CONFIG_API = "monitoring.coreos.com/v1alpha1"
ERROR_RATE_THRESHOLD = 0.05
KV_CACHE_SATURATION = 0.95
ALERT_LABEL = "inferstack_deployment"
# A dashboard panel: title, unit and its (legend, PromQL) queries.
Panel = tuple[str, str, list[tuple[str, str]]]


def service_monitor(plan: ServingPlan, extra_labels: dict[str, str]) -> Manifest | None:
    """Scrape the server's metrics endpoint; None for runtimes that export none (Ollama)."""
    if plan.metrics_path is None:
        return None
    return {
        "apiVersion": MONITORING_API,
        "kind": "ServiceMonitor",
        "metadata": metadata(plan.names.service, {**plan.labels, **extra_labels}, plan.namespace),
        "spec": {
            "selector": {"matchLabels": dict(plan.selector)},
            "namespaceSelector": {"matchNames": [plan.namespace]},
            "endpoints": [
                {
                    "port": "http",
                    "path": plan.metrics_path,
                    "interval": "15s",
                    "scrapeTimeout": "10s",
                }
            ],
        },
    }


def _ingress_requests(ingress_name: str, extra: str = "") -> str:
    return f'nginx_ingress_controller_requests{{ingress="{ingress_name}"{extra}}}'


def alert_rules(plan: ServingPlan, *, ingress_name: str) -> list[Manifest]:
    """Error rate, queue depth, KV-cache saturation, restarts and missing replicas."""
    labels = {ALERT_LABEL: plan.names.base}
    name = plan.names.base
    errors = _ingress_requests(ingress_name, ',status=~"5.."')
    rules: list[Manifest] = [
        {
            "alert": "LLMHighErrorRate",
            "expr": (
                f"sum(rate({errors}[5m])) / sum(rate({_ingress_requests(ingress_name)}[5m])) "
                f"> {ERROR_RATE_THRESHOLD:g}"
            ),
            "for": "5m",
            "labels": {**labels, "severity": "critical"},
            "annotations": {
                "summary": f"{name}: more than {ERROR_RATE_THRESHOLD:.0%} of requests fail",
                "description": "5xx answers at the ingress for 5 minutes.",
            },
        },
        {
            "alert": "LLMPodRestarting",
            "expr": (
                "sum by (pod) (increase(kube_pod_container_status_restarts_total"
                f'{{namespace="{plan.namespace}",pod=~"{plan.names.deployment}-.*"}}[30m])) > 2'
            ),
            "for": "0m",
            "labels": {**labels, "severity": "warning"},
            "annotations": {
                "summary": f"{name}: a server pod restarted more than twice in 30 minutes",
                "description": "Look for OOM kills and probe failures in the pod events.",
            },
        },
    ]
    if plan.min_replicas >= 1:
        rules.append(
            {
                "alert": "LLMReplicasUnavailable",
                "expr": (
                    "kube_deployment_status_replicas_available"
                    f'{{namespace="{plan.namespace}",deployment="{plan.names.deployment}"}} '
                    f"< {plan.min_replicas}"
                ),
                "for": "15m",
                "labels": {**labels, "severity": "critical"},
                "annotations": {
                    "summary": f"{name}: fewer than {plan.min_replicas} replicas are ready",
                    "description": "Check GPU capacity, image pulls and the model download.",
                },
            }
        )
    metrics = plan.metrics
    if metrics is None:
        return rules
    selector = metric_selector(plan)
    rules.append(
        {
            "alert": "LLMQueueBacklog",
            "expr": f"sum({series(metrics.waiting, selector)}) > {plan.concurrency}",
            "for": "10m",
            "labels": {**labels, "severity": "warning"},
            "annotations": {
                "summary": f"{name}: more requests queued than one replica serves at once",
                "description": "Scaling is at its maximum or too slow; raise max_replicas.",
            },
        }
    )
    if metrics.kv_cache_usage:
        rules.append(
            {
                "alert": "LLMKVCacheSaturated",
                "expr": (
                    f"max({series(metrics.kv_cache_usage, selector)}) > {KV_CACHE_SATURATION:g}"
                ),
                "for": "10m",
                "labels": {**labels, "severity": "warning"},
                "annotations": {
                    "summary": f"{name}: KV cache above {KV_CACHE_SATURATION:.0%}",
                    "description": "Requests get preempted; lower max_concurrency or add GPUs.",
                },
            }
        )
    return rules


def prometheus_rule(
    plan: ServingPlan, extra_labels: dict[str, str], *, ingress_name: str
) -> Manifest:
    return {
        "apiVersion": MONITORING_API,
        "kind": "PrometheusRule",
        "metadata": metadata(plan.names.base, {**plan.labels, **extra_labels}, plan.namespace),
        "spec": {
            "groups": [
                {
                    "name": f"{plan.names.base}.rules",
                    "rules": alert_rules(plan, ingress_name=ingress_name),
                }
            ]
        },
    }


def alertmanager_config(plan: ServingPlan, email: str) -> Manifest:
    """Send this service's alerts to ``email``; SMTP comes from Alertmanager's global config."""
    return {
        "apiVersion": ALERTMANAGER_CONFIG_API,
        "kind": "AlertmanagerConfig",
        "metadata": metadata(plan.names.base, plan.labels, plan.namespace),
        "spec": {
            "route": {
                "receiver": "email",
                "groupBy": ["alertname"],
                "groupWait": "30s",
                "groupInterval": "5m",
                "repeatInterval": "4h",
                "matchers": [{"name": ALERT_LABEL, "value": plan.names.base, "matchType": "="}],
            },
            "receivers": [{"name": "email", "emailConfigs": [{"to": email, "sendResolved": True}]}],
        },
    }


def dashboard_panels(plan: ServingPlan, *, ingress_name: str) -> list[Panel]:
    """(title, unit, [(legend, PromQL)]) for every panel the runtime's metrics allow."""
    panels: list[Panel] = [
        (
            "Requests/s at the ingress by status",
            "reqps",
            [("{{status}}", f"sum by (status) (rate({_ingress_requests(ingress_name)}[5m]))")],
        )
    ]
    metrics = plan.metrics
    if metrics is None:
        return panels
    sel = metric_selector(plan)
    panels.append(
        (
            "Requests running / waiting",
            "short",
            [
                ("running", f"sum({series(metrics.running, sel)})"),
                ("waiting", f"sum({series(metrics.waiting, sel)})"),
            ],
        )
    )
    if metrics.kv_cache_usage:
        panels.append(
            (
                "KV cache usage",
                "percentunit",
                [("{{pod}}", f"max by (pod) ({series(metrics.kv_cache_usage, sel)})")],
            )
        )
    for title, names in (
        ("Time to first token", metrics.ttft_bucket),
        ("Time per output token", metrics.tpot_bucket),
    ):
        if names:
            panels.append(
                (
                    title,
                    "s",
                    [
                        (
                            f"p{q}",
                            f"histogram_quantile(0.{q}, sum by (le) ({rate(names, sel, '5m')}))",
                        )
                        for q in (50, 95)
                    ],
                )
            )
    tokens = [
        (legend, f"sum({rate(names, sel, '1m')})")
        for legend, names in (
            ("generated", metrics.generation_tokens),
            ("prompt", metrics.prompt_tokens),
        )
        if names
    ]
    if tokens:
        panels.append(("Tokens/s", "short", tokens))
    return panels


def dashboard(
    plan: ServingPlan,
    *,
    ingress_name: str,
    extra_panels: list[Panel] | None = None,
    title: str | None = None,
) -> dict[str, Any]:
    """A Grafana dashboard model with a data source variable, two panels per row.

    ``extra_panels`` follow the serving panels (a fleet's device memory and temperatures).
    """
    panels = []
    every = [*dashboard_panels(plan, ingress_name=ingress_name), *(extra_panels or [])]
    for index, (panel_title, unit, queries) in enumerate(every):
        panels.append(
            {
                "id": index + 1,
                "type": "timeseries",
                "title": panel_title,
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "gridPos": {"h": 8, "w": 12, "x": (index % 2) * 12, "y": (index // 2) * 8},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "targets": [
                    {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend}
                    for i, (legend, expr) in enumerate(queries)
                ],
            }
        )
    return {
        "title": title or f"LLM service {plan.names.base} ({plan.namespace})",
        "uid": f"inferstack-{plan.names.base}"[:40],
        "tags": ["inferstack", plan.runtime],
        "schemaVersion": 39,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "type": "datasource",
                    "query": "prometheus",
                    "label": "Data source",
                }
            ]
        },
        "panels": panels,
    }


def dashboard_config_map(
    plan: ServingPlan,
    *,
    ingress_name: str,
    extra_panels: list[Panel] | None = None,
    title: str | None = None,
) -> Manifest:
    """A ConfigMap the Grafana sidecar loads (it watches for ``grafana_dashboard: "1"``)."""
    board = dashboard(plan, ingress_name=ingress_name, extra_panels=extra_panels, title=title)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(
            plan.names.dashboard, {**plan.labels, "grafana_dashboard": "1"}, plan.namespace
        ),
        "data": {f"{plan.names.base}.json": json.dumps(board, indent=2)},
    }

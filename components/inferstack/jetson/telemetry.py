"""Device telemetry of a site: the exporter, scraping, alerts and the dashboard.

Alerts use only series that exist for the site's runtimes: kube-state-metrics (restarts,
readiness), node-exporter on each device (unified memory, temperatures) and the server's own
metrics where the runtime exports them. vLLM exports request and first-token metrics;
llama.cpp exports neither; Ollama exports no Prometheus metrics at all. A canary on those is
judged by restarts, readiness and memory pressure.
"""

from __future__ import annotations

import math
from typing import Any

from inferstack.jetson import labels as node_labels
from inferstack.jetson.plan import Workload
from inferstack.jetson.site import (
    COMPONENT,
    EXPORTER_COMPONENT,
    MONITORING_LABELS,
    Site,
    short,
)
from inferstack.kubernetes import observability, pod, workload
from inferstack.kubernetes.metrics import RUNTIME_METRICS, rate
from inferstack.kubernetes.observability import Panel

Manifest = dict[str, Any]

EXPORTER_PORT = 9100
# node-exporter collectors that read the device through the container's own /proc and /sys:
# unified memory (/proc/meminfo is not namespaced), pressure stall information, thermal zones,
# CPU. No host mount is needed, so the exporter passes Pod Security "restricted".
EXPORTER_ARGS = (
    "--collector.disable-defaults",
    "--collector.meminfo",
    "--collector.pressure",
    "--collector.thermal_zone",
    "--collector.hwmon",
    "--collector.cpu",
    "--collector.loadavg",
    f"--web.listen-address=:{EXPORTER_PORT}",
)
# Runtimes whose server counts HTTP responses by status class (vLLM's API server middleware).
HTTP_REQUESTS = {"vllm": "http_requests_total"}
CANARY_ERROR_RATE = 0.02
CANARY_TTFT_P95_SECONDS = 2.0
MEMORY_PRESSURE = 0.92
THERMAL_CELSIUS = 85
COHORT_LABEL = "inferstack_cohort"  # node_labels.OBJECT_COHORT as a Prometheus label
RUNTIME_LABEL = "app_kubernetes_io_name"


def exporter_name(site: Site) -> str:
    return short(f"{site.fleet}-jetson-exporter")


def exporter_selector(site: Site) -> dict[str, str]:
    return {node_labels.FLEET: site.fleet, COMPONENT: EXPORTER_COMPONENT}


def exporter(site: Site) -> list[Manifest]:
    """Device exporter on every device of the fleet: unified memory, pressure, temperatures."""
    name = exporter_name(site)
    selector = exporter_selector(site)
    labels = {**site.labels, **selector}
    container = {
        "name": "exporter",
        "image": site.image(site.plan.fleet.exporter_image),
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "metrics", "containerPort": EXPORTER_PORT, "protocol": "TCP"}],
        "resources": {
            "requests": {"cpu": "20m", "memory": "64Mi"},
            "limits": {"cpu": "200m", "memory": "128Mi"},
        },
        "securityContext": pod.container_security_context(),
        "args": list(EXPORTER_ARGS),
        "readinessProbe": {"tcpSocket": {"port": "metrics"}, "periodSeconds": 15},
        "livenessProbe": {
            "tcpSocket": {"port": "metrics"},
            "periodSeconds": 30,
            "failureThreshold": 4,
        },
    }
    daemonset = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": workload.metadata(name, labels, site.namespace),
        "spec": {
            "selector": {"matchLabels": selector},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": site.names.service_account,
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": pod.pod_security_context(),
                    "affinity": {
                        "nodeAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": site_nodes(site)
                        }
                    },
                    "containers": [container],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": workload.metadata(name, labels, site.namespace),
        "spec": {
            "type": "ClusterIP",
            "clusterIP": "None",
            "selector": selector,
            "ports": [
                {
                    "name": "metrics",
                    "port": EXPORTER_PORT,
                    "targetPort": "metrics",
                    "protocol": "TCP",
                }
            ],
        },
    }
    monitor = {
        "apiVersion": observability.MONITORING_API,
        "kind": "ServiceMonitor",
        "metadata": workload.metadata(name, {**labels, **MONITORING_LABELS}, site.namespace),
        "spec": {
            "selector": {"matchLabels": selector},
            "namespaceSelector": {"matchNames": [site.namespace]},
            "endpoints": [
                {
                    "port": "metrics",
                    "interval": "30s",
                    "scrapeTimeout": "10s",
                    # The device's node name, so device series join kube-state-metrics' pods.
                    "relabelings": [
                        {"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node"}
                    ],
                }
            ],
        },
    }
    return [daemonset, service, monitor]


def site_nodes(site: Site) -> Manifest:
    """Node selector of every device of the fleet (and only trusted ones under HIPAA/PHI)."""
    expressions: list[Manifest] = [{"key": node_labels.MODULE, "operator": "Exists"}]
    if site.plan.device_trust:
        expressions += [
            {"key": key, "operator": "In", "values": [value]}
            for key, value in node_labels.DEVICE_TRUST.items()
        ]
    return {"nodeSelectorTerms": [{"matchExpressions": expressions}]}


def server_monitor(site: Site) -> Manifest | None:
    """Scrape the servers that export metrics; None when no runtime at the site does."""
    monitor = observability.service_monitor(site.site_plan, MONITORING_LABELS)
    if monitor is None:
        return None
    # Keep each series' cohort, device group and runtime, so canary alerts can single them out.
    monitor["spec"]["podTargetLabels"] = [
        node_labels.OBJECT_COHORT,
        node_labels.DEVICE_GROUP,
        "app.kubernetes.io/name",
    ]
    return monitor


def rules(site: Site) -> Manifest:
    groups = [{"name": f"{site.fleet}.devices", "rules": device_alerts(site)}]
    canary = site.canary()
    if canary is not None:
        workloads = [w for w in site.workloads if w.cohort == canary]
        groups.insert(
            0, {"name": f"{site.fleet}.canary", "rules": canary_alerts(site, canary, workloads)}
        )
    return {
        "apiVersion": observability.MONITORING_API,
        "kind": "PrometheusRule",
        "metadata": workload.metadata(
            site.fleet, {**site.labels, **MONITORING_LABELS}, site.namespace
        ),
        "spec": {"groups": groups},
    }


def canary_alerts(site: Site, cohort: str, canaries: list[Workload]) -> list[Manifest]:
    """Stop the rollout when the canary restarts, stays unready, runs out of memory, or (where
    the runtime says so) errs or answers slowly."""
    ns = site.namespace
    daemonsets = "|".join(site.instance(w) for w in canaries)
    labels = {
        observability.ALERT_LABEL: site.fleet,
        node_labels.SITE: site.site.name,
        "cohort": cohort,
    }
    note = f"Hold the rollout: do not promote cohort {cohort} at site {site.site.name}."
    # Readiness may lag a start by the whole startup budget (download over the site's link).
    patience = math.ceil(max(w.budget.seconds for w in canaries) / 60) + 5
    alerts = [
        _alert(
            "FleetCanaryRestarts",
            "sum(increase(kube_pod_container_status_restarts_total"
            f'{{namespace="{ns}",pod=~"({daemonsets})-[a-z0-9]{{5}}",container="server"}}[30m]))'
            " > 0",
            "0m",
            "critical",
            "a canary server restarted",
            note,
            labels,
        ),
        _alert(
            "FleetCanaryUnavailable",
            "sum(kube_daemonset_status_number_unavailable"
            f'{{namespace="{ns}",daemonset=~"{daemonsets}"}}) > 0',
            f"{patience}m",
            "critical",
            "a canary device is not serving",
            f"{note} Its server stayed unready longer than its startup budget.",
            labels,
        ),
        _alert(
            "FleetCanaryMemoryPressure",
            f"max by (node) ({_memory_used(site)}) * on (node) max by (node) (kube_pod_info"
            f'{{namespace="{ns}",created_by_kind="DaemonSet",created_by_name=~"{daemonsets}"}})'
            f" > {MEMORY_PRESSURE:g}",
            "10m",
            "critical",
            f"a canary device's unified memory is above {MEMORY_PRESSURE:.0%}",
            f"{note} CPU and GPU share it: the next allocation may OOM-kill the server.",
            labels,
        ),
    ]
    runtimes = {w.release.variant.runtime for w in canaries}
    for runtime in sorted(runtimes):
        alerts += _runtime_canary_alerts(ns, cohort, runtime, labels, note)
    return alerts


def _runtime_canary_alerts(
    ns: str, cohort: str, runtime: str, labels: dict[str, str], note: str
) -> list[Manifest]:
    """Error rate and first-token latency, only from runtimes that export them."""
    sel = f'namespace="{ns}",{COHORT_LABEL}="{cohort}",{RUNTIME_LABEL}="{runtime}"'
    alerts: list[Manifest] = []
    requests = HTTP_REQUESTS.get(runtime)
    if requests is not None:
        alerts.append(
            _alert(
                "FleetCanaryErrorRate",
                f'sum(rate({requests}{{{sel},status="5xx"}}[10m])) / '
                f"sum(rate({requests}{{{sel}}}[10m])) > {CANARY_ERROR_RATE:g}",
                "10m",
                "critical",
                f"canary errors above {CANARY_ERROR_RATE:.0%}",
                note,
                labels,
            )
        )
    metrics = RUNTIME_METRICS.get(runtime)
    if metrics is not None and metrics.ttft_bucket:
        alerts.append(
            _alert(
                "FleetCanarySlowFirstToken",
                "histogram_quantile(0.95, sum by (le) ("
                f"{rate(metrics.ttft_bucket, sel, '10m')})) > {CANARY_TTFT_P95_SECONDS:g}",
                "15m",
                "warning",
                f"canary p95 time to first token above {CANARY_TTFT_P95_SECONDS:g}s",
                note,
                labels,
            )
        )
    return alerts


def device_alerts(site: Site) -> list[Manifest]:
    """Unified memory pressure and thermal throttling, from the device exporter."""
    sel = _exporter_series(site)
    labels = {observability.ALERT_LABEL: site.fleet, node_labels.SITE: site.site.name}
    return [
        _alert(
            "JetsonMemoryPressure",
            f"max by (node) ({_memory_used(site)}) > {MEMORY_PRESSURE:g}",
            "10m",
            "warning",
            f"device unified memory above {MEMORY_PRESSURE:.0%}",
            "CPU and GPU share this memory: the next allocation may OOM-kill the server",
            labels,
        ),
        _alert(
            "JetsonThermalThrottling",
            f"max by (node) (node_thermal_zone_temp{{{sel}}}) > {THERMAL_CELSIUS}",
            "10m",
            "warning",
            f"device above {THERMAL_CELSIUS} °C: clocks are being throttled",
            "Check airflow and the power mode (nvpmodel) of the device.",
            labels,
        ),
        _alert(
            "JetsonExporterDown",
            f"up{{{sel}}} == 0",
            "15m",
            "warning",
            "a device stopped reporting",
            "The device is off or unreachable from the site's Prometheus.",
            labels,
        ),
    ]


def dashboard(site: Site) -> Manifest:
    """The serving dashboard of the Kubernetes target plus the devices' own panels."""
    sel = f'namespace="{site.namespace}"'
    devices: list[Panel] = [
        (
            "Unified memory used",
            "percentunit",
            [
                (
                    "{{node}}",
                    f"1 - node_memory_MemAvailable_bytes{{{sel}}} / "
                    f"node_memory_MemTotal_bytes{{{sel}}}",
                )
            ],
        ),
        ("Thermal zones", "celsius", [("{{node}}", f"node_thermal_zone_temp{{{sel}}}")]),
        (
            "Memory stall (PSI)",
            "percentunit",
            [("{{node}}", f"rate(node_pressure_memory_stalled_seconds_total{{{sel}}}[5m])")],
        ),
    ]
    return observability.dashboard_config_map(
        site.site_plan,
        ingress_name=site.names.ingress,
        extra_panels=devices,
        title=f"Jetson fleet {site.fleet} ({site.site.name})",
    )


def _exporter_series(site: Site) -> str:
    return f'namespace="{site.namespace}",service="{exporter_name(site)}"'


def _memory_used(site: Site) -> str:
    sel = _exporter_series(site)
    return f"1 - node_memory_MemAvailable_bytes{{{sel}}} / node_memory_MemTotal_bytes{{{sel}}}"


def _alert(
    name: str,
    expr: str,
    wait: str,
    severity: str,
    summary: str,
    description: str,
    labels: dict[str, str],
) -> Manifest:
    return {
        "alert": name,
        "expr": expr,
        "for": wait,
        "labels": {**labels, "severity": severity},
        "annotations": {"summary": summary, "description": description},
    }

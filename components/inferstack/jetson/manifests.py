"""Kubernetes objects of one fleet site, as plain manifest dicts.

Everything the Kubernetes target already knows how to build (hardened pods, runtime command
lines, network policies, ingress, scraping, dashboards, disruption budgets) comes from
:mod:`inferstack.kubernetes`; the fleet adds what devices need on top: DaemonSets pinned to
device labels (:mod:`inferstack.jetson.serving`), the device model cache, staging of the next
release, and device telemetry (:mod:`inferstack.jetson.telemetry`).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from inferstack.deployment import DeploymentSpec
from inferstack.deployment.fleet import SiteSpec
from inferstack.jetson import serving, telemetry
from inferstack.jetson.plan import FleetPlan
from inferstack.jetson.plan import max_unavailable as plan_max_unavailable
from inferstack.jetson.site import INGRESS_NAMESPACE, MONITORING_NAMESPACE, Site
from inferstack.kubernetes import network, scaling, workload

Manifest = dict[str, Any]

CACHE_CAPACITY_GI = 200  # nominal: a local volume is as large as the device's disk


def site_manifests(spec: DeploymentSpec, plan: FleetPlan, site: SiteSpec) -> list[Manifest]:
    """Every object of one site, the namespace first."""
    s = Site(spec, plan, site)
    objects: list[Manifest] = [
        workload.namespace(s.namespace, s.labels),
        workload.service_account(s.site_plan),
        cache_volume(s),
        cache_claim(s),
        gateway_config(s),
        *(serving.daemonset(s, w) for w in s.workloads),
        *serving.prepulls(s),
        disruption_budget(s),
        workload.service(s.site_plan),
        *network_policies(s),
        ingress(s),
        *telemetry.exporter(s),
    ]
    if spec.observability.metrics:
        monitor = telemetry.server_monitor(s)
        if monitor is not None:
            objects.append(monitor)
        objects.append(telemetry.rules(s))
    if spec.observability.dashboards:
        objects.append(telemetry.dashboard(s))
    return objects


def cache_volume(s: Site) -> Manifest:
    """The model cache directory of every device of the fleet at this site.

    A local PersistentVolume stands for the same directory on each device its node affinity
    admits. Local volumes have no attach step, so every device mounts its own copy: weights are
    fetched once per device and survive pod replacement, and Pod Security "restricted" (which
    forbids hostPath) still holds.
    """
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": workload.metadata(s.cache_name, s.labels),
        "spec": {
            "capacity": {"storage": f"{CACHE_CAPACITY_GI}Gi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": "",
            "volumeMode": "Filesystem",
            "local": {"path": s.plan.fleet.model_cache_path},
            "claimRef": {"namespace": s.namespace, "name": s.cache_name},
            "nodeAffinity": {"required": telemetry.site_nodes(s)},
        },
    }


def cache_claim(s: Site) -> Manifest:
    # Bound statically to the volume above; nothing to wait for at deploy time.
    return workload.volume_claim(
        workload.metadata(s.cache_name, s.labels, s.namespace),
        {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "",
            "volumeName": s.cache_name,
            "resources": {"requests": {"storage": f"{CACHE_CAPACITY_GI}Gi"}},
        },
    )


def gateway_config(s: Site) -> Manifest:
    """The device gateway's nginx.conf, Lua module and policy, shared by the site's pods."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": workload.metadata(s.gateway_config, s.labels, s.namespace),
        "data": dict(s.gateway_data),
    }


def disruption_budget(s: Site) -> Manifest:
    """Drains take at most a quarter of the site's devices, never all of them."""
    devices = sum(w.devices for w in s.workloads)
    return scaling.disruption_budget(s.site_plan, max_unavailable=plan_max_unavailable(devices))


def network_policies(s: Site) -> list[Manifest]:
    """Default deny; DNS, ingress controller, scraper; egress only to mirror and telemetry.

    The policies select every pod of the fleet: servers, pre-pulls (which fetch weights too)
    and the exporter (scraped on its own port). The ingress controller and the scraper reach
    the serving pods on the gateway's port only: the model server's port admits nobody from
    outside its pod, so no request reaches the model without passing the gateway.
    """
    plan = s.site_plan
    scrape = [plan.port] if plan.metrics_path is not None else []
    return network.network_policies(
        dataclasses.replace(plan, selector=dict(s.fleet_selector)),
        ingress_namespace=INGRESS_NAMESPACE,
        monitoring_namespace=MONITORING_NAMESPACE,
        download_cidrs=[],
        download_egress=egress_rules(s),
        scrape_ports=[*scrape, telemetry.EXPORTER_PORT],
    )


def egress_rules(s: Site) -> list[Manifest]:
    """The site mirror and the telemetry receiver: the only addresses beyond DNS.

    Without a mirror the weights come from the Hugging Face hub over HTTPS; private ranges
    stay closed even then.
    """
    rules: list[Manifest] = []
    mirror = s.site.mirror
    if mirror is not None:
        ports = [{"protocol": "TCP", "port": p} for p in mirror.ports]
        rules.append({"to": [{"ipBlock": {"cidr": mirror.cidr}}], "ports": ports})
    else:
        rules.append(
            {
                "to": network.egress_blocks(["0.0.0.0/0"]),
                "ports": [{"protocol": "TCP", "port": 443}],
            }
        )
    telemetry_spec = s.plan.fleet.telemetry
    if telemetry_spec is not None:
        rules.append(
            {
                "to": [{"ipBlock": {"cidr": telemetry_spec.cidr}}],
                "ports": [{"protocol": "TCP", "port": telemetry_spec.port}],
            }
        )
    return rules


def ingress(s: Site) -> Manifest:
    auth = s.spec.auth_for("jetson")
    security = s.spec.security
    annotations = network.ingress_annotations(
        auth=auth,
        rate_limit=security.rate_limit,
        max_request_bytes=security.max_request_bytes,
        allowed_cidrs=security.network.admitted_cidrs,
        client_ca_secret=(
            f"{s.namespace}/{security.client_ca_secret_name or s.names.client_ca_secret}"
            if auth == "mtls"
            else None
        ),
    )
    # The controller reads each request body whole (within the body limit) before a device
    # sees it: a slow client holds a controller buffer, never a device's gateway connection.
    body = f"{math.ceil(security.max_request_bytes / 1024)}k"
    annotations[f"{network.NGINX}/proxy-request-buffering"] = "on"
    annotations[f"{network.NGINX}/client-body-buffer-size"] = body
    return network.ingress(
        s.site_plan,
        host=host(s),
        ingress_class_name=security.network.ingress_class_name,
        annotations=annotations,
        tls_secret_name=security.network.tls_secret_name or s.names.tls_secret,
    )


def host(s: Site) -> str:
    hostname = s.spec.security.network.hostname
    if hostname:
        return f"{s.site.name}.{hostname}"
    return f"{s.fleet}.{s.site.name}.inferstack.internal"

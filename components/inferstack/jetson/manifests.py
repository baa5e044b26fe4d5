"""Kubernetes objects of one fleet site, as plain manifest dicts.

Everything the Kubernetes target already knows how to build (hardened containers, cache
emptyDirs, probes, runtime command lines, network policies, ingress, scraping, dashboards,
disruption budgets) comes from :mod:`inferstack.kubernetes`; this module only adds what a fleet
of devices needs on top: DaemonSets pinned to device labels, the device model cache, the startup
budget of the site's link, staging of the next release, and device telemetry.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from inferstack import catalog
from inferstack.jetson import labels as node_labels
from inferstack.jetson.plan import FleetPlan, Release, Workload
from inferstack.jetson.plan import max_unavailable as plan_max_unavailable
from inferstack.kubernetes import network, observability, pod, scaling, workload
from inferstack.kubernetes.args import ModelCacheArgs
from inferstack.kubernetes.budget import startup_budget
from inferstack.kubernetes.layout import MODEL_VOLUME
from inferstack.kubernetes.names import Names, object_labels
from inferstack.kubernetes.plan import ServingPlan
from inferstack.kubernetes.runtimes import (
    RUNTIME_METRICS,
    ModelRef,
    ServerCommand,
    download_command,
    env,
    model_location,
)
from inferstack.spec import DeploymentSpec, SecretRef
from inferstack.spec.fleet import SiteSpec

Manifest = dict[str, Any]

SERVER_COMPONENT = "inference-server"
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
MONITORING_NAMESPACE = "monitoring"
INGRESS_NAMESPACE = "ingress-nginx"
MONITORING_LABELS = {"release": "kube-prometheus-stack"}
# Thresholds of the canary and device alerts.
CANARY_ERROR_RATE = 0.02
CANARY_TTFT_P95_SECONDS = 2.0
MEMORY_PRESSURE = 0.92
THERMAL_CELSIUS = 85
CACHE_CAPACITY_GI = 200  # nominal: a local volume is as large as the device's disk
HUB_ENDPOINT = "https://huggingface.co"


def short(name: str, limit: int = 63) -> str:
    """``name`` within a label value's 63 characters, kept unique by a hash suffix."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: limit - 9].rstrip('-')}-{digest}"


class SiteBuilder:
    """Builds the manifests of one site from the fleet plan."""

    def __init__(self, spec: DeploymentSpec, plan: FleetPlan, site: SiteSpec) -> None:
        self.spec = spec
        self.plan = plan
        self.site = site
        self.namespace = plan.namespace
        self.workloads = plan.at(site.name)
        self.labels = {
            **object_labels(spec.labels(), spec.name),
            node_labels.SITE: site.name,
            node_labels.FLEET: spec.name,
        }
        self.selector = {
            node_labels.FLEET: spec.name,
            "app.kubernetes.io/component": SERVER_COMPONENT,
        }
        self.names = Names(base=spec.name, namespace=self.namespace)

    # -- the whole site ------------------------------------------------------------------------

    def manifests(self) -> list[Manifest]:
        objects: list[Manifest] = [
            self.namespace_object(),
            self.service_account(),
            self.cache_volume(),
            self.cache_claim(),
        ]
        for w in self.workloads:
            objects.append(self.daemonset(w))
            if w.staged is not None:
                objects.append(self.prepull(w, w.staged))
        objects.append(self.disruption_budget())
        objects.append(workload.service(self.site_plan()))
        objects.extend(self.network_policies())
        objects.append(self.ingress())
        objects.extend(self.exporter())
        if self.spec.observability.metrics:
            objects.append(self.server_monitor())
            objects.append(self.rules())
        if self.spec.observability.dashboards:
            objects.append(self.dashboard())
        return objects

    def namespace_object(self) -> Manifest:
        return workload.namespace(self.namespace, self.labels)

    def cache_volume(self) -> Manifest:
        """The model cache directory of every device of the fleet at this site.

        A local PersistentVolume stands for the same directory on each device its node
        affinity admits. Local volumes have no attach step, so every device mounts its own copy:
        weights are fetched once per device and survive pod replacement, and Pod Security
        "restricted" (which forbids hostPath) still holds.
        """
        return {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": workload.metadata(self.cache_name(), self.labels),
            "spec": {
                "capacity": {"storage": f"{CACHE_CAPACITY_GI}Gi"},
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": "",
                "volumeMode": "Filesystem",
                "local": {"path": self.plan.fleet.model_cache_path},
                "claimRef": {"namespace": self.namespace, "name": self.cache_name()},
                "nodeAffinity": {"required": self.fleet_nodes()},
            },
        }

    def cache_claim(self) -> Manifest:
        meta = workload.metadata(self.cache_name(), self.labels, self.namespace)
        # Bound statically to the volume above; nothing to wait for at deploy time.
        meta["annotations"] = {"pulumi.com/skipAwait": "true"}
        return {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": meta,
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "",
                "volumeName": self.cache_name(),
                "resources": {"requests": {"storage": f"{CACHE_CAPACITY_GI}Gi"}},
            },
        }

    def cache_name(self) -> str:
        # PersistentVolumes are cluster-wide: the namespace keeps two fleets apart.
        owner = (
            self.spec.name
            if self.namespace == self.spec.name
            else f"{self.namespace}-{self.spec.name}"
        )
        return short(f"{owner}-model-cache")

    def fleet_nodes(self) -> Manifest:
        """Node selector of every device of the fleet (and only trusted ones under HIPAA/PHI)."""
        expressions: list[Manifest] = [{"key": node_labels.MODULE, "operator": "Exists"}]
        if self.plan.device_trust:
            expressions += [
                {"key": key, "operator": "In", "values": [value]}
                for key, value in node_labels.DEVICE_TRUST.items()
            ]
        return {"nodeSelectorTerms": [{"matchExpressions": expressions}]}

    def service_account(self) -> Manifest:
        return workload.service_account(self.site_plan())

    # -- serving -------------------------------------------------------------------------------

    def serving_plan(self, w: Workload, release: Release, instance: str) -> ServingPlan:
        """The Kubernetes target's plan for one device group running ``release``."""
        runtime = catalog.runtimes()[release.variant.runtime]
        v = release.variant
        quant = v.dtype.removeprefix("gguf-").upper() if v.dtype.startswith("gguf-") else None
        ref = ModelRef(
            "hf",
            release.model,
            repo=release.weights.repo,
            revision=release.weights.revision,
            quant=quant,
        )
        api_key = None
        if self.spec.auth_for("jetson") == "api_key":
            api_key = SecretRef(name=self.names.api_key_secret, key="api-key")
        labels = {
            **self.labels,
            node_labels.OBJECT_COHORT: w.cohort,
            node_labels.DEVICE_GROUP: w.group.group_name,
        }
        return ServingPlan(
            names=Names(base=instance, namespace=self.namespace),
            runtime=v.runtime,
            image=w.image_for(release),
            port=self.spec.serving.port,
            health_path=runtime.health_path,
            metrics_path=runtime.metrics_path if v.runtime in RUNTIME_METRICS else None,
            model=ref,
            dtype=v.dtype,
            context=v.context,
            concurrency=v.concurrency,
            gpu_type=w.module.name,
            gpu_count=1,
            gpu_memory_utilization=(
                self.spec.serving.gpu_memory_utilization or w.module.gpu_memory_fraction
            ),
            budget=startup_budget(w.weights_gb, downloads=True, image_pull_seconds=0),
            labels={**object_labels(labels, instance), node_labels.FLEET: self.spec.name},
            selector={
                "app.kubernetes.io/instance": instance,
                "app.kubernetes.io/component": SERVER_COMPONENT,
            },
            min_replicas=w.devices,
            max_replicas=w.devices,
            hf_token=self.spec.model.hf_token_secret,
            api_key=api_key,
            extra_args=tuple(self.spec.serving.extra_args),
            max_request_bytes=self.spec.security.max_request_bytes,
            runtime_class_name=self.spec.compute.runtime_class_name or "nvidia",
            tolerations=tuple(_tolerations(self.spec)),
            model_cache=ModelCacheArgs(kind="per_pod"),
        )

    def daemonset(self, w: Workload) -> Manifest:
        instance = short(f"{self.spec.name}-{w.key}")
        sp = self.serving_plan(w, w.release, instance)
        layout = pod.cache_volumes(sp.runtime)
        mount = {"name": MODEL_VOLUME, "mountPath": "/models"}
        server = pod.server_container(sp, layout, mount)
        fetch = download_command(sp)
        if fetch is not None:
            _fetch_then_serve(server, fetch, self.site)
        server["env"] = _dedupe([*server["env"], *self.device_env(w)])
        server["resources"] = _device_resources(w)
        server["startupProbe"]["failureThreshold"] = w.budget.failure_threshold
        _pin_gguf_path(server, sp.model)
        spec = self.pod_spec(sp, w, [server], layout.volumes)
        return {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": workload.metadata(instance, sp.pod_labels, self.namespace),
            "spec": {
                "selector": {"matchLabels": dict(sp.selector)},
                "revisionHistoryLimit": 3,
                # Wait until a new pod has served for a while before taking the next device.
                "minReadySeconds": 30,
                "updateStrategy": {
                    "type": "RollingUpdate",
                    # Two servers do not fit one device's unified memory: replace, never surge.
                    "rollingUpdate": {"maxUnavailable": w.max_unavailable, "maxSurge": 0},
                },
                "template": {"metadata": {"labels": sp.pod_labels}, "spec": spec},
            },
        }

    def prepull(self, w: Workload, staged: Release) -> Manifest:
        """Pull the next release's image and fill the device cache while the current one serves."""
        instance = short(f"{self.spec.name}-{w.key}-prepull")
        sp = self.serving_plan(w, staged, instance)
        layout = pod.cache_volumes(sp.runtime)
        mount = {"name": MODEL_VOLUME, "mountPath": "/models"}
        init = pod.download_container(sp, layout, mount)
        containers: list[Manifest] = []
        if init is not None:
            init["env"] = _dedupe([*init["env"], *self.mirror_env()])
            init["args"] = [_mirrored_script(arg, self.site) for arg in init["args"]]
            _pin_gguf_path(init, sp.model)
        hold = {
            "name": "hold",
            "image": sp.image,
            "imagePullPolicy": "IfNotPresent",
            # Keeps the staged image in use, so the kubelet's image GC cannot remove it.
            "command": ["sleep", "infinity"],
            "resources": {
                "requests": {"cpu": "10m", "memory": "16Mi"},
                "limits": {"cpu": "50m", "memory": "32Mi"},
            },
            "securityContext": pod.container_security_context(),
        }
        containers.append(hold)
        spec = self.pod_spec(sp, w, containers, layout.volumes, gpu=False)
        if init is not None:
            spec["initContainers"] = [init]
        labels = {**sp.labels, **sp.selector, "app.kubernetes.io/component": "prepull"}
        selector = {**sp.selector, "app.kubernetes.io/component": "prepull"}
        return {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": workload.metadata(instance, labels, self.namespace),
            "spec": {
                "selector": {"matchLabels": selector},
                "updateStrategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": "100%"},
                },
                "template": {"metadata": {"labels": labels}, "spec": spec},
            },
        }

    def pod_spec(
        self,
        sp: ServingPlan,
        w: Workload,
        containers: list[Manifest],
        scratch: list[Manifest],
        *,
        gpu: bool = True,
    ) -> Manifest:
        cache = {"name": MODEL_VOLUME, "persistentVolumeClaim": {"claimName": self.cache_name()}}
        spec: Manifest = {
            "serviceAccountName": self.names.service_account,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "securityContext": pod.pod_security_context(),
            "affinity": {"nodeAffinity": self.node_affinity(w)},
            "tolerations": [dict(t) for t in sp.tolerations],
            "terminationGracePeriodSeconds": sp.termination_grace_period_seconds,
            "containers": containers,
            "volumes": [cache, *scratch],
        }
        if gpu:
            spec["runtimeClassName"] = sp.runtime_class_name
        return spec

    def node_affinity(self, w: Workload) -> Manifest:
        """Only devices of the group's module and cohort (and trusted ones under HIPAA/PHI)."""
        required = {
            node_labels.MODULE: w.module.name,
            node_labels.COHORT: w.cohort,
            **w.group.labels,
        }
        if self.plan.device_trust:
            required.update(node_labels.DEVICE_TRUST)
        expressions = [
            {"key": key, "operator": "In", "values": [value]} for key, value in required.items()
        ]
        return {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": expressions}]
            }
        }

    def device_env(self, w: Workload) -> list[Manifest]:
        # Ollama and the jetson-containers images pick their CUDA build from JETSON_JETPACK;
        # without it they silently fall back to the CPU.
        return [
            env("JETSON_JETPACK", w.module.jetpack.split(".")[0]),
            env("INFERSTACK_JETSON_MODULE", w.module.name),
            *self.mirror_env(),
        ]

    def mirror_env(self) -> list[Manifest]:
        mirror = self.site.mirror
        if mirror is None or mirror.models_url is None:
            return []
        return [env("HF_ENDPOINT", mirror.models_url)]

    def disruption_budget(self) -> Manifest:
        """Drains take at most a quarter of the site's devices, never all of them."""
        budget = scaling.disruption_budget(self.site_plan())
        devices = sum(w.devices for w in self.workloads)
        budget["spec"]["maxUnavailable"] = plan_max_unavailable(devices)
        return budget

    # -- site-wide: service, network, ingress --------------------------------------------------

    def site_plan(self) -> ServingPlan:
        """A plan standing for every serving pod of the site (selector across cohorts)."""
        first = self.workloads[0]
        sp = self.serving_plan(first, first.release, self.spec.name)
        return ServingPlan(
            **{
                **sp.__dict__,
                "names": self.names,
                "labels": dict(self.labels),
                "selector": dict(self.selector),
                "min_replicas": 0,
            }
        )

    def network_policies(self) -> list[Manifest]:
        """Default deny; DNS, ingress controller, scraper; egress only to mirror and telemetry."""
        sp = self.site_plan()
        policies = [
            p
            for p in network.network_policies(
                sp,
                ingress_namespace=INGRESS_NAMESPACE,
                monitoring_namespace=MONITORING_NAMESPACE,
                download_cidrs=[],
            )
            if not p["metadata"]["name"].endswith("allow-model-download")
        ]
        # One policy for what only fleets need: egress to the mirror and telemetry, and the
        # site's Prometheus reaching the device exporter.
        monitoring = {"matchLabels": {network.NAMESPACE_NAME_LABEL: MONITORING_NAMESPACE}}
        policies.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": workload.metadata(
                    self.names.policy("allow-fleet"), self.labels, self.namespace
                ),
                "spec": {
                    "podSelector": {},
                    "policyTypes": ["Ingress", "Egress"],
                    "ingress": [
                        {
                            "from": [{"namespaceSelector": monitoring}],
                            "ports": [{"protocol": "TCP", "port": EXPORTER_PORT}],
                        }
                    ],
                    "egress": self.egress_rules(),
                },
            }
        )
        return policies

    def egress_rules(self) -> list[Manifest]:
        """The site mirror and the telemetry receiver: the only addresses beyond DNS.

        Without a mirror the weights come from the Hugging Face hub over HTTPS; private ranges
        stay closed even then.
        """
        rules: list[Manifest] = []
        mirror = self.site.mirror
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
        telemetry = self.plan.fleet.telemetry
        if telemetry is not None:
            rules.append(
                {
                    "to": [{"ipBlock": {"cidr": telemetry.cidr}}],
                    "ports": [{"protocol": "TCP", "port": telemetry.port}],
                }
            )
        return rules

    def ingress(self) -> Manifest:
        sp = self.site_plan()
        auth = self.spec.auth_for("jetson")
        host = self.host()
        security = self.spec.security
        annotations = network.ingress_annotations(
            auth=auth,
            rate_limit=security.rate_limit,
            max_request_bytes=security.max_request_bytes,
            allowed_cidrs=security.network.allowed_cidrs or None,
            client_ca_secret=(
                f"{self.namespace}/{security.client_ca_secret_name or self.names.client_ca_secret}"
                if auth == "mtls"
                else None
            ),
        )
        return network.ingress(
            sp,
            host=host,
            ingress_class_name=security.network.ingress_class_name,
            annotations=annotations,
            tls_secret_name=security.network.tls_secret_name or self.names.tls_secret,
        )

    def host(self) -> str:
        hostname = self.spec.security.network.hostname
        if hostname:
            return f"{self.site.name}.{hostname}"
        return f"{self.spec.name}.{self.site.name}.inferstack.internal"

    # -- telemetry -----------------------------------------------------------------------------

    def exporter_selector(self) -> dict[str, str]:
        return {node_labels.FLEET: self.spec.name, "app.kubernetes.io/component": "jetson-exporter"}

    def exporter(self) -> list[Manifest]:
        """Device exporter on every device of the fleet: unified memory, pressure, temperatures."""
        name = short(f"{self.spec.name}-jetson-exporter")
        labels = {**self.labels, **self.exporter_selector()}
        image = _mirror_image(self.plan.fleet.exporter_image, self.site)
        container = {
            "name": "exporter",
            "image": image,
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
        fleet_nodes = {"requiredDuringSchedulingIgnoredDuringExecution": self.fleet_nodes()}
        daemonset = {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": workload.metadata(name, labels, self.namespace),
            "spec": {
                "selector": {"matchLabels": self.exporter_selector()},
                "updateStrategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": "25%"},
                },
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": self.names.service_account,
                        "automountServiceAccountToken": False,
                        "enableServiceLinks": False,
                        "securityContext": pod.pod_security_context(),
                        "affinity": {"nodeAffinity": fleet_nodes},
                        "containers": [container],
                    },
                },
            },
        }
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": workload.metadata(name, labels, self.namespace),
            "spec": {
                "type": "ClusterIP",
                "clusterIP": "None",
                "selector": self.exporter_selector(),
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
            "metadata": workload.metadata(name, {**labels, **MONITORING_LABELS}, self.namespace),
            "spec": {
                "selector": {"matchLabels": self.exporter_selector()},
                "namespaceSelector": {"matchNames": [self.namespace]},
                "endpoints": [{"port": "metrics", "interval": "30s", "scrapeTimeout": "10s"}],
            },
        }
        return [daemonset, service, monitor]

    def server_monitor(self) -> Manifest:
        monitor = observability.service_monitor(self.site_plan(), MONITORING_LABELS)
        assert monitor is not None
        # Keep each series' cohort and device group, so canary alerts can single them out.
        monitor["spec"]["podTargetLabels"] = [
            node_labels.OBJECT_COHORT,
            node_labels.DEVICE_GROUP,
            "app.kubernetes.io/name",
        ]
        return monitor

    def rules(self) -> Manifest:
        groups = [{"name": f"{self.spec.name}.devices", "rules": self.device_alerts()}]
        canary = self.plan.fleet.cohorts[0].name if len(self.plan.fleet.cohorts) > 1 else None
        if canary is not None and canary in {w.cohort for w in self.workloads}:
            groups.insert(
                0, {"name": f"{self.spec.name}.canary", "rules": self.canary_alerts(canary)}
            )
        return {
            "apiVersion": observability.MONITORING_API,
            "kind": "PrometheusRule",
            "metadata": workload.metadata(
                self.spec.name, {**self.labels, **MONITORING_LABELS}, self.namespace
            ),
            "spec": {"groups": groups},
        }

    def canary_alerts(self, cohort: str) -> list[Manifest]:
        """Stop the rollout when the canary errs, answers slowly or runs out of memory."""
        ns = self.namespace
        cohort_label = "inferstack_cohort"
        sel = f'namespace="{ns}",{cohort_label}="{cohort}"'
        labels = {
            observability.ALERT_LABEL: self.spec.name,
            node_labels.SITE: self.site.name,
            "cohort": cohort,
        }
        note = f"Hold the rollout: do not promote cohort {cohort} at site {self.site.name}."
        return [
            {
                "alert": "FleetCanaryErrorRate",
                # vLLM's HTTP middleware counts responses by status class.
                "expr": (
                    f'sum(rate(http_requests_total{{{sel},status="5xx"}}[10m])) / '
                    f"sum(rate(http_requests_total{{{sel}}}[10m])) > {CANARY_ERROR_RATE:g}"
                ),
                "for": "10m",
                "labels": {**labels, "severity": "critical"},
                "annotations": {
                    "summary": f"canary errors above {CANARY_ERROR_RATE:.0%}",
                    "description": note,
                },
            },
            {
                "alert": "FleetCanaryRestarts",
                "expr": (
                    "sum(increase(kube_pod_container_status_restarts_total"
                    f'{{namespace="{ns}",pod=~"{self.spec.name}-{cohort}-.*"}}[30m])) > 0'
                ),
                "for": "0m",
                "labels": {**labels, "severity": "critical"},
                "annotations": {"summary": "a canary server restarted", "description": note},
            },
            {
                "alert": "FleetCanarySlowFirstToken",
                "expr": (
                    "histogram_quantile(0.95, sum by (le) (rate("
                    f"vllm:time_to_first_token_seconds_bucket{{{sel}}}[10m]))) "
                    f"> {CANARY_TTFT_P95_SECONDS:g}"
                ),
                "for": "15m",
                "labels": {**labels, "severity": "warning"},
                "annotations": {
                    "summary": f"canary p95 time to first token above {CANARY_TTFT_P95_SECONDS:g}s",
                    "description": note,
                },
            },
            {
                "alert": "FleetCanaryMemoryPressure",
                "expr": (
                    "max(container_memory_working_set_bytes"
                    f'{{namespace="{ns}",pod=~"{self.spec.name}-{cohort}-.*",container="server"}} '
                    "/ on (namespace, pod, container) kube_pod_container_resource_limits"
                    f'{{namespace="{ns}",resource="memory"}}) > {MEMORY_PRESSURE:g}'
                ),
                "for": "10m",
                "labels": {**labels, "severity": "critical"},
                "annotations": {
                    "summary": f"canary server above {MEMORY_PRESSURE:.0%} of its memory limit",
                    "description": note,
                },
            },
        ]

    def device_alerts(self) -> list[Manifest]:
        """Unified memory pressure and thermal throttling, from the device exporter."""
        sel = f'namespace="{self.namespace}",service="{short(self.spec.name + "-jetson-exporter")}"'
        labels = {observability.ALERT_LABEL: self.spec.name, node_labels.SITE: self.site.name}
        return [
            {
                "alert": "JetsonMemoryPressure",
                "expr": (
                    f"max by (instance) (1 - node_memory_MemAvailable_bytes{{{sel}}} / "
                    f"node_memory_MemTotal_bytes{{{sel}}}) > {MEMORY_PRESSURE:g}"
                ),
                "for": "10m",
                "labels": {**labels, "severity": "warning"},
                "annotations": {
                    "summary": f"device unified memory above {MEMORY_PRESSURE:.0%}",
                    "description": (
                        "CPU and GPU share this memory: the next allocation may OOM-kill the server"
                    ),
                },
            },
            {
                "alert": "JetsonThermalThrottling",
                "expr": f"max by (instance) (node_thermal_zone_temp{{{sel}}}) > {THERMAL_CELSIUS}",
                "for": "10m",
                "labels": {**labels, "severity": "warning"},
                "annotations": {
                    "summary": f"device above {THERMAL_CELSIUS} °C: clocks are being throttled",
                    "description": "Check airflow and the power mode (nvpmodel) of the device.",
                },
            },
            {
                "alert": "JetsonExporterDown",
                "expr": f"up{{{sel}}} == 0",
                "for": "15m",
                "labels": {**labels, "severity": "warning"},
                "annotations": {
                    "summary": "a device stopped reporting",
                    "description": "The device is off or unreachable from the site's Prometheus.",
                },
            },
        ]

    def dashboard(self) -> Manifest:
        """The serving dashboard of the Kubernetes target plus the devices' own panels."""
        config = observability.dashboard_config_map(
            self.site_plan(), ingress_name=self.names.ingress
        )
        key = next(iter(config["data"]))
        board = json.loads(config["data"][key])
        sel = f'namespace="{self.namespace}"'
        extra = [
            (
                "Unified memory used",
                "percentunit",
                f"1 - node_memory_MemAvailable_bytes{{{sel}}} / "
                f"node_memory_MemTotal_bytes{{{sel}}}",
            ),
            ("Thermal zones", "celsius", f"node_thermal_zone_temp{{{sel}}}"),
            (
                "Memory stall (PSI)",
                "percentunit",
                f"rate(node_pressure_memory_stalled_seconds_total{{{sel}}}[5m])",
            ),
        ]
        start = len(board["panels"])
        for offset, (title, unit, expr) in enumerate(extra):
            index = start + offset
            board["panels"].append(
                {
                    "id": index + 1,
                    "type": "timeseries",
                    "title": title,
                    "datasource": {"type": "prometheus", "uid": "${datasource}"},
                    "gridPos": {"h": 8, "w": 12, "x": (index % 2) * 12, "y": (index // 2) * 8},
                    "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                    "targets": [{"refId": "A", "expr": expr, "legendFormat": "{{instance}}"}],
                }
            )
        board["title"] = f"Jetson fleet {self.spec.name} ({self.site.name})"
        config["data"] = {key: json.dumps(board, indent=2)}
        return config


def site_manifests(spec: DeploymentSpec, plan: FleetPlan, site: SiteSpec) -> list[Manifest]:
    return SiteBuilder(spec, plan, site).manifests()


def _tolerations(spec: DeploymentSpec) -> list[Manifest]:
    return [
        {k: v for k, v in t.model_dump().items() if v is not None} for t in spec.compute.tolerations
    ]


def _device_resources(w: Workload) -> Manifest:
    """Memory sized to the module's unified memory after the OS + k3s reserve."""
    limit_gi = max(1, int(w.module.memory_gb - w.module.reserve_gb))
    request_gi = max(1, min(limit_gi, round(w.weights_gb) + 1))
    return {
        "requests": {"cpu": "1", "memory": f"{request_gi}Gi", "nvidia.com/gpu": "1"},
        "limits": {"cpu": "4", "memory": f"{limit_gi}Gi", "nvidia.com/gpu": "1"},
    }


_FETCH_THEN_SERVE = """\
set -e
HF_HUB_OFFLINE=0 "$FETCH_INTERPRETER" -c "$FETCH_SCRIPT"
exec env -u HF_TOKEN "$@"
"""


def _fetch_then_serve(server: Manifest, fetch: ServerCommand, site: SiteSpec) -> None:
    """Fetch missing weights in the server container itself, then exec the server.

    On a device the startup probe is the one clock a rollout has: fetching inside the container
    puts the download under the probe's budget, which follows the site's link speed. The token
    is dropped from the server's environment before it starts.
    """
    command = [*server["command"], *server["args"]]
    server["command"] = ["sh", "-c", _FETCH_THEN_SERVE, "serve"]
    server["args"] = command
    script = _mirrored_script(fetch.args[0], site)
    server["env"] = _dedupe(
        [
            *server["env"],
            *fetch.env,
            env("FETCH_INTERPRETER", fetch.command[0]),
            env("FETCH_SCRIPT", script),
        ]
    )


def _pin_gguf_path(container: Manifest, ref: ModelRef) -> None:
    """Give each GGUF revision its own file in the device cache.

    Cohorts stage and run different revisions of one repository on the same cache; one path per
    repository would keep serving the first revision ever fetched.
    """
    if ref.quant is None:
        return
    shared = model_location(ref, "llamacpp")
    pinned = shared.rsplit("/", 1)[0] + f"/{ref.revision or 'main'}/{ref.quant}.gguf"
    container["args"] = [pinned if arg == shared else arg for arg in container.get("args", [])]
    for variable in container.get("env", []):
        if variable.get("value") == shared:
            variable["value"] = pinned


def _mirrored_script(script: str, site: SiteSpec) -> str:
    # The GGUF fetch script names the hub literally; on a mirrored site it must honour
    # HF_ENDPOINT like huggingface_hub does.
    literal = f'hub="{HUB_ENDPOINT}"'
    if site.mirror is None or site.mirror.models_url is None or literal not in script:
        return script
    return script.replace(literal, f'hub="${{HF_ENDPOINT:-{HUB_ENDPOINT}}}"')


def _mirror_image(image: str, site: SiteSpec) -> str:
    from inferstack.jetson.plan import mirrored

    return mirrored(image, site)


def _dedupe(variables: list[Manifest]) -> list[Manifest]:
    """Env vars by name, the last definition winning, in first-seen order."""
    by_name: dict[str, Manifest] = {}
    for variable in variables:
        by_name.pop(variable["name"], None)
        by_name[variable["name"]] = variable
    return list(by_name.values())

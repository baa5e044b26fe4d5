"""One site of a fleet as the manifest builders see it: labels, names and serving plans.

Everything here is computed once per site; the builders of serving workloads, site objects and
telemetry read it instead of recomputing labels and plans for every object.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from inferstack.deployment import DeploymentSpec, SecretRef
from inferstack.deployment.fleet import SiteSpec
from inferstack.jetson import gateway
from inferstack.jetson import labels as node_labels
from inferstack.jetson.plan import FleetPlan, Release, Workload, mirrored
from inferstack.kubernetes.args import ModelCacheArgs
from inferstack.kubernetes.budget import startup_budget
from inferstack.kubernetes.metrics import RUNTIME_METRICS
from inferstack.kubernetes.names import Names, object_labels
from inferstack.kubernetes.plan import ServingPlan
from inferstack.kubernetes.runtime_data import ModelRef, env

Manifest = dict[str, Any]

SERVER_COMPONENT = "inference-server"
PREPULL_COMPONENT = "prepull"
EXPORTER_COMPONENT = "jetson-exporter"
COMPONENT = "app.kubernetes.io/component"
MONITORING_NAMESPACE = "monitoring"
INGRESS_NAMESPACE = "ingress-nginx"
MONITORING_LABELS = {"release": "kube-prometheus-stack"}


def short(name: str, limit: int = 63) -> str:
    """``name`` within a label value's 63 characters, kept unique by a hash suffix."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: limit - 9].rstrip('-')}-{digest}"


class Site:
    """The fleet at one site: its workloads, the labels and names every object shares."""

    def __init__(self, spec: DeploymentSpec, plan: FleetPlan, site: SiteSpec) -> None:
        self.spec = spec
        self.plan = plan
        self.site = site
        self.fleet = spec.name
        self.namespace = plan.namespace
        self.workloads = plan.at(site.name)
        if not self.workloads:
            raise ValueError(f"site {site.name} has no device groups")
        self.labels = {
            **object_labels(spec.labels(), spec.name),
            node_labels.SITE: site.name,
            node_labels.FLEET: spec.name,
        }
        # The site's serving pods (Service, disruption budget); every pod of the fleet
        # (network policies: servers, pre-pulls and the exporter alike).
        self.serving_selector = {node_labels.FLEET: spec.name, COMPONENT: SERVER_COMPONENT}
        self.fleet_selector = {node_labels.FLEET: spec.name}
        self.names = Names(base=spec.name, namespace=self.namespace)
        self.cache_name = short(f"{self._owner}-model-cache")
        self.api_key: SecretRef | None = None
        if spec.auth_for("jetson") == "api_key":
            self.api_key = SecretRef(name=self.names.api_key_secret, key="api-key")
        self.site_plan = self._site_plan()
        # Every serving pod's gateway reads the site's one configuration.
        self.gateway_image = gateway.GATEWAY_IMAGE
        self.gateway_config = short(f"{self.fleet}-gateway")
        self.gateway_data = gateway.config_data(spec, self.site_plan.metrics_path)
        self.gateway_hash = gateway.config_hash(self.gateway_data)

    @property
    def _owner(self) -> str:
        # PersistentVolumes are cluster-wide: the namespace keeps two fleets apart.
        if self.namespace == self.fleet:
            return self.fleet
        return f"{self.namespace}-{self.fleet}"

    def image(self, image: str) -> str:
        """``image`` as this site pulls it: from its registry mirror when it has one."""
        return mirrored(image, self.site)

    def mirror_env(self) -> list[Manifest]:
        """Points huggingface_hub and the GGUF fetch at the site's model mirror."""
        mirror = self.site.mirror
        if mirror is None or mirror.models_url is None:
            return []
        return [env("HF_ENDPOINT", mirror.models_url)]

    def instance(self, w: Workload, suffix: str = "") -> str:
        return short(f"{self.fleet}-{w.key}{suffix}")

    def canary(self) -> str | None:
        """The first cohort, when the fleet has more than one and this site has its devices."""
        cohorts = self.plan.fleet.cohorts
        if len(cohorts) < 2:
            return None
        first = cohorts[0].name
        return first if any(w.cohort == first for w in self.workloads) else None

    # -- plans ---------------------------------------------------------------------------------

    def serving_plan(self, w: Workload, release: Release, instance: str) -> ServingPlan:
        """The Kubernetes target's plan for one device group running ``release``."""
        v = release.variant
        quant = v.dtype.removeprefix("gguf-").upper() if v.dtype.startswith("gguf-") else None
        ref = ModelRef(
            "hf",
            release.model,
            repo=release.weights.repo,
            revision=release.weights.revision,
            quant=quant,
        )
        labels = {
            **self.labels,
            node_labels.OBJECT_COHORT: w.cohort,
            node_labels.DEVICE_GROUP: w.group.group_name,
        }
        spec = self.spec
        return ServingPlan.for_runtime(
            spec,
            v.runtime,
            w.module.gpu_memory_fraction,
            names=Names(base=instance, namespace=self.namespace, account=self.fleet),
            image=self.image(release.image),
            model=ref,
            dtype=v.dtype,
            context=v.context,
            concurrency=v.concurrency,
            gpu_type=w.module.name,
            gpu_count=1,
            budget=startup_budget(w.weights_gb, downloads=True, image_pull_seconds=0),
            labels={**object_labels(labels, instance), node_labels.FLEET: self.fleet},
            selector={"app.kubernetes.io/instance": instance, COMPONENT: SERVER_COMPONENT},
            min_replicas=w.devices,
            max_replicas=w.devices,
            api_key=self.api_key,
            runtime_class_name=spec.compute.runtime_class_name or "nvidia",
            tolerations=tuple(
                {k: v for k, v in t.model_dump().items() if v is not None}
                for t in spec.compute.tolerations
            ),
            model_cache=ModelCacheArgs(kind="per_pod"),
        )

    def _site_plan(self) -> ServingPlan:
        """A plan standing for every serving pod of the site: its Service, ingress, scraping.

        Taken from a workload whose runtime exports metrics when there is one, so the site's
        scraping and dashboard follow what can be scraped.
        """
        w = next(
            (w for w in self.workloads if w.release.variant.runtime in RUNTIME_METRICS),
            self.workloads[0],
        )
        plan = self.serving_plan(w, w.release, self.fleet)
        # The Service, the ingress controller's and the scraper's way in: the gateway's port.
        return dataclasses.replace(
            plan,
            names=self.names,
            labels=dict(self.labels),
            selector=dict(self.serving_selector),
            min_replicas=0,
            port=gateway.GATEWAY_PORT,
        )

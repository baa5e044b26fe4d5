"""``inferstack.jetson.Fleet``: sites of k3s-managed Jetson devices served as one deployment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from inferstack.component import InferenceComponent
from inferstack.jetson import plan as fleet_plan
from inferstack.jetson.manifests import Manifest, site_manifests
from inferstack.spec import DeploymentSpec
from inferstack.spec.fleet import SiteSpec

# Typed resources for built-in kinds (policies match their type tokens); CRDs go through
# CustomResource.
_KINDS: dict[tuple[str, str], Any] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "Service"): k8s.core.v1.Service,
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("v1", "PersistentVolume"): k8s.core.v1.PersistentVolume,
    ("v1", "PersistentVolumeClaim"): k8s.core.v1.PersistentVolumeClaim,
    ("apps/v1", "DaemonSet"): k8s.apps.v1.DaemonSet,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
    ("networking.k8s.io/v1", "Ingress"): k8s.networking.v1.Ingress,
}
_FIELDS = {
    "automountServiceAccountToken": "automount_service_account_token",
    "data": "data",
    "spec": "spec",
}


class Fleet(InferenceComponent):
    """A Jetson fleet: one Kubernetes provider per site and one workload per device group.

    Resources grow with sites x cohorts x modules, never with the number of devices: a device
    joins its group's DaemonSet through the node labels its provisioning sets.
    """

    target = "jetson"
    type_token = "inferstack:jetson:Fleet"

    def __init__(
        self,
        name: str,
        spec: DeploymentSpec | Mapping[str, Any],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, spec, opts)
        self.plan = fleet_plan.build(self.spec)
        self.providers: dict[str, k8s.Provider] = {}
        self.children_: list[pulumi.CustomResource] = []
        for site in self.plan.fleet.sites:
            if not self.plan.at(site.name):
                continue
            provider = self._provider_for(name, site)
            self.providers[site.name] = provider
            self._build_site(name, site, provider)
        self.register_outputs(self.outputs())

    def _provider_for(self, name: str, site: SiteSpec) -> k8s.Provider:
        args: dict[str, Any] = {}
        if site.context is not None:
            args["context"] = site.context
        else:
            assert site.kubeconfig_secret is not None
            namespace, _, key = site.kubeconfig_secret.rpartition(":")
            args["kubeconfig"] = pulumi.Config(namespace or "inferstack").require_secret(key)
        return k8s.Provider(f"{name}-{site.name}", opts=self.child_opts(), **args)

    def _build_site(self, name: str, site: SiteSpec, provider: k8s.Provider) -> None:
        manifests = site_manifests(self.spec, self.plan, site)
        namespace = self._register(name, site, manifests[0], provider, depends_on=[])
        for manifest in manifests[1:]:
            self._register(name, site, manifest, provider, depends_on=[namespace])

    def _register(
        self,
        name: str,
        site: SiteSpec,
        manifest: Manifest,
        provider: k8s.Provider,
        depends_on: list[pulumi.Resource],
    ) -> pulumi.CustomResource:
        kind, api = manifest["kind"], manifest["apiVersion"]
        logical = f"{name}-{site.name}-{kind.lower()}-{manifest['metadata']['name']}"
        opts = self.child_opts(provider=provider, depends_on=depends_on)
        cls = _KINDS.get((api, kind))
        resource: pulumi.CustomResource
        if cls is None:
            if "." not in api:
                raise ValueError(f"{kind} ({api}) has no typed resource here; add it to _KINDS")
            resource = k8s.apiextensions.CustomResource(
                logical,
                api_version=api,
                kind=kind,
                metadata=manifest["metadata"],
                spec=manifest["spec"],
                opts=opts,
            )
        else:
            fields = {_FIELDS[k]: v for k, v in manifest.items() if k in _FIELDS}
            resource = cls(logical, metadata=manifest["metadata"], opts=opts, **fields)
        self.children_.append(resource)
        return resource

    def outputs(self) -> dict[str, pulumi.Output[Any]]:
        fleet = self.plan.fleet
        return {
            "fleet_name": pulumi.Output.from_input(self.spec.name),
            "namespace": pulumi.Output.from_input(self.plan.namespace),
            "sites": pulumi.Output.from_input(sorted(self.providers)),
            "cohorts": pulumi.Output.from_input([c.name for c in fleet.cohorts]),
            "devices": pulumi.Output.from_input(fleet.devices()),
            "workloads": pulumi.Output.from_input(len(self.plan.workloads)),
        }

"""``inferstack.jetson.Fleet``: sites of k3s-managed Jetson devices served as one deployment."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from inferstack.component import InferenceComponent
from inferstack.deployment import DeploymentSpec
from inferstack.deployment.fleet import SiteSpec
from inferstack.deployment.targets import Hardware
from inferstack.jetson.args import FleetArgs
from inferstack.jetson.manifests import site_manifests
from inferstack.jetson.plan import FleetPlan, build_plan
from inferstack.kubernetes.objects import register_object
from inferstack.kubernetes.patches import Patcher


class Fleet(InferenceComponent[FleetArgs]):
    """A Jetson fleet: one Kubernetes provider per site and one workload per device group.

    Resources grow with sites x cohorts x modules, never with the number of devices: a device
    joins its group's DaemonSet through the node labels its provisioning sets.

    ``args`` holds the JSON Patch overrides of the fleet's objects; without it they come from
    the ``patches`` of the ``inferstack:kubernetes`` config object.
    """

    target = "jetson"
    type_token = "inferstack:jetson:Fleet"
    args_class = FleetArgs

    plan: FleetPlan

    def prepare(
        self,
        name: str,
        spec: DeploymentSpec,
        hardware: Hardware,
        args: FleetArgs,
        region: str | None,
    ) -> None:
        self.plan = build_plan(spec, hardware, args, name=name)
        # Every site is built and patched before anything is registered, the component
        # included, so a patch that matches nothing anywhere leaves nothing behind.
        patcher = Patcher(args.patches)
        self._sites = [
            (site, patcher.apply(site_manifests(spec, self.plan, site)))
            for site in self.plan.fleet.sites
            if self.plan.at(site.name)
        ]
        patcher.check_matched()

    def build(self, name: str) -> None:
        self.providers: dict[str, k8s.Provider] = {}
        self.children_: list[pulumi.CustomResource] = []
        for site, manifests in self._sites:
            provider = self._provider_for(name, site)
            self.providers[site.name] = provider
            self._build_site(name, site, provider, manifests)

    def _provider_for(self, name: str, site: SiteSpec) -> k8s.Provider:
        args: dict[str, Any] = {}
        if site.context is not None:
            args["context"] = site.context
        else:
            assert site.kubeconfig_secret is not None
            namespace, _, key = site.kubeconfig_secret.rpartition(":")
            args["kubeconfig"] = pulumi.Config(namespace or "inferstack").require_secret(key)
        return k8s.Provider(f"{name}-{site.name}", opts=self.child_opts(), **args)

    def _build_site(
        self,
        name: str,
        site: SiteSpec,
        provider: k8s.Provider,
        manifests: list[dict[str, Any]],
    ) -> None:
        prefix = f"{name}-{site.name}"
        namespaces = [m for m in manifests if m["kind"] == "Namespace"]
        first = [
            register_object(m, _logical(prefix, m), self.child_opts(provider=provider))
            for m in namespaces
        ]
        # Everything else lives in the namespace: created after it, deleted before it.
        opts = self.child_opts(provider=provider, depends_on=list(first))
        self.children_.extend(first)
        for manifest in manifests:
            if manifest["kind"] != "Namespace":
                self.children_.append(register_object(manifest, _logical(prefix, manifest), opts))

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


def _logical(prefix: str, manifest: dict[str, Any]) -> str:
    return f"{prefix}-{manifest['kind'].lower()}-{manifest['metadata']['name']}"

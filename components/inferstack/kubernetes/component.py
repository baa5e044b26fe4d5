"""``inferstack:kubernetes:LLMService``: one hardened, autoscaled LLM server on a GPU cluster."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from inferstack import targets
from inferstack.component import InferenceComponent
from inferstack.deployment import DeploymentSpec
from inferstack.deployment.targets import Hardware
from inferstack.kubernetes.args import LLMServiceArgs
from inferstack.kubernetes.gateway import FrontPlan, build_front
from inferstack.kubernetes.manifests import endpoint, service_manifests
from inferstack.kubernetes.objects import register_object
from inferstack.kubernetes.patches import apply_patches
from inferstack.kubernetes.plan import ServingPlan, build_plan
from inferstack.kubernetes.validation import check_service

Manifest = dict[str, Any]


class LLMService(InferenceComponent[LLMServiceArgs]):
    """An OpenAI-compatible LLM endpoint on Kubernetes, from a DeploymentSpec.

    Children (all parented to this component, named after it): Namespace (Pod Security
    ``restricted``), ServiceAccount (no token), model cache PVC, Deployment, Service
    (ClusterIP), PodDisruptionBudget, the gateway (LiteLLM proxy: ServiceAccount, ConfigMap,
    Deployment, Service ``<name>-gateway``) and the guard it calls (LLM Guard API, the same,
    ``<name>-guard``), NetworkPolicies (default deny + DNS + gateway to model + ingress
    controller to gateway + metrics scraper + model download), Ingress to the gateway (TLS,
    auth, rate limit, body limit), KEDA
    ScaledObject, ServiceMonitor, PrometheusRule, AlertmanagerConfig and a Grafana dashboard.

    ``args`` holds the cluster-side settings (namespaces, storage class, Prometheus URL...)
    and the JSON Patch overrides of the children (``patches``); without it they come from the
    ``inferstack:kubernetes`` config object, else defaults.
    ``provider`` is the Kubernetes provider every child uses (a fleet passes one per cluster).
    """

    target = "onprem"
    type_token = "inferstack:kubernetes:LLMService"
    args_class = LLMServiceArgs

    plan: ServingPlan
    front: FrontPlan
    manifests: list[Manifest]

    def __init__(
        self,
        name: str,
        spec: DeploymentSpec | Mapping[str, Any],
        opts: pulumi.ResourceOptions | None = None,
        *,
        args: LLMServiceArgs | None = None,
        provider: pulumi.ProviderResource | None = None,
    ) -> None:
        self._cluster_provider = provider
        super().__init__(name, spec, opts, args=args)

    def check(
        self, name: str, spec: DeploymentSpec, args: LLMServiceArgs, region: str | None
    ) -> None:
        check_service(name, spec)

    def prepare(
        self,
        name: str,
        spec: DeploymentSpec,
        hardware: Hardware,
        args: LLMServiceArgs,
        region: str | None,
    ) -> None:
        self.plan = build_plan(spec, hardware, args, name=name)
        self.front = build_front(spec, self.plan, args, targets.get(self.target))
        # Built and patched before anything is registered, the component included: a patch
        # that cannot apply leaves nothing behind, and the packs see what the cluster gets.
        self.manifests = apply_patches(
            service_manifests(spec, self.plan, args, front=self.front), args.patches
        )
        self._endpoint = endpoint(spec, self.plan, args)

    def build(self, name: str) -> None:
        self._register_children(self._cluster_provider)

    def _register_children(self, provider: pulumi.ProviderResource | None) -> None:
        extra: dict[str, Any] = {"provider": provider} if provider is not None else {}
        namespace: list[pulumi.Resource] = []
        for manifest in self.manifests:
            kind = manifest["kind"]
            # Everything else lives in the namespace: create it first, delete it last.
            options = self._options_for(manifest)
            opts = self.child_opts(depends_on=list(namespace), **extra, **options)
            resource = register_object(manifest, self._resource_name(manifest), opts)
            if kind == "Namespace":
                namespace.append(resource)

    def _options_for(self, manifest: Manifest) -> dict[str, Any]:
        if manifest["kind"] != "Deployment" or manifest["metadata"]["name"] != (
            self.plan.names.deployment
        ):
            return {}
        # The Deployment may legitimately take as long as its progress deadline to become
        # ready; the autoscaler owns the replica count once it exists.
        seconds = self.plan.budget.progress_deadline_seconds + 120
        timeouts = pulumi.CustomTimeouts(create=f"{seconds}s", update=f"{seconds}s")
        return {"custom_timeouts": timeouts, "ignore_changes": ["spec.replicas"]}

    def _resource_name(self, manifest: Manifest) -> str:
        # Kubernetes names already derive from the component name and are unique per kind.
        kind = manifest["kind"]
        object_name = str(manifest["metadata"]["name"])
        if kind == "Namespace":
            return f"{self.plan.names.base}-namespace"
        return object_name

    def outputs(self) -> dict[str, pulumi.Output[Any]]:
        names = self.plan.names
        return {
            "namespace": pulumi.Output.from_input(names.namespace),
            "service_name": pulumi.Output.from_input(names.service),
            "endpoint_url": pulumi.Output.from_input(self._endpoint.url),
            "service_account_name": pulumi.Output.from_input(names.service_account),
            "gateway_service_name": pulumi.Output.from_input(self.front.name("gateway")),
        }

"""Every object of one LLM service, as plain manifests, in the order they are registered."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inferstack.deployment import DeploymentSpec
from inferstack.kubernetes import network, observability, redteam, scaling, tracing, workload
from inferstack.kubernetes.args import LLMServiceArgs
from inferstack.kubernetes.front_network import front_policies
from inferstack.kubernetes.gateway import GATEWAY, FrontPlan, gateway_manifests
from inferstack.kubernetes.guard import guard_manifests
from inferstack.kubernetes.plan import ServingPlan

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Endpoint:
    host: str
    tls: bool

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}/v1"


def endpoint(spec: DeploymentSpec, plan: ServingPlan, args: LLMServiceArgs) -> Endpoint:
    """The ingress host: security.network.hostname, else ``<name>.<args.domain>``."""
    host = spec.security.network.hostname or f"{plan.names.base}.{args.domain}"
    # allow_insecure (local dev clusters only) serves plain HTTP.
    return Endpoint(host=host, tls=not spec.security.allow_insecure)


def ingress_for(
    spec: DeploymentSpec,
    plan: ServingPlan,
    args: LLMServiceArgs,
    target: str = "onprem",
    service_name: str | None = None,
) -> Manifest:
    security = spec.security
    net = security.network
    where = endpoint(spec, plan, args)
    client_ca = security.client_ca_secret_name or plan.names.client_ca_secret
    annotations = network.ingress_annotations(
        auth=spec.auth_for(target),
        rate_limit=security.rate_limit,
        max_request_bytes=security.max_request_bytes,
        tls=where.tls,
        allowed_cidrs=net.admitted_cidrs,
        oidc_auth_url=security.oidc_auth_url,
        oidc_signin_url=security.oidc_signin_url,
        client_ca_secret=f"{plan.namespace}/{client_ca}",
        cluster_issuer=args.cluster_issuer if where.tls else None,
    )
    return network.ingress(
        plan,
        host=where.host,
        ingress_class_name=net.ingress_class_name,
        annotations=annotations,
        tls_secret_name=(net.tls_secret_name or plan.names.tls_secret) if where.tls else None,
        service_name=service_name,
    )


def service_manifests(
    spec: DeploymentSpec,
    plan: ServingPlan,
    args: LLMServiceArgs,
    target: str = "onprem",
    front: FrontPlan | None = None,
) -> list[Manifest]:
    """Namespace to dashboard: everything ``LLMService`` registers, nothing it does not.

    With ``front``, the gateway and guard stand between the ingress and the server: the ingress
    routes to the gateway, and the server admits only the gateway's pods (and the scraper).
    """
    observe = spec.observability
    ingress_name = plan.names.ingress
    monitored = observe.metrics and plan.metrics_path is not None
    candidates: list[Manifest | None] = [
        workload.namespace(plan.namespace, plan.labels) if args.create_namespace else None,
        workload.service_account(plan),
        workload.model_cache_claim(plan),
        workload.deployment(plan),
        workload.service(plan),
        scaling.disruption_budget(plan),
        *(gateway_manifests(front) if front else []),
        *(guard_manifests(front) if front else []),
        *network.network_policies(
            plan,
            ingress_namespace=args.ingress_namespace,
            monitoring_namespace=args.monitoring_namespace,
            download_cidrs=args.download_egress_cidrs,
            scraped=monitored,
            ingress_controller=front is None,
        ),
        *(
            front_policies(
                front,
                ingress_namespace=args.ingress_namespace,
                download_cidrs=args.download_egress_cidrs,
            )
            if front
            else []
        ),
        ingress_for(spec, plan, args, target, front.name(GATEWAY) if front else None),
        *tracing.collector_manifests(
            plan,
            observe.tracing,
            replicas=2 if spec.environment == "prod" else 1,
            export_cidrs=args.trace_export_cidrs,
        ),
        scaling.scaled_object(
            plan, spec.scaling, prometheus_url=args.prometheus_url, ingress_name=ingress_name
        )
        if plan.max_replicas > plan.min_replicas or spec.scaling.scale_to_zero
        else None,
        observability.service_monitor(plan, args.monitoring_labels) if monitored else None,
        observability.prometheus_rule(plan, args.monitoring_labels, ingress_name=ingress_name)
        if spec.alarms_enabled
        else None,
        observability.alertmanager_config(plan, observe.alarms.email)
        if spec.alarms_enabled and observe.alarms.email
        else None,
        observability.dashboard_config_map(plan, ingress_name=ingress_name)
        if observe.dashboards
        else None,
        *redteam.red_team_manifests(spec, plan, args),
    ]
    return [m for m in candidates if m is not None]

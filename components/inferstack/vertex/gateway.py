"""The gateway on Cloud Run: the only caller the endpoint admits.

A Cloud Run service running the LiteLLM proxy by digest (pulled through a CMEK Artifact
Registry repository), with internal ingress only, the deployment's key for CMEK, its own
service account and Direct VPC egress into the endpoint's network. Its service account alone
gets predict on the endpoint (an IAM grant on the endpoint, none on the project), Model Armor
user to call the template, and log and metric writer. Callers need ``roles/run.invoker`` on
the service, granted outside the component to the identities that may call the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import pulumi
import pulumi_gcp as gcp

from inferstack.tracing.collector import HEADERS_ENV, HEALTH_PORT
from inferstack.tracing.content import RETENTION_ANNOTATION
from inferstack.vertex.context import Context
from inferstack.vertex.encryption import Key
from inferstack.vertex.endpoint import resource_name
from inferstack.vertex.gateway_config import CONFIG_ENV, GATEWAY_PORT, command
from inferstack.vertex.identity import project_grants
from inferstack.vertex.network import EndpointNetwork, direct_vpc_egress
from inferstack.vertex.registry import remote_repository
from inferstack.vertex.tracing import (
    COLLECTOR_CONFIG_ENV,
    CONFIG_ARG,
    CONTAINER,
    SECRET_ROLE,
    TracePlan,
)

PREDICT_ROLE = "roles/aiplatform.user"
"""Granted on the endpoint only: predict there, nothing on the project's other endpoints."""
PROJECT_ROLES = ("roles/logging.logWriter", "roles/monitoring.metricWriter")
GUARD_ROLE = "roles/modelarmor.user"
HEALTH_PATH = "/health/liveliness"


@dataclass(frozen=True)
class Gateway:
    service: gcp.cloudrunv2.Service
    email: str


def gateway(
    ctx: Context,
    *,
    key: Key,
    net: EndpointNetwork,
    endpoint: gcp.vertex.AiEndpoint,
    template: gcp.modelarmor.Template | None,
) -> Gateway:
    plan = ctx.plan.gateway
    account = gcp.serviceaccount.Account(
        ctx.child("gateway"),
        account_id=plan.account_id,
        project=ctx.project,
        display_name=f"{ctx.name} gateway",
        description="Runs the gateway: calls Model Armor and the endpoint, nothing else",
        opts=ctx.opts(),
    )
    # The email is known from the account id before the account exists, so the policy packs
    # can compare every predict grant with it at preview.
    member = f"serviceAccount:{plan.account_email}"
    grants: list[pulumi.Resource] = [
        gcp.vertex.AiEndpointIamMember(
            ctx.child("gateway-predict"),
            project=ctx.project,
            location=ctx.region,
            endpoint=resource_name(ctx),
            role=PREDICT_ROLE,
            member=member,
            opts=ctx.opts(depends_on=[account, endpoint]),
        )
    ]
    roles = [*PROJECT_ROLES, *([GUARD_ROLE] if template is not None else [])]
    grants += project_grants(ctx, "gateway", roles, member, account)
    repository = remote_repository(
        ctx, key, plan.upstream, plan.repository, "gateway-images", "Gateway"
    )
    depends: list[pulumi.Resource] = [account, *grants, *key.grants, *net.ready]
    depends += [r for r in (repository, template) if r is not None]
    envs: list[gcp.cloudrunv2.ServiceTemplateContainerEnvArgsDict] = [
        {"name": CONFIG_ENV, "value": plan.config}
    ]
    if plan.tracing is not None:
        envs += [{"name": n, "value": v} for n, v in plan.tracing.gateway_env]
    gateway_container: gcp.cloudrunv2.ServiceTemplateContainerArgsDict = {
        "name": "gateway",
        "image": plan.image,
        "commands": command(),
        "ports": {"container_port": GATEWAY_PORT},
        "envs": envs,
        "resources": {"limits": {"cpu": "2", "memory": "2Gi"}},
        "startup_probe": {
            "http_get": {"path": HEALTH_PATH, "port": GATEWAY_PORT},
            "period_seconds": 5,
            "failure_threshold": 24,
        },
        "liveness_probe": {
            "http_get": {"path": HEALTH_PATH, "port": GATEWAY_PORT},
            "period_seconds": 30,
        },
    }
    containers = [gateway_container]
    annotations: dict[str, str] = {}
    if plan.tracing is not None:
        sidecar, ready = _collector(ctx, key, plan.tracing, member, account)
        depends += ready
        containers.append(sidecar)
        # LiteLLM starts once the collector's health check answers.
        gateway_container["depends_ons"] = [CONTAINER]
        if plan.tracing.retention_days is not None:
            annotations[RETENTION_ANNOTATION] = str(plan.tracing.retention_days)
    revision: gcp.cloudrunv2.ServiceTemplateArgsDict = {
        "service_account": plan.account_email,
        "encryption_key": key.name,
        "execution_environment": "EXECUTION_ENVIRONMENT_GEN2",
        "max_instance_request_concurrency": plan.concurrency,
        "timeout": "900s",
        "scaling": {
            "min_instance_count": plan.min_instances,
            "max_instance_count": plan.max_instances,
        },
        "containers": containers,
    }
    vpc = direct_vpc_egress(ctx)
    if vpc is not None:
        revision["vpc_access"] = cast(gcp.cloudrunv2.ServiceTemplateVpcAccessArgsDict, vpc)
    service = gcp.cloudrunv2.Service(
        ctx.child("gateway-service"),
        name=plan.service,
        project=ctx.project,
        location=ctx.region,
        description=f"OpenAI-compatible gateway of {ctx.name}: screens with Model Armor",
        ingress="INGRESS_TRAFFIC_INTERNAL_ONLY",
        invoker_iam_disabled=False,
        deletion_protection=ctx.spec.environment == "prod",
        labels=ctx.labels(inferstack_purpose="gateway"),
        annotations=annotations or None,
        template=revision,
        opts=ctx.opts(depends_on=depends),
    )
    return Gateway(service, plan.account_email)


def _collector(
    ctx: Context,
    key: Key,
    trace: TracePlan,
    member: str,
    account: gcp.serviceaccount.Account,
) -> tuple[gcp.cloudrunv2.ServiceTemplateContainerArgsDict, list[pulumi.Resource]]:
    """The collector sidecar (no port: not reachable from outside the instance), and what the
    service waits for: its image repository and the grant on the headers secret."""
    ready: list[pulumi.Resource] = []
    repository = remote_repository(
        ctx, key, trace.upstream, trace.repository, "collector-images", "Trace collector"
    )
    if repository is not None:
        ready.append(repository)
    envs: list[gcp.cloudrunv2.ServiceTemplateContainerEnvArgsDict] = [
        {"name": COLLECTOR_CONFIG_ENV, "value": trace.config},
        # Below the memory limit, so the Go runtime collects before the instance runs out.
        {"name": "GOMEMLIMIT", "value": "400MiB"},
    ]
    secret = trace.headers
    if secret is not None:
        # On the secret only: the gateway's account reads no other secret of the project.
        ready.append(
            gcp.secretmanager.SecretIamMember(
                ctx.child("gateway-trace-headers"),
                project=secret.project,
                secret_id=secret.secret_id,
                role=SECRET_ROLE,
                member=member,
                opts=ctx.opts(depends_on=[account]),
            )
        )
        envs.append(
            {
                "name": HEADERS_ENV,
                "value_source": {
                    "secret_key_ref": {"secret": secret.name, "version": secret.version}
                },
            }
        )
    health: gcp.cloudrunv2.ServiceTemplateContainerStartupProbeHttpGetArgsDict = {
        "path": "/",
        "port": HEALTH_PORT,
    }
    container: gcp.cloudrunv2.ServiceTemplateContainerArgsDict = {
        "name": CONTAINER,
        "image": trace.image,
        "args": [CONFIG_ARG],
        "envs": envs,
        "resources": {"limits": {"cpu": "1", "memory": "512Mi"}},
        "startup_probe": {"http_get": health, "period_seconds": 2, "failure_threshold": 30},
        "liveness_probe": {
            "http_get": {"path": "/", "port": HEALTH_PORT},
            "period_seconds": 30,
            "failure_threshold": 6,
        },
    }
    return container, ready

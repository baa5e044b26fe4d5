"""``Endpoint``: a private, CMEK-encrypted, autoscaled LLM endpoint on Google Vertex AI."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import pulumi
import pulumi_gcp as gcp

from inferstack.component import InferenceComponent
from inferstack.deployment import DeploymentSpec
from inferstack.deployment.targets import Hardware
from inferstack.redteam import RedTeamPlan
from inferstack.vertex import (
    budget,
    encryption,
    guard,
    identity,
    monitoring,
    network,
    redteam,
    registry,
    storage,
)
from inferstack.vertex.args import VertexArgs
from inferstack.vertex.context import Context
from inferstack.vertex.deployment import model_deployment
from inferstack.vertex.endpoint import ai_endpoint, resource_name
from inferstack.vertex.gateway import gateway
from inferstack.vertex.plan import VertexPlan, build_plan


class Endpoint(InferenceComponent[VertexArgs]):
    """A Vertex AI endpoint serving one LLM, with everything around it.

    Children: a Cloud KMS key ring and key rotating every 90 days (or
    ``security.encryption.kms_key``) with grants for the service agents that encrypt with it;
    the CMEK model bucket and its access-log bucket; an Artifact Registry remote repository
    (CMEK) the digest-pinned image is pulled through; the serving service account (read the
    model prefix, write logs and metrics); a VPC and subnet (or existing ones) with a Private
    Service Connect or peered endpoint; the ``vertex.AiEndpoint`` with ``encryptionSpec``;
    the ``inferstack:vertex:ModelDeployment`` that uploads the model with CMEK and deploys it
    (spot with an on-demand fallback when ``compute.spot``); a CMEK log bucket with the spec's
    retention; request-response capture to a CMEK BigQuery dataset only with data capture;
    alert policies to an email channel; a billing budget; and the gateway every request goes
    through: a regional Model Armor template (with Sensitive Data Protection templates for
    personal data and secrets) and a LiteLLM proxy on Cloud Run (internal ingress, CMEK, Direct
    VPC egress) whose service account alone may predict on the endpoint. With
    ``security.red_team``: a Cloud Run job per scan tier that runs garak against the gateway,
    started by Cloud Scheduler, its reports in a CMEK bucket that deletes them after the
    retention (``inferstack.vertex.redteam``).

    ``args`` defaults to the stack's ``inferstack:vertex`` object; ``region`` to ``gcp:region``.
    """

    target: ClassVar[str] = "vertex"
    type_token: ClassVar[str] = "inferstack:vertex:Endpoint"
    args_class = VertexArgs

    plan: VertexPlan
    scans: RedTeamPlan | None

    def __init__(
        self,
        name: str,
        spec: DeploymentSpec | Mapping[str, Any],
        opts: pulumi.ResourceOptions | None = None,
        *,
        args: VertexArgs | None = None,
        region: str | None = None,
    ) -> None:
        settings = args if args is not None else VertexArgs.from_config()
        if settings.project is None:
            project = pulumi.Config("gcp").get("project")
            settings = settings.model_copy(update={"project": project})
        super().__init__(name, spec, opts, args=settings, region=region)

    def prepare(
        self,
        name: str,
        spec: DeploymentSpec,
        hardware: Hardware,
        args: VertexArgs,
        region: str | None,
    ) -> None:
        self.plan = build_plan(spec, hardware, args, name=name, region=region)
        self.scans = redteam.scan_plan(spec, self.plan)

    def build(self, name: str) -> None:
        project = gcp.organizations.get_project_output(
            project_id=self.plan.project, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        ctx = Context(
            name,
            self.spec,
            self.plan,
            project.number,
            self,
            project_billing_account=project.billing_account,
        )
        self._outputs = self._build(ctx)

    def _build(self, ctx: Context) -> dict[str, pulumi.Output[Any]]:
        plan = ctx.plan
        key = encryption.deployment_key(ctx, bigquery=plan.capture)
        access = storage.access_logs(ctx, key) if storage.needs_access_logs(ctx) else None
        bucket = storage.model_bucket(ctx, key, access)
        repository = registry.image_repository(ctx, key)
        account = identity.serving_account(ctx, bucket)
        net = network.endpoint_network(ctx)
        logs = monitoring.log_bucket(ctx, key)
        captures = monitoring.capture_dataset(ctx, key)
        endpoint = ai_endpoint(ctx, key, net, captures)
        deployment = model_deployment(
            ctx,
            endpoint=endpoint,
            kms_key_name=key.name,
            service_account=account.email,
            depends_on=[
                *account.grants,
                *key.grants,
                logs,
                *([bucket] if bucket is not None else []),
                *([repository] if repository is not None else []),
            ],
        )
        template = guard.guard_template(ctx)
        front = gateway(ctx, key=key, net=net, endpoint=endpoint, template=template)
        scans = None
        if self.scans is not None:
            assert access is not None
            scans = redteam.red_team(
                ctx,
                self.scans,
                key=key,
                logs=access,
                service=front.service,
                depends_on=[front.service, *net.ready],
            )
        channel = monitoring.notification_channel(ctx)
        monitoring.alert_policies(ctx, channel, endpoint)
        budget.budget(ctx, channel)
        outputs: dict[str, pulumi.Output[Any]] = {
            "endpoint_id": pulumi.Output.from_input(plan.names.endpoint_id),
            "endpoint_name": pulumi.Output.from_input(resource_name(ctx)),
            "model_name": deployment.model,
            "service_account_email": account.email,
            "kms_key_name": key.name,
            "artifact_uri": pulumi.Output.from_input(plan.source.uri),
            "image_uri": pulumi.Output.from_input(plan.container.image),
            "gateway_url": front.service.uri,
            "gateway_service_account_email": pulumi.Output.from_input(front.email),
        }
        if scans is not None:
            outputs["red_team_bucket_name"] = scans.bucket.name
            outputs["red_team_jobs"] = pulumi.Output.from_input(scans.job_names)
            outputs["red_team_schedules"] = pulumi.Output.from_input(scans.job_names)
        if plan.network.mode == "public":
            outputs["endpoint_dns"] = endpoint.dedicated_endpoint_dns
        return outputs

    def outputs(self) -> dict[str, pulumi.Output[Any]]:
        return dict(self._outputs)

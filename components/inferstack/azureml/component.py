"""``OnlineEndpoint``: a private, CMK-encrypted Azure ML managed online endpoint serving one LLM."""

from __future__ import annotations

from typing import Any, ClassVar

import pulumi
from pulumi_azure_native import authorization, resources

from inferstack.azureml import (
    apim,
    budget,
    encryption,
    guard,
    identity,
    monitoring,
    network,
    redteam,
    registry,
    scaling,
    serving,
    storage,
    workspace,
)
from inferstack.azureml.args import AzureMLArgs
from inferstack.azureml.context import Context
from inferstack.azureml.plan import AzureMLPlan, build_plan
from inferstack.component import InferenceComponent
from inferstack.deployment import DeploymentSpec
from inferstack.deployment.targets import Hardware
from inferstack.redteam import RedTeamPlan


class OnlineEndpoint(InferenceComponent[AzureMLArgs]):
    """An Azure ML managed online endpoint serving one LLM, with everything around it.

    Children: a resource group (or ``args.resource_group``), a Key Vault and rotating key (or
    ``security.encryption.kms_key``), a user-assigned identity with roles on the key, registry
    and model container only, a storage account and a Premium registry encrypted with that key,
    Log Analytics and Application Insights, the workspace (CMK, HBI for PHI, private, managed
    network), private endpoints and DNS zones, the model, environment, endpoint (Entra tokens)
    and deployment (probes sized to the model, no egress), autoscale, diagnostic settings,
    metric alerts to an action group, a budget, and the gateway: API Management (internal
    VNet) screening with Azure AI Content Safety and Language, the only identity that may
    score the endpoint. With ``security.red_team``: scheduled Container Apps jobs scanning the
    gateway with garak, and their encrypted, expiring report store (redteam.py).

    Keyword arguments beyond the spec:
      args: the target's settings; default: the stack's ``inferstack:azureml`` object.
      region: the Azure location; default: the ``azure-native:location`` config value.
    """

    target: ClassVar[str] = "azureml"
    type_token: ClassVar[str] = "inferstack:azureml:OnlineEndpoint"
    args_class = AzureMLArgs

    plan: AzureMLPlan
    scans: RedTeamPlan | None
    region: str

    def prepare(
        self,
        name: str,
        spec: DeploymentSpec,
        hardware: Hardware,
        args: AzureMLArgs,
        region: str | None,
    ) -> None:
        self.plan = build_plan(spec, hardware, args, name=name, region=region)
        self.scans = redteam.scan_plan(spec, args, self.plan)

    def build(self, name: str) -> None:
        client = authorization.get_client_config_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        )
        group_id, group_name = self._resource_group(name, client.subscription_id)
        ctx = Context(
            name=name,
            spec=self.spec,
            plan=self.plan,
            region=self.region,
            subscription_id=client.subscription_id,
            tenant_id=client.tenant_id,
            resource_group=group_name,
            parent=self,
        )
        self._outputs = self._build(ctx, group_id)

    def _resource_group(
        self, name: str, subscription_id: pulumi.Output[str]
    ) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        plan = self.plan
        if not plan.create_resource_group:
            group_id = subscription_id.apply(
                lambda sub: f"/subscriptions/{sub}/resourceGroups/{plan.resource_group}"
            )
            return group_id, pulumi.Output.from_input(plan.resource_group)
        group = resources.ResourceGroup(
            f"{name}-rg",
            resource_group_name=plan.resource_group,
            location=self.region,
            tags=self.spec.merged_tags(),
            opts=self.child_opts(),
        )
        return group.id, group.name

    def _build(self, ctx: Context, group_id: pulumi.Output[str]) -> dict[str, pulumi.Output[Any]]:
        plan = ctx.plan
        uai = identity.identity(ctx)
        key = encryption.deployment_key(ctx)
        crypto = identity.grant(
            ctx, "key", "crypto_user", principal_id=uai.principal_id, scope=key.key_id
        )
        logs = monitoring.log_workspace(ctx)
        insights = monitoring.app_insights(ctx, logs)
        account = storage.account(ctx, key, uai.id, depends_on=[crypto])
        container = storage.models_container(ctx, account)
        reader = identity.grant(
            ctx, "models", "blob_reader", principal_id=uai.principal_id, scope=container.id
        )
        images = registry.registry(ctx, key, uai.id, uai.client_id, depends_on=[crypto])
        puller = identity.grant(
            ctx, "registry", "acr_pull", principal_id=uai.principal_id, scope=images.id
        )
        net = network.private_network(ctx)
        if key.vault is not None:
            network.private_endpoint(ctx, net, "vault", key.vault.id, "vault")
            monitoring.diagnostics(ctx, "vault", key.vault.id, logs)
        network.private_endpoint(ctx, net, "blob", account.id, "blob")
        network.private_endpoint(ctx, net, "file", account.id, "file")
        network.private_endpoint(ctx, net, "registry", images.id, "registry")
        mlw = workspace.workspace(
            ctx,
            key=key,
            identity_id=uai.id,
            storage_id=account.id,
            registry_id=images.id,
            app_insights_id=insights.id,
            depends_on=[crypto],
        )
        network.private_endpoint(ctx, net, "workspace", mlw.id, "amlworkspace")
        screening = guard.screening(ctx, net, key, uai.id, uai.client_id, depends_on=[crypto])
        if plan.capture:
            storage.capture_retention(ctx, account, mlw.workspace_id)
        monitoring.diagnostics(ctx, "workspace", mlw.id, logs)
        store = serving.datastore(ctx, mlw, account.name, storage.MODELS_CONTAINER)
        model = serving.model(ctx, mlw, store)
        env = serving.environment(ctx, mlw, images)
        endpoint = serving.endpoint(ctx, mlw, uai.id)
        monitoring.diagnostics(
            ctx, "endpoint", endpoint.id, logs, categories=monitoring.ENDPOINT_LOGS
        )
        deployment = serving.deployment(
            ctx, mlw, endpoint, model, env, depends_on=[reader, puller, crypto]
        )
        scaling.autoscale(ctx, endpoint, deployment)
        gateway_subnet = apim.gateway_subnet(ctx, net)
        gateway = apim.service(ctx, gateway_subnet)
        apim.private_dns(ctx, net, gateway)
        scorer = apim.grant_scoring(ctx, group_id, endpoint.id, gateway)
        screeners = apim.grant_screening(ctx, gateway, screening)
        scanner = redteam.scan_identity(ctx) if self.scans is not None else None
        apim.api(
            ctx,
            gateway,
            screening,
            depends_on=[scorer, *screeners],
            scanners=[scanner.client_id] if scanner is not None else [],
        )
        monitoring.diagnostics(ctx, "apim", gateway.id, logs)
        scans: dict[str, pulumi.Output[Any]] = {}
        if self.scans is not None and scanner is not None:
            red = redteam.red_team(
                ctx,
                self.scans,
                scanner=scanner,
                key=key,
                encryption_identity=uai.id,
                registry=images,
                net=net,
                logs=logs,
                args=self.args,
                after=[crypto],
                subnet_after=gateway_subnet,
            )
            scans = {
                "red_team_jobs": pulumi.Output.from_input(red.job_names),
                "red_team_reports_url": red.reports_url,
            }
        group = monitoring.action_group(ctx)
        monitoring.metric_alerts(
            ctx, endpoint_id=endpoint.id, deployment_id=deployment.id, group=group
        )
        budget.budget(ctx, group_id)
        return {
            "endpoint_name": endpoint.name,
            "scoring_uri": endpoint.properties.apply(lambda p: p.scoring_uri or ""),
            "deployment_name": deployment.name,
            "workspace_id": mlw.id,
            "workspace_name": mlw.name,
            "resource_group_name": pulumi.Output.from_input(ctx.resource_group),
            "identity_principal_id": uai.principal_id,
            "identity_client_id": uai.client_id,
            "registry_login_server": images.login_server,
            "key_uri": key.key_uri,
            "log_analytics_workspace_id": logs.id,
            "image_path": pulumi.Output.from_input(plan.image_path),
            "gateway_url": pulumi.Output.from_input(apim.gateway_url(ctx)),
            "gateway_name": gateway.name,
            "gateway_principal_id": apim.principal_id(gateway),
            **scans,
        }

    def outputs(self) -> dict[str, pulumi.Output[Any]]:
        return dict(self._outputs)

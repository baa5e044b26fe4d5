"""Scheduled garak scans of the Azure ML gateway: Container Apps jobs in the deployment's VNet.

Per tier (nightly, optional weekly) a Container Apps job (trigger ``Schedule``, the spec's cron
in UTC, one replica, no retries, stopped at the tier's deadline) runs the scan image's runner
around garak in an internal, VNet-integrated Container Apps environment on a subnet of its own.
garak speaks OpenAI HTTP to a proxy on 127.0.0.1 that calls API Management with an access token
of the job's own user-assigned identity for the gateway's audience
(``inferstack/redteam/gateway_proxy.py``, bearer mode), so every probe goes through the guard.
Reports go to a storage account of their own, encrypted with the deployment's key, private
(a blob private endpoint in the VNet), and deleted ``report_retention_days`` after upload. Not a
container in the workspace's account: an account has one lifecycle policy, which there already
deletes captured payloads, and an account of its own carries the report store's tag.

The job's identity holds AcrPull on the stack's registry and Storage Blob Data Contributor on
the report container, nothing else; the gateway admits it (``validate-azure-ad-token``: any
application of the tenant, or, with ``gateway_client_ids``, that list plus this identity).
``targets: [model]`` is refused: API Management's identity is the endpoint's only caller.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Final

import pulumi
from pulumi_azure_native import app, managedidentity, operationalinsights
from pulumi_azure_native import containerregistry as acr
from pulumi_azure_native import storage as azstorage

from inferstack.azureml import apim, identity, monitoring, network, storage
from inferstack.azureml.args import AzureMLArgs
from inferstack.azureml.context import Context
from inferstack.azureml.encryption import Key
from inferstack.azureml.plan import AzureMLPlan
from inferstack.deployment import DeploymentSpec
from inferstack.errors import SpecError
from inferstack.redteam import RedTeamPlan
from inferstack.redteam.garak import (
    CONFIG_DIR,
    DEADLINE_SECONDS,
    REPORT_DIR,
    GatewayProxy,
)
from inferstack.redteam.plan import Scheduled, cron_fields, proxied_plan

COMPONENT: Final = "red-team"
REPORTS: Final = "red-team-reports"
CONTAINER: Final = "red-team-reports"
PURPOSE: Final = "inferstack/purpose"
REFUSE_MODEL: Final = "on Azure ML API Management's identity is the endpoint's only caller"
# The workload profiles environment's serverless profile (Microsoft Learn, "Workload profiles
# in Azure Container Apps": the Consumption profile is named and typed "Consumption").
PROFILE: Final = "Consumption"
# Consumption allocations pair vCPU with twice as many GiB (Microsoft Learn, "Containers in
# Azure Container Apps", allocations); the same as the on-prem and Fargate scans' sizes.
CPU: Final = 2.0
MEMORY: Final = "4Gi"
# The platform stops a replica at replicaTimeout (the tier's deadline); the runner stops garak
# this much earlier, so a scan cut short still uploads what it wrote.
UPLOAD_SECONDS: Final = 600
_ACR_IMAGE: Final = re.compile(
    r"^(?P<server>[a-z0-9]{5,50}\.azurecr\.io)/(?P<repository>[a-z0-9][a-z0-9._/-]*)"
    r"(:[\w.-]+)?@sha256:[0-9a-f]{64}$"
)


def login_server(plan: AzureMLPlan) -> str:
    return f"{plan.registry_name.lower()}.azurecr.io"


def scan_plan(spec: DeploymentSpec, args: AzureMLArgs, plan: AzureMLPlan) -> RedTeamPlan | None:
    """The scans ``security.red_team`` asks for, checked for Azure ML; None without it."""
    red = spec.security.red_team
    if red is None:
        return None
    server = login_server(plan)
    match = _ACR_IMAGE.match(red.image)
    if match is None or match["server"] != server:
        raise SpecError(
            "security.red_team.image",
            f"'{red.image}' is not in this stack's registry {server}, the only one the scan "
            "job may pull from (AcrPull there alone, through its private endpoint)",
            f"import the image into {server} (az acr import) and give "
            f"{server}/<repository>@sha256:<digest>",
        )
    if args.subnet_id is not None and args.red_team_subnet_id is None:
        raise SpecError(
            "inferstack:azureml.red_team_subnet_id",
            "is required with subnet_id: the scans' Container Apps environment needs a subnet "
            "of its own in that VNet",
            "name an empty /27 (or larger) subnet delegated to Microsoft.App/environments",
        )
    # Container Apps job schedules are five-field cron expressions in UTC (Microsoft Learn,
    # "Jobs in Azure Container Apps", scheduled jobs).
    return proxied_plan(spec, refuse_model=REFUSE_MODEL, check_schedule=cron_fields)


def job_name(component: str, tier: str) -> str:
    """2-32 lowercase letters, digits and hyphens, starting with a letter."""
    return f"{component[:21].rstrip('-')}-rt-{tier}"


def environment_name(component: str) -> str:
    return f"cae-{component[:23].rstrip('-')}-rt"


def report_account_name(plan: AzureMLPlan) -> str:
    """Like the workspace's account (``st<name><token>``): 24 lowercase letters and digits."""
    token = plan.storage_name[-6:]
    return f"strt{plan.storage_name[2:-6][:14]}{token}"


def identity_name(ctx: Context) -> str:
    return f"id-{ctx.name}-red-team"


def scan_identity(ctx: Context) -> managedidentity.UserAssignedIdentity:
    """The jobs' own identity, made before the gateway's policy, which may have to name it."""
    return managedidentity.UserAssignedIdentity(
        ctx.child("id-red-team"),
        resource_name_=identity_name(ctx),
        resource_group_name=ctx.resource_group,
        location=ctx.region,
        tags=ctx.spec.merged_tags({PURPOSE: COMPONENT}),
        opts=ctx.opts(),
    )


@dataclass(frozen=True)
class Reports:
    account: azstorage.StorageAccount
    container: azstorage.BlobContainer
    url: pulumi.Output[str]
    """The container's URL, where the runner puts reports."""
    ready: list[pulumi.Resource]


def report_store(
    ctx: Context,
    scans: RedTeamPlan,
    *,
    key: Key,
    encryption_identity: pulumi.Input[str],
    net: network.Network,
    depends_on: list[pulumi.Resource],
) -> Reports:
    """A storage account of its own, set like the workspace's (the deployment's key through
    ``encryption_identity``, private, no shared keys), tagged as the report store, with one
    private container and a lifecycle policy deleting reports after the retention."""
    account = storage.account(
        ctx,
        key,
        encryption_identity,
        depends_on,
        suffix="st-red-team",
        name=report_account_name(ctx.plan),
        tags=ctx.spec.merged_tags({PURPOSE: REPORTS}),
    )
    container = azstorage.BlobContainer(
        ctx.child(CONTAINER),
        container_name=CONTAINER,
        account_name=account.name,
        resource_group_name=ctx.resource_group,
        public_access=azstorage.PublicAccess.NONE,
        opts=ctx.opts(),
    )
    expiry = storage.expire_blobs(
        ctx, "red-team-retention", account, f"{CONTAINER}/", scans.retention_days
    )
    endpoint = network.private_endpoint(ctx, net, "red-team-blob", account.id, "blob")
    url = account.name.apply(lambda name: f"https://{name}.blob.core.windows.net/{CONTAINER}")
    return Reports(
        account=account, container=container, url=url, ready=[container, expiry, endpoint]
    )


def environment(
    ctx: Context,
    subnet_id: pulumi.Input[str],
    logs: operationalinsights.Workspace,
) -> app.ManagedEnvironment:
    """An internal workload profiles environment (no public endpoint) on its own subnet; its
    console and system logs go to Log Analytics through a diagnostic setting."""
    env = app.ManagedEnvironment(
        ctx.child("cae-red-team"),
        environment_name=environment_name(ctx.name),
        resource_group_name=ctx.resource_group,
        location=ctx.region,
        vnet_configuration=app.VnetConfigurationArgs(
            infrastructure_subnet_id=subnet_id, internal=True
        ),
        workload_profiles=[app.WorkloadProfileArgs(name=PROFILE, workload_profile_type=PROFILE)],
        app_logs_configuration=app.AppLogsConfigurationArgs(destination="azure-monitor"),
        public_network_access="Disabled",
        tags=ctx.spec.merged_tags({PURPOSE: COMPONENT}),
        opts=ctx.opts(),
    )
    monitoring.diagnostics(ctx, "cae-red-team", env.id, logs)
    return env


def container(
    run: Scheduled,
    scans: RedTeamPlan,
    *,
    gateway: str,
    audience: str,
    client_id: str,
    reports_url: str,
) -> app.ContainerArgs:
    """The job's one container: the runner around garak, the proxy in bearer mode in front of
    API Management, reports to the Blob container (the only scan: targets is [gateway])."""
    (scan,) = run.scans
    command = scan.runner_command(
        scans.retention_days,
        upload_blob=reports_url,
        upload_prefix=run.tier,
        upload_client_id=client_id,
        proxy=GatewayProxy.bearer(gateway, "azure", audience, client_id=client_id),
        config_from_env=True,
        timeout_seconds=DEADLINE_SECONDS[run.tier] - UPLOAD_SECONDS,
    )
    env = scan.environment()
    return app.ContainerArgs(
        name=f"scan-{scan.target}",
        image=scans.image,
        command=command,
        env=[app.EnvironmentVarArgs(name=name, value=value) for name, value in sorted(env.items())],
        resources=app.ContainerResourcesArgs(cpu=CPU, memory=MEMORY),
        # Replica-local scratch: the runner writes garak's files, garak its reports.
        volume_mounts=[
            app.VolumeMountArgs(volume_name="config", mount_path=CONFIG_DIR),
            app.VolumeMountArgs(volume_name="reports", mount_path=REPORT_DIR),
        ],
    )


def _template(
    run: Scheduled, scans: RedTeamPlan, gateway: str, audience: str, values: list[str]
) -> app.JobTemplateArgs:
    """The job's template once the identity's client id and the container URL are known."""
    client_id, reports_url = values
    return app.JobTemplateArgs(
        containers=[
            container(
                run,
                scans,
                gateway=gateway,
                audience=audience,
                client_id=client_id,
                reports_url=reports_url,
            )
        ],
        volumes=[
            app.VolumeArgs(name="config", storage_type="EmptyDir"),
            app.VolumeArgs(name="reports", storage_type="EmptyDir"),
        ],
    )


@dataclass(frozen=True)
class RedTeam:
    environment_id: pulumi.Output[str]
    job_names: list[str]
    reports_url: pulumi.Output[str]


def red_team(
    ctx: Context,
    scans: RedTeamPlan,
    *,
    scanner: managedidentity.UserAssignedIdentity,
    key: Key,
    encryption_identity: pulumi.Input[str],
    registry: acr.Registry,
    net: network.Network,
    logs: operationalinsights.Workspace,
    args: AzureMLArgs,
    after: list[pulumi.Resource],
    subnet_after: pulumi.Input[str],
) -> RedTeam:
    """Everything the scans need but their identity (made before the gateway's policy).

    ``after``: what the report account waits for (its key grant). ``subnet_after``: the id of
    the VNet's previous subnet; a created subnet waits for it (subnets change one at a time).
    """
    plan = ctx.plan
    reports = report_store(
        ctx, scans, key=key, encryption_identity=encryption_identity, net=net, depends_on=after
    )
    grants = [
        identity.grant(
            ctx, "red-team-acr", "acr_pull", principal_id=scanner.principal_id, scope=registry.id
        ),
        identity.grant(
            ctx,
            "red-team-reports",
            "blob_contributor",
            principal_id=scanner.principal_id,
            scope=reports.container.id,
        ),
    ]
    if args.red_team_subnet_id is None:
        # Read through the previous subnet's id, so this one is created after it.
        prefix = pulumi.Output.all(subnet_after, args.red_team_prefix).apply(lambda ids: ids[1])
        subnet_id: pulumi.Input[str] = network.container_apps_subnet(ctx, net, prefix).id
    else:
        subnet_id = args.red_team_subnet_id
    env = environment(ctx, subnet_id, logs)
    gateway = apim.gateway_url(ctx)
    names = []
    for run in scans.runs:
        template = pulumi.Output.all(scanner.client_id, reports.url).apply(
            functools.partial(_template, run, scans, gateway, plan.gateway.audience)
        )
        name = job_name(ctx.name, run.tier)
        app.Job(
            ctx.child(f"{COMPONENT}-{run.tier}"),
            job_name=name,
            resource_group_name=ctx.resource_group,
            location=ctx.region,
            environment_id=env.id,
            workload_profile_name=PROFILE,
            identity=app.ManagedServiceIdentityArgs(
                type="UserAssigned", user_assigned_identities=[scanner.id]
            ),
            configuration=app.JobConfigurationArgs(
                trigger_type="Schedule",
                schedule_trigger_config=app.JobConfigurationScheduleTriggerConfigArgs(
                    cron_expression=run.schedule, parallelism=1, replica_completion_count=1
                ),
                replica_timeout=DEADLINE_SECONDS[run.tier],
                # A failed scan waits for the next run: scans are not retried.
                replica_retry_limit=0,
                registries=[
                    app.RegistryCredentialsArgs(server=login_server(plan), identity=scanner.id)
                ],
            ),
            template=template,
            tags=ctx.spec.merged_tags({PURPOSE: COMPONENT}),
            opts=ctx.opts(depends_on=[*grants, *reports.ready]),
        )
        names.append(name)
    return RedTeam(environment_id=env.id, job_names=names, reports_url=reports.url)

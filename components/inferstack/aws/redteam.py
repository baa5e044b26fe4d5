"""Scheduled garak scans of the SageMaker guard gateway: EventBridge Scheduler runs Fargate tasks.

Per tier (nightly, optional weekly) an EventBridge Scheduler schedule (UTC cron, no flexible
window, no retries) runs one Fargate task in the endpoint's private subnets (no public IP, a
security group that reaches the VPC endpoints only, see
:func:`inferstack.aws.network.task_security_groups`). The task's container runs the image's
runner around garak, as the on-prem CronJob does; garak speaks OpenAI HTTP to a proxy on
127.0.0.1 that invokes the gateway Lambda with the task role's credentials
(``inferstack/redteam/gateway_proxy.py``), so every probe goes through the guard. Reports go to
an S3 bucket of their own (SSE-KMS with the deployment key, versioned, private, TLS only,
access-logged, expired after ``report_retention_days``).

Three roles: the task execution role (pull the image from its ECR repository, write the scan's
log group), the task role (invoke the gateway, put reports under the report prefix, the
deployment key through S3) and the scheduler's role (run these task definitions in this
cluster, pass those two roles to ECS). ``targets: [model]`` is refused: the gateway's role is
the endpoint's only caller.

This module checks the plan and puts the cluster and the schedules together; the report bucket
is :mod:`inferstack.aws.redteam_storage`, the roles and their grants
:mod:`inferstack.aws.redteam_roles`, the task's containers and definitions
:mod:`inferstack.aws.redteam_task`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_aws as aws

from inferstack.aws import names, network
from inferstack.aws.context import Context
from inferstack.aws.encryption import key_alias
from inferstack.aws.gateway import function_name
from inferstack.aws.plan import Plan
from inferstack.aws.redteam_roles import (
    ScanRoles,
    role_name,
    roles,
    scheduler_grant,
    task_grants,
)
from inferstack.aws.redteam_storage import report_bucket_name, report_store
from inferstack.aws.redteam_task import (
    COMPONENT,
    cluster_name,
    container_definitions,
    family,
    log_group_name,
    task_definition,
)
from inferstack.deployment import DeploymentSpec
from inferstack.errors import SpecError
from inferstack.redteam import RedTeamPlan
from inferstack.redteam.plan import eventbridge_cron, proxied_plan, schedule_path

__all__ = [
    "REFUSE_MODEL",
    "RedTeam",
    "ScanRoles",
    "container_definitions",
    "log_group_name",
    "red_team",
    "report_bucket_name",
    "role_name",
    "roles",
    "scan_plan",
]

REFUSE_MODEL: Final = "on SageMaker the guard gateway's role is the endpoint's only caller"


def scan_plan(spec: DeploymentSpec, plan: Plan, region: str) -> RedTeamPlan | None:
    """The scans ``security.red_team`` asks for, checked for SageMaker; None without it."""
    red = spec.security.red_team
    if red is None:
        return None
    if not plan.gateway:
        raise SpecError(
            "security.red_team",
            "an async endpoint has no gateway to scan: its prompts come from S3",
            "use serving.mode: realtime, or remove security.red_team",
        )
    names.ecr_repository_arn(
        red.image,
        names.partition(region),
        field="security.red_team.image",
        puller="the scan task in the endpoint's private subnets",
    )
    image_region = names.ecr_image_region(red.image)
    if image_region != region:
        raise SpecError(
            "security.red_team.image",
            f"the image is in {image_region}, but the scan task pulls through this region's "
            "ECR endpoints",
            f"replicate the repository to {region} and use that URI",
        )
    return proxied_plan(spec, refuse_model=REFUSE_MODEL, check_schedule=eventbridge_cron)


@dataclass(frozen=True)
class RedTeam:
    cluster_arn: pulumi.Output[str]
    bucket_name: pulumi.Output[str]
    task_definition_arns: dict[str, pulumi.Output[str]]
    schedule_names: list[str]


def red_team(
    ctx: Context,
    scans: RedTeamPlan,
    *,
    scan_roles: ScanRoles,
    key_arn: pulumi.Output[str],
    logs: aws.cloudwatch.LogGroup,
    net: network.Network,
    log_bucket_id: pulumi.Output[str] | None,
    force_destroy: bool,
    depends_on: list[pulumi.Resource],
) -> RedTeam:
    """Everything the scans need; the roles and the log group are made before the key."""
    plan = ctx.plan
    endpoint = plan.endpoint_name
    gateway = function_name(endpoint)
    reports = report_store(
        ctx, scans, key_arn=key_arn, log_bucket_id=log_bucket_id, force_destroy=force_destroy
    )
    # A created key is named by its alias (its ARN exists only after deploy): S3's
    # SSEKMSKeyId takes a key id, key ARN or key alias (botocore s3 model, PutObject).
    key_id = key_alias(endpoint) if plan.create_key else str(plan.kms_key)
    grants = task_grants(
        ctx,
        scan_roles,
        image=scans.image,
        gateway=gateway,
        bucket_name=reports.name,
        brought_key=None if plan.create_key else plan.kms_key,
    )
    cluster = aws.ecs.Cluster(
        ctx.child(COMPONENT),
        name=cluster_name(endpoint),
        settings=[{"name": "containerInsights", "value": "enabled"}],
        region=ctx.region,
        tags=ctx.tags(**{"inferstack/purpose": COMPONENT}),
        opts=ctx.opts(),
    )
    groups = network.task_security_groups(ctx, net, COMPONENT)
    definitions: dict[str, pulumi.Output[str]] = {
        run.tier: task_definition(
            ctx,
            run,
            scans,
            bucket_name=reports.name,
            key_id=key_id,
            gateway=gateway,
            execution_role_arn=scan_roles.execution.arn,
            task_role_arn=scan_roles.task.arn,
            depends_on=[*grants, logs],
        ).arn
        for run in scans.runs
    }
    scheduling = scheduler_grant(
        ctx, scan_roles, [family(endpoint, run.tier) for run in scans.runs]
    )
    schedule_names = []
    for run in scans.runs:
        schedule_name = names.red_team_name(endpoint, run.tier)
        aws.scheduler.Schedule(
            ctx.child(f"{COMPONENT}-{run.tier}-schedule"),
            name=schedule_name,
            description=f"inferstack {ctx.name}: {run.tier} garak scan of the guard gateway",
            schedule_expression=eventbridge_cron(run.schedule, schedule_path(run.tier)),
            schedule_expression_timezone="UTC",
            flexible_time_window={"mode": "OFF"},
            state="ENABLED",
            target={
                "arn": cluster.arn,
                "role_arn": scan_roles.scheduler.arn,
                "ecs_parameters": {
                    "task_definition_arn": definitions[run.tier],
                    "launch_type": "FARGATE",
                    "platform_version": "LATEST",
                    "task_count": 1,
                    "network_configuration": {
                        "subnets": net.subnet_ids,
                        "security_groups": groups,
                        "assign_public_ip": False,
                    },
                },
                # A missed or failed start waits for the next run: scans are not retried.
                "retry_policy": {"maximum_retry_attempts": 0, "maximum_event_age_in_seconds": 3600},
            },
            region=ctx.region,
            opts=ctx.opts(depends_on=[scheduling, *reports.ready, *depends_on]),
        )
        schedule_names.append(schedule_name)
    return RedTeam(
        cluster_arn=cluster.arn,
        bucket_name=reports.name,
        task_definition_arns=definitions,
        schedule_names=schedule_names,
    )

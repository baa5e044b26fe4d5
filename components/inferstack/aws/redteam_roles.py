"""The red-team scan's roles, and what each may do.

Three roles: the task execution role (pull the image from its ECR repository, write the scan's
log group), the task role (invoke the gateway, put reports under the report prefix, the
deployment key through S3) and the scheduler's role (run these task definitions in this
cluster, pass those two roles to ECS). The roles are made before the key, whose policy names
the task role when the stack creates it; their grants follow as role policies.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from inferstack.aws import names
from inferstack.aws.context import Context
from inferstack.aws.iam import service_role
from inferstack.aws.names import Arns
from inferstack.aws.policies import (
    Document,
    scan_execution_policy,
    scan_scheduler_policy,
    scan_task_policy,
    service_trust_policy,
)
from inferstack.aws.redteam_task import COMPONENT, REPORT_PREFIX, cluster_name, log_group_name


def role_name(ctx: Context, kind: str) -> str:
    return names.role_name(ctx.plan.endpoint_name, f"red-team-{kind}", ctx.region)


@dataclass(frozen=True)
class ScanRoles:
    execution: aws.iam.Role
    task: aws.iam.Role
    scheduler: aws.iam.Role

    @property
    def key_users(self) -> list[aws.iam.Role]:
        """Roles a created key's policy names: the task's, for its SSE-KMS uploads."""
        return [self.task]


def roles(ctx: Context) -> ScanRoles:
    """The scan's roles, before the key: a created key's policy names the task role."""

    def role(kind: str, service: str, description: str) -> aws.iam.Role:
        return service_role(
            ctx,
            f"red-team-{kind}-role",
            name=role_name(ctx, kind),
            description=description,
            trust=ctx.account.apply(
                lambda account: json.dumps(service_trust_policy(service, account))
            ),
            tags=ctx.tags(**{"inferstack/purpose": COMPONENT}),
        )

    return ScanRoles(
        execution=role(
            "execution",
            "ecs-tasks.amazonaws.com",
            "starts the red-team scan task (image pull, logs)",
        ),
        task=role(
            "task",
            "ecs-tasks.amazonaws.com",
            "the red-team scan: invokes the gateway, stores reports",
        ),
        scheduler=role(
            "scheduler",
            "scheduler.amazonaws.com",
            "EventBridge Scheduler runs the red-team scan task",
        ),
    )


def task_grants(
    ctx: Context,
    scan_roles: ScanRoles,
    *,
    image: str,
    gateway: str,
    bucket_name: pulumi.Output[str],
    brought_key: str | None,
) -> list[aws.iam.RolePolicy]:
    """The execution role's grants (image, logs) and the task role's (gateway, reports, key)."""
    repository = names.ecr_repository_arn(image, names.partition(ctx.region))
    logs_name = log_group_name(ctx.plan.endpoint_name)

    def execution(arns: Arns) -> Document:
        return scan_execution_policy(repository, arns.log_group(logs_name))

    def task(arns: Arns, bucket: str) -> Document:
        return scan_task_policy(
            arns.function(gateway),
            arns.bucket(bucket),
            REPORT_PREFIX,
            key_arn=arns.kms_key(brought_key) if brought_key is not None else None,
            s3_service=arns.service("s3"),
        )

    return [
        aws.iam.RolePolicy(
            ctx.child("red-team-execution-policy"),
            role=scan_roles.execution.id,
            name="inferstack-red-team-execution",
            policy=ctx.policy(execution),
            opts=ctx.opts(),
        ),
        aws.iam.RolePolicy(
            ctx.child("red-team-task-policy"),
            role=scan_roles.task.id,
            name="inferstack-red-team-task",
            policy=ctx.policy(task, bucket_name),
            opts=ctx.opts(),
        ),
    ]


def scheduler_grant(
    ctx: Context, scan_roles: ScanRoles, families: Sequence[str]
) -> aws.iam.RolePolicy:
    """The scheduler's grant: run these task families in the scan's cluster as its two roles."""
    endpoint = ctx.plan.endpoint_name

    def scheduler(arns: Arns) -> Document:
        return scan_scheduler_policy(
            [arns.task_definition(name) for name in families],
            arns.ecs_cluster(cluster_name(endpoint)),
            [arns.role(role_name(ctx, "execution")), arns.role(role_name(ctx, "task"))],
        )

    return aws.iam.RolePolicy(
        ctx.child("red-team-scheduler-policy"),
        role=scan_roles.scheduler.id,
        name="inferstack-red-team-scheduler",
        policy=ctx.policy(scheduler),
        opts=ctx.opts(),
    )

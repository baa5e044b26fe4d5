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
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any, Final

import pulumi
import pulumi_aws as aws

from inferstack.aws import names, network, storage
from inferstack.aws.context import Context
from inferstack.aws.encryption import key_alias
from inferstack.aws.gateway import function_name
from inferstack.aws.names import Arns
from inferstack.aws.plan import Plan
from inferstack.aws.policies import (
    Document,
    artifact_bucket_policy,
    scan_execution_policy,
    scan_scheduler_policy,
    scan_task_policy,
    service_trust_policy,
)
from inferstack.deployment import DeploymentSpec
from inferstack.errors import SpecError
from inferstack.redteam import RedTeamPlan, red_team_plan
from inferstack.redteam.garak import (
    CONFIG_DIR,
    DEADLINE_SECONDS,
    REPORT_DIR,
    GatewayProxy,
    proxy_uri,
)
from inferstack.redteam.plan import Scheduled, eventbridge_cron

COMPONENT: Final = "red-team"
REPORTS: Final = "red-team-reports"
REPORT_PREFIX: Final = "reports/"
REFUSE_MODEL: Final = "on SageMaker the guard gateway's role is the endpoint's only caller"
# Fargate sizes come in fixed pairs: 2 vCPU takes 4-16 GiB (AWS: "Amazon ECS task definition
# parameters for Fargate", task CPU and memory). The same as the on-prem scan's limits.
TASK_CPU: Final = "2048"
TASK_MEMORY: Final = "4096"
# The image's garak user (docker/garak/Dockerfile).
USER: Final = "1000:1000"
# The stream prefix of the awslogs driver: streams are scan/<container>/<task id>.
LOG_STREAM_PREFIX: Final = "scan"


def cluster_name(endpoint_name: str) -> str:
    return names.red_team_name(endpoint_name)


def family(endpoint_name: str, tier: str) -> str:
    return names.red_team_name(endpoint_name, tier)


def log_group_name(endpoint_name: str) -> str:
    return f"/ecs/{cluster_name(endpoint_name)}"


def role_name(ctx: Context, kind: str) -> str:
    return names.role_name(ctx.plan.endpoint_name, f"red-team-{kind}", ctx.region)


def _path(tier: str) -> str:
    return "security.red_team." + ("schedule" if tier == "nightly" else "weekly_schedule")


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
    scans = red_team_plan(
        spec,
        gateway_uri=proxy_uri(),
        model_uri=None,
        model_name=spec.model.id,
        refuse_model=REFUSE_MODEL,
    )
    assert scans is not None
    for run in scans.runs:
        eventbridge_cron(run.schedule, _path(run.tier))
    return scans


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
        return aws.iam.Role(
            ctx.child(f"red-team-{kind}-role"),
            name=role_name(ctx, kind),
            description=f"inferstack {ctx.name}: {description}",
            assume_role_policy=ctx.account.apply(
                lambda account: json.dumps(service_trust_policy(service, account))
            ),
            max_session_duration=3600,
            tags=ctx.tags(**{"inferstack/purpose": COMPONENT}),
            opts=ctx.opts(),
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


def report_bucket_name(ctx: Context) -> pulumi.Output[str]:
    return ctx.account.apply(
        lambda account: names.bucket_name(ctx.name, REPORTS, account, ctx.region)
    )


def report_store(
    ctx: Context,
    scans: RedTeamPlan,
    *,
    key_arn: pulumi.Output[str],
    log_bucket_id: pulumi.Output[str] | None,
    force_destroy: bool,
) -> storage.Storage:
    """The report bucket: hardened like the artifact bucket, expiring reports after retention.

    A report expires ``report_retention_days`` after its upload; the noncurrent version the
    expiration leaves behind (the bucket is versioned) is deleted a day later.
    """
    name = report_bucket_name(ctx)
    bucket = storage.make_bucket(ctx, REPORTS, name, force_destroy)
    ready = storage.harden(ctx, REPORTS, bucket, kms_key_arn=key_arn)

    def policy(arns: Arns, bucket_name: str) -> Document:
        return artifact_bucket_policy(arns.bucket(bucket_name))

    ready.append(
        aws.s3.BucketPolicy(
            ctx.child(f"{REPORTS}-policy"),
            bucket=bucket.id,
            policy=ctx.policy(policy, name),
            region=ctx.region,
            opts=ctx.opts(depends_on=list(ready)),
        )
    )
    if log_bucket_id is not None:
        ready.append(
            aws.s3.BucketLogging(
                ctx.child(f"{REPORTS}-logging"),
                bucket=bucket.id,
                target_bucket=log_bucket_id,
                target_prefix=name.apply(lambda value: f"{value}/"),
                region=ctx.region,
                opts=ctx.opts(),
            )
        )
    ready.append(
        aws.s3.BucketLifecycleConfiguration(
            ctx.child(f"{REPORTS}-lifecycle"),
            bucket=bucket.id,
            rules=[
                {
                    "id": "expire-reports",
                    "status": "Enabled",
                    "filter": {"prefix": ""},
                    "expiration": {"days": scans.retention_days},
                    "noncurrent_version_expiration": {"noncurrent_days": 1},
                    "abort_incomplete_multipart_upload": {
                        "days_after_initiation": storage.MULTIPART_DAYS
                    },
                }
            ],
            region=ctx.region,
            # Lifecycle rules on noncurrent versions need versioning first.
            opts=ctx.opts(depends_on=ready[:1]),
        )
    )
    return storage.Storage(name=bucket.bucket, arn=bucket.arn, ready=ready)


def container_definitions(
    run: Scheduled,
    scans: RedTeamPlan,
    *,
    region: str,
    bucket: str,
    key_id: str,
    gateway: str,
    log_group: str,
) -> list[dict[str, Any]]:
    """One container per scan of the tier, run one after the other (ECS ``dependsOn``).

    Shapes from ECS's ``ContainerDefinition`` (botocore ``ecs`` service model): a container
    another waits on with ``COMPLETE`` must not be essential; the last one is.
    """
    containers: list[dict[str, Any]] = []
    for index, scan in enumerate(run.scans):
        last = index == len(run.scans) - 1
        container: dict[str, Any] = {
            "name": f"scan-{scan.target}",
            "image": scans.image,
            "essential": last,
            "command": scan.runner_command(
                scans.retention_days,
                upload_bucket=bucket,
                upload_prefix=f"{REPORT_PREFIX}{run.tier}",
                kms_key_id=key_id,
                proxy=GatewayProxy.to_lambda(gateway),
                config_from_env=True,
                timeout_seconds=DEADLINE_SECONDS[run.tier],
            ),
            "environment": [
                {"name": name, "value": value}
                for name, value in sorted(
                    {
                        **scan.environment(),
                        "AWS_REGION": region,
                        "AWS_DEFAULT_REGION": region,
                    }.items()
                )
            ],
            "user": USER,
            "privileged": False,
            "readonlyRootFilesystem": True,
            "linuxParameters": {"capabilities": {"drop": ["ALL"]}, "initProcessEnabled": True},
            # Task-local scratch (Fargate ephemeral storage): the runner writes garak's files
            # to the config directory, garak its reports, then the runner uploads them.
            "mountPoints": [
                {"sourceVolume": "config", "containerPath": CONFIG_DIR, "readOnly": False},
                {"sourceVolume": "reports", "containerPath": REPORT_DIR, "readOnly": False},
                {"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False},
            ],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": log_group,
                    "awslogs-region": region,
                    "awslogs-stream-prefix": LOG_STREAM_PREFIX,
                },
            },
        }
        if index:
            container["dependsOn"] = [
                {"containerName": containers[-1]["name"], "condition": "COMPLETE"}
            ]
        containers.append(container)
    return containers


def _definitions_json(
    run: Scheduled,
    scans: RedTeamPlan,
    bucket: str,
    *,
    region: str,
    key_id: str,
    gateway: str,
    log_group: str,
) -> str:
    return json.dumps(
        container_definitions(
            run,
            scans,
            region=region,
            bucket=bucket,
            key_id=key_id,
            gateway=gateway,
            log_group=log_group,
        )
    )


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
    brought_key = None if plan.create_key else plan.kms_key
    repository = names.ecr_repository_arn(scans.image, names.partition(ctx.region))
    logs_name = log_group_name(endpoint)
    families = {run.tier: family(endpoint, run.tier) for run in scans.runs}

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

    def scheduler(arns: Arns) -> Document:
        return scan_scheduler_policy(
            [arns.task_definition(name) for name in families.values()],
            arns.ecs_cluster(cluster_name(endpoint)),
            [arns.role(role_name(ctx, "execution")), arns.role(role_name(ctx, "task"))],
        )

    grants = [
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
            policy=ctx.policy(task, reports.name),
            opts=ctx.opts(),
        ),
    ]
    cluster = aws.ecs.Cluster(
        ctx.child(COMPONENT),
        name=cluster_name(endpoint),
        settings=[{"name": "containerInsights", "value": "enabled"}],
        region=ctx.region,
        tags=ctx.tags(**{"inferstack/purpose": COMPONENT}),
        opts=ctx.opts(),
    )
    groups = network.task_security_groups(ctx, net, COMPONENT)
    definitions: dict[str, pulumi.Output[str]] = {}
    for run in scans.runs:
        containers = reports.name.apply(
            functools.partial(
                _definitions_json,
                run,
                scans,
                region=ctx.region,
                key_id=key_id,
                gateway=gateway,
                log_group=logs_name,
            )
        )
        definition = aws.ecs.TaskDefinition(
            ctx.child(f"{COMPONENT}-{run.tier}"),
            family=families[run.tier],
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=TASK_CPU,
            memory=TASK_MEMORY,
            runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": "X86_64"},
            execution_role_arn=scan_roles.execution.arn,
            task_role_arn=scan_roles.task.arn,
            container_definitions=containers,
            volumes=[{"name": "config"}, {"name": "reports"}, {"name": "tmp"}],
            region=ctx.region,
            tags=ctx.tags(**{"inferstack/purpose": COMPONENT}),
            opts=ctx.opts(depends_on=[*grants, logs]),
        )
        definitions[run.tier] = definition.arn
    scheduling = aws.iam.RolePolicy(
        ctx.child("red-team-scheduler-policy"),
        role=scan_roles.scheduler.id,
        name="inferstack-red-team-scheduler",
        policy=ctx.policy(scheduler),
        opts=ctx.opts(),
    )
    schedule_names = []
    for run in scans.runs:
        schedule_name = names.red_team_name(endpoint, run.tier)
        aws.scheduler.Schedule(
            ctx.child(f"{COMPONENT}-{run.tier}-schedule"),
            name=schedule_name,
            description=f"inferstack {ctx.name}: {run.tier} garak scan of the guard gateway",
            schedule_expression=eventbridge_cron(run.schedule, _path(run.tier)),
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

"""The red-team scan's Fargate task: its names, its containers and one task definition per tier.

Each tier's task runs one container per scan, one after the other, as the image's garak user
with a read-only root file system and task-local scratch for garak's files and reports; the
runner in each container uploads the reports under the report prefix of the report bucket.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Final

import pulumi
import pulumi_aws as aws

from inferstack.aws import names
from inferstack.aws.context import Context
from inferstack.redteam import RedTeamPlan
from inferstack.redteam.garak import CONFIG_DIR, DEADLINE_SECONDS, REPORT_DIR, GatewayProxy
from inferstack.redteam.plan import Scheduled

# The scan's resources: their purpose tag, and the prefix of their Pulumi names.
COMPONENT: Final = "red-team"
REPORT_PREFIX: Final = "reports/"
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


def task_definition(
    ctx: Context,
    run: Scheduled,
    scans: RedTeamPlan,
    *,
    bucket_name: pulumi.Output[str],
    key_id: str,
    gateway: str,
    execution_role_arn: pulumi.Output[str],
    task_role_arn: pulumi.Output[str],
    depends_on: list[pulumi.Resource],
) -> aws.ecs.TaskDefinition:
    """The tier's Fargate task definition: its scans' containers, uploading to ``bucket_name``."""
    endpoint = ctx.plan.endpoint_name
    containers = bucket_name.apply(
        functools.partial(
            _definitions_json,
            run,
            scans,
            region=ctx.region,
            key_id=key_id,
            gateway=gateway,
            log_group=log_group_name(endpoint),
        )
    )
    return aws.ecs.TaskDefinition(
        ctx.child(f"{COMPONENT}-{run.tier}"),
        family=family(endpoint, run.tier),
        requires_compatibilities=["FARGATE"],
        network_mode="awsvpc",
        cpu=TASK_CPU,
        memory=TASK_MEMORY,
        runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": "X86_64"},
        execution_role_arn=execution_role_arn,
        task_role_arn=task_role_arn,
        container_definitions=containers,
        volumes=[{"name": "config"}, {"name": "reports"}, {"name": "tmp"}],
        region=ctx.region,
        tags=ctx.tags(**{"inferstack/purpose": COMPONENT}),
        opts=ctx.opts(depends_on=depends_on),
    )

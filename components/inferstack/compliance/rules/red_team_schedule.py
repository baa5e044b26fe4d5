"""Scheduled red-team scans: a prod stack on a target that can scan has a scan scheduled.

What counts as a scheduled scan, per target (each marked with the reserved purpose
``red-team``): on Kubernetes a CronJob; on SageMaker an ECS task definition that an enabled
EventBridge Scheduler schedule runs; on Vertex AI a Cloud Run job whose ``:run`` an enabled
Cloud Scheduler job calls; on Azure ML a Container Apps job with the Schedule trigger. The
stack's environment is read from the ``inferstack/environment`` label or tag of what serves
the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from inferstack.compliance.model import (
    Enforcement,
    Report,
    Rule,
    RuleConfig,
    Scope,
    Severity,
    StackResource,
)
from inferstack.compliance.props import UNKNOWN, get
from inferstack.compliance.rules._common import OWASP_INJECTION, strings_setting
from inferstack.compliance.rules._k8s import CRONJOB, DEPLOYMENT
from inferstack.compliance.rules._red_team import GCP_PURPOSE, PURPOSE, SCAN
from inferstack.compliance.rules._stack import depends_via, known_strings, of_type

ENVIRONMENT: Final = "inferstack/environment"
GCP_ENVIRONMENT: Final = "inferstack_environment"
SAGEMAKER_ENDPOINT: Final = "aws:sagemaker/endpoint:Endpoint"
TASK_DEFINITION: Final = "aws:ecs/taskDefinition:TaskDefinition"
SCHEDULE: Final = "aws:scheduler/schedule:Schedule"
VERTEX_ENDPOINT: Final = "gcp:vertex/aiEndpoint:AiEndpoint"
RUN_JOB: Final = "gcp:cloudrunv2/job:Job"
SCHEDULER_JOB: Final = "gcp:cloudscheduler/job:Job"
AZURE_ENDPOINT: Final = "azure-native:machinelearningservices:OnlineEndpoint"
AZURE_JOB: Final = "azure-native:app:Job"


def _tagged(resource: StackResource) -> bool:
    """AWS and Azure resources carry tags; Kubernetes objects labels."""
    return resource.resource_type.startswith(("aws:", "azure-native:"))


def _environment(resource: StackResource) -> object:
    if resource.resource_type.startswith("gcp:"):
        return get(resource.props, "labels", GCP_ENVIRONMENT)
    root = "tags" if _tagged(resource) else "metadata"
    path = (root, ENVIRONMENT) if root == "tags" else (root, "labels", ENVIRONMENT)
    return get(resource.props, *path)


def _purpose(resource: StackResource) -> object:
    if _tagged(resource):
        return get(resource.props, "tags", PURPOSE)
    return get(resource.props, "metadata", "labels", PURPOSE)


def _scheduled(resources: Sequence[StackResource], task: StackResource) -> bool:
    """Whether an enabled schedule runs the task definition (by reference or by ARN)."""
    arns = known_strings(get(task.props, "arn"), get(task.props, "arnWithoutRevision"))
    for schedule in of_type(resources, SCHEDULE):
        if get(schedule.props, "state") == "DISABLED":
            continue
        if depends_via(schedule, "target", task):
            return True
        named = get(schedule.props, "target", "ecsParameters", "taskDefinitionArn")
        if isinstance(named, str) and any(
            named == arn or named.startswith(f"{arn}:") for arn in arns
        ):
            return True
    return False


def _gcp_scheduled(resources: Sequence[StackResource], job: StackResource) -> bool:
    """Whether an enabled Cloud Scheduler job calls the Cloud Run job's ``:run`` (by reference
    or by its Admin API URL)."""
    name = get(job.props, "name")
    location = get(job.props, "location")
    for schedule in of_type(resources, SCHEDULER_JOB):
        if get(schedule.props, "paused") is True:
            continue
        if depends_via(schedule, "httpTarget", job):
            return True
        uri = get(schedule.props, "httpTarget", "uri")
        if not (isinstance(uri, str) and isinstance(name, str) and name):
            continue
        short = name.rsplit("/", 1)[-1]
        where = f"/locations/{location}" if isinstance(location, str) and location else ""
        if uri.endswith(f"{where}/jobs/{short}:run"):
            return True
    return False


def _gcp_scans(resources: Sequence[StackResource]) -> list[StackResource]:
    return [
        job
        for job in of_type(resources, RUN_JOB)
        if get(job.props, "labels", GCP_PURPOSE) == SCAN and _gcp_scheduled(resources, job)
    ]


def _check_schedule(resources: Sequence[StackResource], report: Report, cfg: RuleConfig) -> None:
    environments = set(cfg.strings("environments"))
    serving = [
        r
        for r in of_type(resources, DEPLOYMENT, SAGEMAKER_ENDPOINT, VERTEX_ENDPOINT, AZURE_ENDPOINT)
        # An unknown environment counts as one that needs scans: advisory either way.
        if (env := _environment(r)) is UNKNOWN or env in environments
    ]
    if not serving:
        return
    scans = [r for r in of_type(resources, CRONJOB) if _purpose(r) == SCAN] + [
        r
        for r in of_type(resources, TASK_DEFINITION)
        if _purpose(r) == SCAN and _scheduled(resources, r)
    ]
    scans += _gcp_scans(resources)
    scans += [
        r
        for r in of_type(resources, AZURE_JOB)
        if _purpose(r) == SCAN
        and get(r.props, "configuration", "triggerType") == "Schedule"
        and isinstance(
            get(r.props, "configuration", "scheduleTriggerConfig", "cronExpression"), str
        )
    ]
    if scans:
        return
    # The same resource in preview and update: the engine's resource order is not fixed.
    first = min(serving, key=lambda r: r.urn)
    report(
        f"'{first.name}' serves a model in a {', '.join(sorted(environments))} stack with no "
        "scheduled red-team scan; set security.red_team",
        first.urn,
    )


RULES: Final = (
    Rule(
        name="all-redteam-schedule-require-prod-scan",
        description="A prod stack on a target with scheduled scans (onprem, sagemaker, "
        "vertex, azureml) runs garak against its gateway on a schedule.",
        severity=Severity.MEDIUM,
        resource_types=(
            DEPLOYMENT,
            SAGEMAKER_ENDPOINT,
            CRONJOB,
            TASK_DEFINITION,
            SCHEDULE,
            VERTEX_ENDPOINT,
            RUN_JOB,
            SCHEDULER_JOB,
            AZURE_ENDPOINT,
            AZURE_JOB,
        ),
        controls=(OWASP_INJECTION,),
        frameworks=frozenset({"baseline"}),
        remediation="Add security.red_team with the garak image by digest (docs/red-team.md).",
        check=_check_schedule,
        scope=Scope.STACK,
        enforcement=Enforcement.ADVISORY,
        settings=(
            strings_setting(
                "environments",
                "Environments (inferstack/environment label or tag) whose stacks should scan.",
                ("prod",),
            ),
        ),
        reads=(
            f"metadata.labels.{PURPOSE}",
            f"tags.{PURPOSE}",
            f"labels.{GCP_PURPOSE}",
        ),
        references=(
            f"metadata.labels.{ENVIRONMENT}",
            f"tags.{ENVIRONMENT}",
            f"labels.{GCP_ENVIRONMENT}",
            "state",
            "target",
            "target.ecsParameters.taskDefinitionArn",
            "arn",
            "arnWithoutRevision",
            "name",
            "location",
            "paused",
            "httpTarget",
            "httpTarget.uri",
            "configuration.triggerType",
            "configuration.scheduleTriggerConfig.cronExpression",
        ),
    ),
)

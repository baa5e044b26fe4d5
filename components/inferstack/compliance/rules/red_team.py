"""Scheduled red-team scans: their reports are stored encrypted and kept no longer than set,
and a prod stack on a target that can scan has a scan scheduled.

garak reports quote every prompt sent and every answer received, the leaks included: they are
as sensitive as the traffic they test. The components mark what they create with the reserved
``inferstack/purpose`` label or tag (``red-team``, ``red-team-reports``): on Kubernetes the
report volume, on SageMaker the report bucket (its encryption and lifecycle are companion
resources, so that rule is a stack rule). A SageMaker scan counts as scheduled when an enabled
EventBridge Scheduler schedule runs its task definition.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from inferstack.compliance.model import (
    Enforcement,
    Report,
    Resource,
    Rule,
    RuleConfig,
    Scope,
    Severity,
    StackResource,
)
from inferstack.compliance.props import MISSING, UNKNOWN, as_number, elements, get
from inferstack.compliance.rules._common import (
    GDPR_SECURITY,
    GDPR_STORAGE_LIMITATION,
    OWASP_DISCLOSURE,
    OWASP_INJECTION,
    strings_setting,
    unverifiable,
)
from inferstack.compliance.rules._k8s import CRONJOB, DEPLOYMENT
from inferstack.compliance.rules._s3 import (
    BUCKET_TYPES,
    ENCRYPTION_TYPES,
    LIFECYCLE_TYPES,
    companions_of,
)
from inferstack.compliance.rules._stack import depends_via, known_strings, of_type
from inferstack.compliance.rules.aws_s3 import bucket_encryption

PURPOSE: Final = "inferstack/purpose"
ENVIRONMENT: Final = "inferstack/environment"
RETENTION: Final = "inferstack.io/retention-days"
PVC: Final = "kubernetes:core/v1:PersistentVolumeClaim"
SAGEMAKER_ENDPOINT: Final = "aws:sagemaker/endpoint:Endpoint"
TASK_DEFINITION: Final = "aws:ecs/taskDefinition:TaskDefinition"
SCHEDULE: Final = "aws:scheduler/schedule:Schedule"
REPORTS: Final = "red-team-reports"


def _check_report_volume(res: Resource, report: Report, cfg: RuleConfig) -> None:
    purpose = get(res.props, "metadata", "labels", PURPOSE)
    if purpose is UNKNOWN:
        report(unverifiable(f"metadata.labels.{PURPOSE}", "the volume's purpose is unknown"))
        return
    if purpose != REPORTS:
        return
    storage_class = get(res.props, "spec", "storageClassName")
    if storage_class is UNKNOWN:
        report(unverifiable("spec.storageClassName"))
    elif not isinstance(storage_class, str) or not storage_class:
        report(
            f"red-team report volume '{res.name}' names no storage class: the cluster default "
            "is not known to encrypt at rest"
        )
    days = get(res.props, "metadata", "annotations", RETENTION)
    if days is UNKNOWN:
        report(unverifiable(f"metadata.annotations.{RETENTION}"))
    elif not (isinstance(days, str) and days.isdigit() and int(days) > 0):
        report(f"red-team report volume '{res.name}' declares no retention ({RETENTION})")


def _environment(resource: StackResource) -> object:
    root = "tags" if resource.resource_type.startswith("aws:") else "metadata"
    path = (root, ENVIRONMENT) if root == "tags" else (root, "labels", ENVIRONMENT)
    return get(resource.props, *path)


def _purpose(resource: StackResource) -> object:
    if resource.resource_type.startswith("aws:"):
        return get(resource.props, "tags", PURPOSE)
    return get(resource.props, "metadata", "labels", PURPOSE)


def _expiry_verdict(rule: object, where: str) -> tuple[str | None, bool, bool]:
    """(unknown field, expires every object, expires noncurrent versions) of a lifecycle rule."""
    status = get(rule, "status")
    prefix = get(rule, "filter", "prefix")
    days = get(rule, "expiration", "days")
    noncurrent = get(rule, "noncurrentVersionExpiration", "noncurrentDays")
    for field, value in (("status", status), ("filter.prefix", prefix), ("expiration.days", days)):
        if value is UNKNOWN:
            return f"{where}.{field}", False, False
    if status != "Enabled" or prefix not in (MISSING, None, ""):
        return None, False, False
    if get(rule, "filter", "and") not in (MISSING, None) or get(rule, "filter", "tag") not in (
        MISSING,
        None,
    ):
        return None, False, False
    # An unknown noncurrent expiry counts as none: the versions would then be kept.
    return None, (as_number(days) or 0) > 0, (as_number(noncurrent) or 0) > 0


def _report_expiry(resources: Sequence[StackResource], bucket: StackResource) -> str | None:
    expires = noncurrent = False
    for config in companions_of(resources, bucket, LIFECYCLE_TYPES):
        if get(config.props, "rules") is UNKNOWN:
            return unverifiable("rules")
        for index, rule in enumerate(elements(config.props, "rules")):
            unknown, every, versions = _expiry_verdict(rule, f"rules[{index}]")
            if unknown is not None:
                return unverifiable(unknown)
            expires, noncurrent = expires or every, noncurrent or versions
    if not expires:
        return (
            f"red-team report bucket '{bucket.name}' has no enabled lifecycle rule expiring "
            "every report (expiration.days)"
        )
    if not noncurrent:
        return (
            f"red-team report bucket '{bucket.name}' keeps expired reports as noncurrent "
            "versions forever (no noncurrentVersionExpiration)"
        )
    return None


def _check_report_bucket(
    resources: Sequence[StackResource], report: Report, cfg: RuleConfig
) -> None:
    for bucket in of_type(resources, *BUCKET_TYPES):
        purpose = get(bucket.props, "tags", PURPOSE)
        if purpose is UNKNOWN:
            report(unverifiable(f"tags.{PURPOSE}", "the bucket's purpose is unknown"), bucket.urn)
            continue
        if purpose != REPORTS:
            continue
        for problem in (bucket_encryption(resources, bucket), _report_expiry(resources, bucket)):
            if problem:
                report(problem, bucket.urn)


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


def _check_schedule(resources: Sequence[StackResource], report: Report, cfg: RuleConfig) -> None:
    environments = set(cfg.strings("environments"))
    serving = [
        r
        for r in of_type(resources, DEPLOYMENT, SAGEMAKER_ENDPOINT)
        # An unknown environment counts as one that needs scans: advisory either way.
        if (env := _environment(r)) is UNKNOWN or env in environments
    ]
    if not serving:
        return
    scans = [r for r in of_type(resources, CRONJOB) if _purpose(r) == "red-team"] + [
        r
        for r in of_type(resources, TASK_DEFINITION)
        if _purpose(r) == "red-team" and _scheduled(resources, r)
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
        name="kubernetes-redteam-volume-require-encrypted-retention",
        description="Red-team report volumes name a storage class (which must encrypt at "
        "rest) and declare how long reports are kept.",
        severity=Severity.HIGH,
        resource_types=(PVC,),
        controls=(OWASP_DISCLOSURE, GDPR_SECURITY, GDPR_STORAGE_LIMITATION),
        frameworks=frozenset({"owasp-llm", "gdpr"}),
        remediation="Set inferstack:kubernetes.red_team.storage_class_name to a class that "
        "encrypts at rest, and keep security.red_team.report_retention_days.",
        check=_check_report_volume,
        reads=(
            f"metadata.labels.{PURPOSE}",
            "spec.storageClassName",
            f"metadata.annotations.{RETENTION}",
        ),
    ),
    Rule(
        name="aws-redteam-reports-require-kms-expiration",
        description="Red-team report buckets are encrypted with SSE-KMS under a customer-managed "
        "key and expire every report, and its noncurrent versions, with a lifecycle rule.",
        severity=Severity.HIGH,
        resource_types=(*BUCKET_TYPES, *ENCRYPTION_TYPES, *LIFECYCLE_TYPES),
        controls=(OWASP_DISCLOSURE, GDPR_SECURITY, GDPR_STORAGE_LIMITATION),
        frameworks=frozenset({"owasp-llm", "gdpr"}),
        remediation="Keep security.red_team.report_retention_days; on the resources: a "
        "BucketServerSideEncryptionConfiguration with sseAlgorithm aws:kms and kmsMasterKeyId, "
        "and a BucketLifecycleConfiguration rule (status Enabled, no filter) with "
        "expiration.days and noncurrentVersionExpiration.noncurrentDays.",
        check=_check_report_bucket,
        scope=Scope.STACK,
        reads=(
            f"tags.{PURPOSE}",
            "rules",
            "rules[*]",
            "rules[*].applyServerSideEncryptionByDefault.sseAlgorithm",
            "serverSideEncryptionConfiguration.rule.applyServerSideEncryptionByDefault"
            ".sseAlgorithm",
            "rules[*].status",
            "rules[*].filter.prefix",
            "rules[*].expiration.days",
        ),
        references=(
            "bucket",
            "id",
            "rules[*].applyServerSideEncryptionByDefault.kmsMasterKeyId",
            "serverSideEncryptionConfiguration.rule.applyServerSideEncryptionByDefault"
            ".kmsMasterKeyId",
            "rules[*].filter.and",
            "rules[*].filter.tag",
            "rules[*].noncurrentVersionExpiration.noncurrentDays",
        ),
    ),
    Rule(
        name="all-redteam-schedule-require-prod-scan",
        description="A prod stack on a target with scheduled scans (onprem, sagemaker) runs "
        "garak against its gateway on a schedule.",
        severity=Severity.MEDIUM,
        resource_types=(DEPLOYMENT, SAGEMAKER_ENDPOINT, CRONJOB, TASK_DEFINITION, SCHEDULE),
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
        ),
        references=(
            f"metadata.labels.{ENVIRONMENT}",
            f"tags.{ENVIRONMENT}",
            "state",
            "target",
            "target.ecsParameters.taskDefinitionArn",
            "arn",
            "arnWithoutRevision",
        ),
    ),
)

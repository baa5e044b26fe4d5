"""Scheduled red-team scans: their reports are stored encrypted and kept no longer than set,
and a prod stack on a target that can scan has a scan scheduled.

garak reports quote every prompt sent and every answer received, the leaks included: they are
as sensitive as the traffic they test. The components mark what they create with the reserved
``inferstack/purpose`` label or tag (``red-team``, ``red-team-reports``): on Kubernetes the
report volume, on SageMaker the report bucket (its encryption and lifecycle are companion
resources, so that rule is a stack rule), on Vertex AI the Cloud Storage report bucket (label
``inferstack_purpose``; its encryption and lifecycle are its own settings), on Azure ML the
report storage account (its lifecycle policy is a companion resource). A SageMaker scan counts
as scheduled when an enabled EventBridge Scheduler schedule runs its task definition; a Vertex
AI scan when an enabled Cloud Scheduler job runs its Cloud Run job; an Azure ML scan when a
Container Apps job of the stack has the Schedule trigger.
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
    require_present,
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
from inferstack.compliance.rules._stack import companions, depends_via, known_strings, of_type
from inferstack.compliance.rules.aws_s3 import bucket_encryption

PURPOSE: Final = "inferstack/purpose"
ENVIRONMENT: Final = "inferstack/environment"
RETENTION: Final = "inferstack.io/retention-days"
PVC: Final = "kubernetes:core/v1:PersistentVolumeClaim"
SAGEMAKER_ENDPOINT: Final = "aws:sagemaker/endpoint:Endpoint"
TASK_DEFINITION: Final = "aws:ecs/taskDefinition:TaskDefinition"
SCHEDULE: Final = "aws:scheduler/schedule:Schedule"
REPORTS: Final = "red-team-reports"
# Google Cloud: labels are lower-case keys of letters, digits, '_' and '-' (inferstack/purpose
# becomes inferstack_purpose, inferstack.vertex.names.labels).
GCS_BUCKET: Final = "gcp:storage/bucket:Bucket"
GCP_PURPOSE: Final = "inferstack_purpose"
GCP_ENVIRONMENT: Final = "inferstack_environment"
VERTEX_ENDPOINT: Final = "gcp:vertex/aiEndpoint:AiEndpoint"
RUN_JOB: Final = "gcp:cloudrunv2/job:Job"
SCHEDULER_JOB: Final = "gcp:cloudscheduler/job:Job"
# Conditions that make a GCS lifecycle rule apply to some objects only.
GCS_NARROWING: Final = (
    "matchesPrefixes",
    "matchesSuffixes",
    "matchesStorageClasses",
    "createdBefore",
    "customTimeBefore",
    "daysSinceCustomTime",
    "noncurrentTimeBefore",
    "numNewerVersions",
    "sizeAboveBytes",
    "sizeBelowBytes",
)
AZURE_ENDPOINT: Final = "azure-native:machinelearningservices:OnlineEndpoint"
AZURE_JOB: Final = "azure-native:app:Job"
STORAGE_ACCOUNT: Final = "azure-native:storage:StorageAccount"
MANAGEMENT_POLICY: Final = "azure-native:storage:ManagementPolicy"
BLOB_SERVICE: Final = "azure-native:storage:BlobServiceProperties"


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
        for r in of_type(resources, DEPLOYMENT, SAGEMAKER_ENDPOINT, VERTEX_ENDPOINT, AZURE_ENDPOINT)
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
    scans += _gcp_scans(resources)
    scans += [
        r
        for r in of_type(resources, AZURE_JOB)
        if _purpose(r) == "red-team"
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


def _gcs_delete_verdict(rule: object, where: str) -> tuple[str | None, bool, bool]:
    """(unknown field, deletes every live report, deletes noncurrent versions) of a GCS
    lifecycle rule. Without ``withState`` an ``age`` condition applies to live and noncurrent
    objects alike (Cloud Storage, "Object Lifecycle Management", conditions)."""
    action = get(rule, "action", "type")
    if action is UNKNOWN:
        return f"{where}.action.type", False, False
    if action != "Delete":
        return None, False, False
    for field in ("withState", "age", "daysSinceNoncurrentTime", *GCS_NARROWING):
        if get(rule, "condition", field) is UNKNOWN:
            return f"{where}.condition.{field}", False, False
    if any(
        get(rule, "condition", field) not in (MISSING, None, "", 0, []) for field in GCS_NARROWING
    ):
        return None, False, False
    state = get(rule, "condition", "withState")
    age = (as_number(get(rule, "condition", "age")) or 0) > 0
    noncurrent = (as_number(get(rule, "condition", "daysSinceNoncurrentTime")) or 0) > 0
    live = state in (MISSING, None, "", "ANY", "LIVE")
    archived = state in (MISSING, None, "", "ANY", "ARCHIVED")
    return None, age and live, archived and (age or noncurrent)


def _check_gcs_report_bucket(res: Resource, report: Report, cfg: RuleConfig) -> None:
    purpose = get(res.props, "labels", GCP_PURPOSE)
    if purpose is UNKNOWN:
        report(unverifiable(f"labels.{GCP_PURPOSE}", "the bucket's purpose is unknown"))
        return
    if purpose != REPORTS:
        return
    require_present(
        report,
        res.props,
        ("encryption", "defaultKmsKeyName"),
        f"red-team report bucket '{res.name}' encrypts reports with a Google-managed key "
        "(encryption.defaultKmsKeyName unset)",
    )
    if get(res.props, "lifecycleRules") is UNKNOWN:
        report(unverifiable("lifecycleRules"))
        return
    expires = noncurrent = False
    for index, rule in enumerate(elements(res.props, "lifecycleRules")):
        unknown, every, versions = _gcs_delete_verdict(rule, f"lifecycleRules[{index}]")
        if unknown is not None:
            report(unverifiable(unknown))
            return
        expires, noncurrent = expires or every, noncurrent or versions
    if not expires:
        report(
            f"red-team report bucket '{res.name}' has no lifecycle rule deleting every report "
            "(action Delete, condition.age)"
        )
    elif not noncurrent and get(res.props, "versioning", "enabled") is not False:
        report(
            f"red-team report bucket '{res.name}' keeps deleted reports as noncurrent versions "
            "forever (no Delete rule with condition.daysSinceNoncurrentTime)"
        )


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
        if get(job.props, "labels", GCP_PURPOSE) == "red-team" and _gcp_scheduled(resources, job)
    ]


def _account_encryption(account: StackResource) -> str | None:
    source = get(account.props, "encryption", "keySource")
    if source is UNKNOWN:
        return unverifiable("encryption.keySource")
    key = get(account.props, "encryption", "keyVaultProperties", "keyName")
    if source != "Microsoft.Keyvault" or key in (MISSING, None, ""):
        return (
            f"red-team report account '{account.name}' is not encrypted with a customer-managed "
            "key (encryption.keySource Microsoft.Keyvault with keyVaultProperties.keyName)"
        )
    return None


def _days(action: object, *fields: str) -> float:
    return max((as_number(get(action, field)) or 0 for field in fields), default=0)


def _deletes_every_report(rule: object) -> bool | None:
    """Whether an enabled lifecycle rule deletes block blobs of whole containers after some
    days (None: a field is unknown)."""
    enabled = get(rule, "enabled")
    definition = get(rule, "definition")
    if enabled is UNKNOWN or definition is UNKNOWN:
        return None
    if enabled is False or get(rule, "type") not in ("Lifecycle", MISSING):
        return False
    types = get(definition, "filters", "blobTypes")
    prefixes = get(definition, "filters", "prefixMatch")
    if types is UNKNOWN or prefixes is UNKNOWN:
        return None
    if types not in (MISSING, None) and "blockBlob" not in elements(
        definition, "filters", "blobTypes"
    ):
        return False
    # A prefix narrower than a container leaves some reports out.
    if any(
        not isinstance(prefix, str) or "/" in prefix.rstrip("/")
        for prefix in elements(definition, "filters", "prefixMatch")
    ):
        return False
    delete = get(definition, "actions", "baseBlob", "delete")
    return _days(delete, "daysAfterModificationGreaterThan", "daysAfterCreationGreaterThan") > 0


def _deletes_versions(rule: object) -> bool:
    delete = get(rule, "definition", "actions", "version", "delete")
    return _days(delete, "daysAfterCreationGreaterThan") > 0


def _account_expiry(resources: Sequence[StackResource], account: StackResource) -> str | None:
    names = known_strings(get(account.props, "accountName"), get(account.props, "name"))
    versioned = any(
        get(service.props, "isVersioningEnabled") is True
        for service in companions(resources, account, (BLOB_SERVICE,), "accountName", names)
    )
    deletes = versions = False
    for policy in companions(resources, account, (MANAGEMENT_POLICY,), "accountName", names):
        rules = get(policy.props, "policy", "rules")
        if rules is UNKNOWN:
            return unverifiable("policy.rules")
        for index, rule in enumerate(elements(policy.props, "policy", "rules")):
            verdict = _deletes_every_report(rule)
            if verdict is None:
                return unverifiable(f"policy.rules[{index}].definition")
            deletes = deletes or verdict
            versions = versions or (verdict and _deletes_versions(rule))
    if not deletes:
        return (
            f"red-team report account '{account.name}' has no enabled lifecycle rule deleting "
            "every report (baseBlob.delete after some days)"
        )
    if versioned and not versions:
        return (
            f"red-team report account '{account.name}' keeps blob versions of deleted reports "
            "forever (no version.delete in the lifecycle rule)"
        )
    return None


def _check_report_account(
    resources: Sequence[StackResource], report: Report, cfg: RuleConfig
) -> None:
    for account in of_type(resources, STORAGE_ACCOUNT):
        purpose = get(account.props, "tags", PURPOSE)
        if purpose is UNKNOWN:
            report(unverifiable(f"tags.{PURPOSE}", "the account's purpose is unknown"), account.urn)
            continue
        if purpose != REPORTS:
            continue
        for problem in (_account_encryption(account), _account_expiry(resources, account)):
            if problem:
                report(problem, account.urn)


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
        name="azure-redteam-reports-require-cmk-expiration",
        description="Red-team report storage accounts are encrypted with a customer-managed key "
        "and delete every report (and its versions, with versioning on) with a lifecycle rule.",
        severity=Severity.HIGH,
        resource_types=(STORAGE_ACCOUNT, MANAGEMENT_POLICY, BLOB_SERVICE),
        controls=(OWASP_DISCLOSURE, GDPR_SECURITY, GDPR_STORAGE_LIMITATION),
        frameworks=frozenset({"owasp-llm", "gdpr"}),
        remediation="Keep security.red_team.report_retention_days; on the resources: "
        "encryption.keySource Microsoft.Keyvault with keyVaultProperties.keyName on the account, "
        "and a ManagementPolicy rule (enabled, block blobs, whole containers) with "
        "actions.baseBlob.delete.daysAfterModificationGreaterThan (and actions.version.delete "
        "when versioning is on).",
        check=_check_report_account,
        scope=Scope.STACK,
        reads=(
            f"tags.{PURPOSE}",
            "encryption.keySource",
            "policy.rules",
            "policy.rules[*].enabled",
            "policy.rules[*].definition",
            "policy.rules[*].definition.filters.blobTypes",
            "policy.rules[*].definition.filters.blobTypes[*]",
            "policy.rules[*].definition.filters.prefixMatch",
            "policy.rules[*].definition.filters.prefixMatch[*]",
        ),
        references=(
            "accountName",
            "name",
            "isVersioningEnabled",
            "encryption.keyVaultProperties.keyName",
            "policy.rules[*].type",
            "policy.rules[*].definition.actions.baseBlob.delete.daysAfterModificationGreaterThan",
            "policy.rules[*].definition.actions.baseBlob.delete.daysAfterCreationGreaterThan",
            "policy.rules[*].definition.actions.version.delete.daysAfterCreationGreaterThan",
        ),
    ),
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
    Rule(
        name="gcp-redteam-reports-require-cmek-expiration",
        description="Red-team report buckets on Cloud Storage are encrypted with a "
        "customer-managed Cloud KMS key and delete every report, and its noncurrent versions, "
        "with a lifecycle rule.",
        severity=Severity.HIGH,
        resource_types=(GCS_BUCKET,),
        controls=(OWASP_DISCLOSURE, GDPR_SECURITY, GDPR_STORAGE_LIMITATION),
        frameworks=frozenset({"owasp-llm", "gdpr"}),
        remediation="Keep security.red_team.report_retention_days; on the bucket: "
        "encryption.defaultKmsKeyName, a lifecycle rule (action Delete) with condition.age and "
        "no narrowing condition, and one with condition.daysSinceNoncurrentTime.",
        check=_check_gcs_report_bucket,
        reads=(
            f"labels.{GCP_PURPOSE}",
            "lifecycleRules",
            "lifecycleRules[*].action.type",
            *(f"lifecycleRules[*].condition.{field}" for field in GCS_NARROWING),
            "lifecycleRules[*].condition.withState",
            "lifecycleRules[*].condition.age",
            "lifecycleRules[*].condition.daysSinceNoncurrentTime",
        ),
        references=("encryption", "encryption.defaultKmsKeyName", "versioning.enabled"),
    ),
)

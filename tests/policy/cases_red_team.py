"""Fixtures for the red-team rules: the report volume and bucket, and a prod stack with or
without scans."""

from __future__ import annotations

from typing import Any, Final

from policy_cases import Case, bad, ok
from policy_harness import DELETE, Computed, Res, patched

PVC: Final = "kubernetes:core/v1:PersistentVolumeClaim"
CRONJOB: Final = "kubernetes:batch/v1:CronJob"
DEPLOYMENT: Final = "kubernetes:apps/v1:Deployment"
ENDPOINT: Final = "aws:sagemaker/endpoint:Endpoint"
TASK: Final = "aws:ecs/taskDefinition:TaskDefinition"
SCHEDULE: Final = "aws:scheduler/schedule:Schedule"
BUCKET: Final = "aws:s3/bucket:Bucket"
SSE: Final = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
LIFECYCLE: Final = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
BUCKET_RULE: Final = "aws-redteam-reports-require-kms-expiration"
KEY_ARN: Final = "arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TASK_ARN: Final = "arn:aws:ecs:eu-central-1:123456789012:task-definition/bot-red-team-nightly"
VOLUME_RULE: Final = "kubernetes-redteam-volume-require-encrypted-retention"
SCHEDULE_RULE: Final = "all-redteam-schedule-require-prod-scan"
GCS_RULE: Final = "gcp-redteam-reports-require-cmek-expiration"
GCS_BUCKET: Final = "gcp:storage/bucket:Bucket"
VERTEX_ENDPOINT: Final = "gcp:vertex/aiEndpoint:AiEndpoint"
RUN_JOB: Final = "gcp:cloudrunv2/job:Job"
SCHEDULER_JOB: Final = "gcp:cloudscheduler/job:Job"
GCP_KEY: Final = "projects/acme/locations/europe-west4/keyRings/bot-europe-west4/cryptoKeys/bot"
RUN_URI: Final = (
    "https://run.googleapis.com/v2/projects/acme/locations/europe-west4/jobs/"
    "bot-red-team-nightly:run"
)

VOLUME: Final[dict[str, Any]] = {
    "apiVersion": "v1",
    "kind": "PersistentVolumeClaim",
    "metadata": {
        "name": "bot-red-team-reports",
        "labels": {"inferstack/purpose": "red-team-reports", "inferstack/environment": "prod"},
        "annotations": {"inferstack.io/retention-days": "90"},
    },
    "spec": {
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": "rbd-encrypted",
        "resources": {"requests": {"storage": "5Gi"}},
    },
}
LABELS: Final = ("metadata", "labels")
SERVER: Final[dict[str, Any]] = {
    "metadata": {"name": "bot", "labels": {"inferstack/environment": "prod"}},
    "spec": {"template": {"spec": {"containers": []}}},
}
SCAN: Final[dict[str, Any]] = {
    "metadata": {
        "name": "bot-red-team-nightly",
        "labels": {"inferstack/purpose": "red-team", "inferstack/environment": "prod"},
    },
    "spec": {"schedule": "0 3 * * *"},
}
AWS_ENDPOINT: Final[dict[str, Any]] = {"tags": {"inferstack/environment": "prod"}}
AWS_TASK: Final[dict[str, Any]] = {"tags": {"inferstack/purpose": "red-team"}, "family": "bot"}
AWS_SCHEDULE: Final[dict[str, Any]] = {
    "name": "bot-red-team-nightly",
    "scheduleExpression": "cron(0 2 * * ? *)",
    "state": "ENABLED",
    "target": {
        "arn": Computed("arn:aws:ecs:eu-central-1:123456789012:cluster/bot-red-team"),
        "ecsParameters": {"taskDefinitionArn": Computed(f"{TASK_ARN}:1"), "launchType": "FARGATE"},
    },
}
REPORT_RULES: Final[list[dict[str, Any]]] = [
    {
        "id": "expire-reports",
        "status": "Enabled",
        "filter": {"prefix": ""},
        "expiration": {"days": 90},
        "noncurrentVersionExpiration": {"noncurrentDays": 1},
    }
]

# What inferstack.vertex.redteam registers (the preview's inputs, camelCase).
GCS_REPORTS: Final[dict[str, Any]] = {
    "name": "bot-red-team-reports-3b093f36",
    "labels": {"inferstack_purpose": "red-team-reports", "inferstack_environment": "prod"},
    "encryption": {"defaultKmsKeyName": Computed(GCP_KEY)},
    "versioning": {"enabled": True},
    "lifecycleRules": [
        {"action": {"type": "Delete"}, "condition": {"age": 90}},
        {
            "action": {"type": "Delete"},
            "condition": {"daysSinceNoncurrentTime": 1, "withState": "ARCHIVED"},
        },
    ],
}
VERTEX_SERVER: Final[dict[str, Any]] = {
    "name": "1234567890",
    "labels": {"inferstack_environment": "prod"},
}
VERTEX_JOB: Final[dict[str, Any]] = {
    "name": "bot-red-team-nightly",
    "location": "europe-west4",
    "labels": {"inferstack_purpose": "red-team", "inferstack_environment": "prod"},
}
VERTEX_SCHEDULE: Final[dict[str, Any]] = {
    "name": "bot-red-team-nightly",
    "schedule": "0 2 * * *",
    "timeZone": "Etc/UTC",
    "paused": False,
    "httpTarget": {"uri": Computed(RUN_URI), "httpMethod": "POST"},
}


def _gcs_reports(*changes: tuple[tuple[str | int, ...], Any]) -> Res:
    return Res(GCS_BUCKET, "bot-red-team-reports", patched(GCS_REPORTS, *changes))


def _vertex_scan(
    *changes: tuple[tuple[str | int, ...], Any], linked: bool = True
) -> tuple[Res, ...]:
    deps: dict[str, list[str]] = {"httpTarget": ["bot-red-team-nightly"] if linked else []}
    return (
        Res(VERTEX_ENDPOINT, "bot-endpoint", VERTEX_SERVER),
        Res(RUN_JOB, "bot-red-team-nightly", VERTEX_JOB),
        Res(
            SCHEDULER_JOB,
            "bot-red-team-nightly-schedule",
            patched(VERTEX_SCHEDULE, *changes),
            deps,
        ),
    )


def _task() -> Res:
    return Res(TASK, "bot-red-team-nightly", AWS_TASK)


def _schedule(*changes: tuple[tuple[str | int, ...], Any], linked: bool = True) -> Res:
    deps: dict[str, list[str]] = {"target": ["bot-red-team-nightly"] if linked else []}
    return Res(SCHEDULE, "bot-red-team-nightly-schedule", patched(AWS_SCHEDULE, *changes), deps)


def _report_bucket(
    *,
    purpose: str = "red-team-reports",
    sse: dict[str, Any] | None = None,
    rules: list[dict[str, Any]] | None = None,
    inline_sse: dict[str, Any] | None = None,
) -> tuple[Res, ...]:
    """The report bucket with its encryption and lifecycle companions (None: leave one out)."""
    bucket = Res(
        BUCKET,
        "bot-red-team-reports",
        {
            "bucket": "bot-red-team-reports-eu-central-1-8b61991a",
            "tags": {"inferstack/purpose": purpose},
        },
    )
    if inline_sse is not None:
        # The deprecated inline setting of pulumi-aws v6 buckets.
        inline = {"rule": {"applyServerSideEncryptionByDefault": inline_sse}}
        bucket = Res(
            BUCKET, bucket.name, {**bucket.props, "serverSideEncryptionConfiguration": inline}
        )
    companions = [bucket]
    link = {"bucket": ["bot-red-team-reports"]}
    if sse is not None:
        companions.append(
            Res(
                SSE,
                "bot-red-team-reports-encryption",
                {
                    "bucket": Computed("bot-red-team-reports-eu-central-1-8b61991a"),
                    "rules": [
                        {"applyServerSideEncryptionByDefault": sse, "bucketKeyEnabled": True}
                    ],
                },
                link,
            )
        )
    if rules is not None:
        companions.append(
            Res(
                LIFECYCLE,
                "bot-red-team-reports-lifecycle",
                {"bucket": Computed("bot-red-team-reports-eu-central-1-8b61991a"), "rules": rules},
                link,
            )
        )
    return tuple(companions)


KMS: Final = {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": Computed(KEY_ARN)}


def _volume(*changes: tuple[tuple[str | int, ...], Any]) -> Res:
    return Res(PVC, "bot-red-team-reports", patched(VOLUME, *changes))


CASES: Final[list[Case]] = [
    ok(VOLUME_RULE, "encrypted-class-and-retention", _volume(), framework="owasp-llm"),
    ok(VOLUME_RULE, "gdpr-too", _volume(), framework="gdpr"),
    ok(
        VOLUME_RULE,
        "other-volumes-untouched",
        _volume(
            (("metadata", "labels", "inferstack/purpose"), DELETE),
            (("spec", "storageClassName"), DELETE),
        ),
        framework="owasp-llm",
    ),
    bad(
        VOLUME_RULE,
        "default-class",
        _volume((("spec", "storageClassName"), DELETE)),
        "names no storage class",
        framework="owasp-llm",
    ),
    bad(
        VOLUME_RULE,
        "no-retention",
        _volume((("metadata", "annotations"), DELETE)),
        "declares no retention",
        framework="gdpr",
    ),
    bad(
        VOLUME_RULE,
        "zero-retention",
        _volume((("metadata", "annotations", "inferstack.io/retention-days"), "0")),
        "declares no retention",
        framework="owasp-llm",
    ),
    ok(
        SCHEDULE_RULE,
        "prod-with-cron-job",
        (Res(DEPLOYMENT, "bot", SERVER), Res(CRONJOB, "bot-red-team-nightly", SCAN)),
    ),
    ok(
        SCHEDULE_RULE,
        "dev-without-scan",
        Res(DEPLOYMENT, "bot", patched(SERVER, ((*LABELS, "inferstack/environment"), "dev"))),
    ),
    bad(
        SCHEDULE_RULE,
        "prod-without-scan",
        Res(DEPLOYMENT, "bot", SERVER),
        "no scheduled red-team scan",
    ),
    bad(
        SCHEDULE_RULE,
        "unrelated-cron-job",
        (
            Res(DEPLOYMENT, "bot", SERVER),
            Res(CRONJOB, "backup", patched(SCAN, ((*LABELS, "inferstack/purpose"), DELETE))),
        ),
        "no scheduled red-team scan",
    ),
    ok(
        SCHEDULE_RULE,
        "sagemaker-with-scheduled-task",
        (Res(ENDPOINT, "bot", AWS_ENDPOINT), _task(), _schedule()),
    ),
    bad(
        SCHEDULE_RULE,
        "sagemaker-task-never-scheduled",
        (Res(ENDPOINT, "bot", AWS_ENDPOINT), _task()),
        "no scheduled red-team scan",
    ),
    bad(
        SCHEDULE_RULE,
        "sagemaker-schedule-disabled",
        (Res(ENDPOINT, "bot", AWS_ENDPOINT), _task(), _schedule((("state",), "DISABLED"))),
        "no scheduled red-team scan",
    ),
    bad(
        SCHEDULE_RULE,
        "sagemaker-schedule-runs-another-task",
        (
            Res(ENDPOINT, "bot", AWS_ENDPOINT),
            _task(),
            _schedule(
                (("target", "ecsParameters", "taskDefinitionArn"), "arn:aws:ecs:x:1:task/other"),
                linked=False,
            ),
        ),
        "no scheduled red-team scan",
    ),
    ok(
        BUCKET_RULE,
        "kms-and-expiry",
        _report_bucket(sse=KMS, rules=REPORT_RULES),
        framework="owasp-llm",
    ),
    ok(
        BUCKET_RULE,
        "inline-kms",
        _report_bucket(inline_sse=KMS, rules=REPORT_RULES),
        framework="gdpr",
    ),
    ok(BUCKET_RULE, "gdpr-too", _report_bucket(sse=KMS, rules=REPORT_RULES), framework="gdpr"),
    ok(
        BUCKET_RULE,
        "other-buckets-untouched",
        _report_bucket(purpose="artifacts"),
        framework="owasp-llm",
    ),
    bad(
        BUCKET_RULE,
        "no-encryption",
        _report_bucket(rules=REPORT_RULES),
        "no BucketServerSideEncryptionConfiguration",
        framework="owasp-llm",
    ),
    bad(
        BUCKET_RULE,
        "s3-managed-keys",
        _report_bucket(sse={"sseAlgorithm": "AES256"}, rules=REPORT_RULES),
        "not SSE-KMS",
        framework="gdpr",
    ),
    bad(
        BUCKET_RULE,
        "no-lifecycle",
        _report_bucket(sse=KMS),
        "no enabled lifecycle rule expiring every report",
        framework="gdpr",
    ),
    bad(
        BUCKET_RULE,
        "expiry-disabled",
        _report_bucket(sse=KMS, rules=[{**REPORT_RULES[0], "status": "Disabled"}]),
        "no enabled lifecycle rule expiring every report",
        framework="owasp-llm",
    ),
    bad(
        BUCKET_RULE,
        "expiry-of-one-prefix-only",
        _report_bucket(
            sse=KMS, rules=[{**REPORT_RULES[0], "filter": {"prefix": "reports/weekly"}}]
        ),
        "no enabled lifecycle rule expiring every report",
        framework="gdpr",
    ),
    bad(
        BUCKET_RULE,
        "noncurrent-versions-kept",
        _report_bucket(
            sse=KMS,
            rules=[
                {k: v for k, v in REPORT_RULES[0].items() if k != "noncurrentVersionExpiration"}
            ],
        ),
        "noncurrent versions forever",
        framework="gdpr",
    ),
    bad(
        SCHEDULE_RULE,
        "sagemaker-without-task",
        Res(ENDPOINT, "bot", AWS_ENDPOINT),
        "no scheduled red-team scan",
    ),
    ok(GCS_RULE, "cmek-and-expiry", _gcs_reports(), framework="owasp-llm"),
    ok(GCS_RULE, "gdpr-too", _gcs_reports(), framework="gdpr"),
    ok(
        GCS_RULE,
        "other-buckets-untouched",
        _gcs_reports((("labels", "inferstack_purpose"), "models"), (("lifecycleRules",), DELETE)),
        framework="gdpr",
    ),
    ok(
        GCS_RULE,
        "one-age-rule-deletes-live-and-noncurrent",
        _gcs_reports(
            (("lifecycleRules",), [{"action": {"type": "Delete"}, "condition": {"age": 30}}])
        ),
        framework="owasp-llm",
    ),
    bad(
        GCS_RULE,
        "google-managed-key",
        _gcs_reports((("encryption",), DELETE)),
        "Google-managed key",
        framework="owasp-llm",
    ),
    bad(
        GCS_RULE,
        "no-lifecycle",
        _gcs_reports((("lifecycleRules",), DELETE)),
        "no lifecycle rule deleting every report",
        framework="gdpr",
    ),
    bad(
        GCS_RULE,
        "storage-class-change-only",
        _gcs_reports(
            (
                ("lifecycleRules",),
                [
                    {
                        "action": {"type": "SetStorageClass", "storageClass": "ARCHIVE"},
                        "condition": {"age": 90},
                    }
                ],
            )
        ),
        "no lifecycle rule deleting every report",
        framework="owasp-llm",
    ),
    bad(
        GCS_RULE,
        "expiry-of-one-prefix-only",
        _gcs_reports((("lifecycleRules", 0, "condition", "matchesPrefixes"), ["nightly-"])),
        "no lifecycle rule deleting every report",
        framework="gdpr",
    ),
    bad(
        GCS_RULE,
        "expiry-of-noncurrent-versions-only",
        _gcs_reports((("lifecycleRules", 0, "condition", "withState"), "ARCHIVED")),
        "no lifecycle rule deleting every report",
        framework="owasp-llm",
    ),
    bad(
        GCS_RULE,
        "noncurrent-versions-kept",
        _gcs_reports(
            (
                ("lifecycleRules",),
                [{"action": {"type": "Delete"}, "condition": {"age": 90, "withState": "LIVE"}}],
            )
        ),
        "noncurrent versions forever",
        framework="gdpr",
    ),
    ok(SCHEDULE_RULE, "vertex-with-scheduled-job", _vertex_scan()),
    ok(
        SCHEDULE_RULE,
        "vertex-scheduled-by-url",
        _vertex_scan((("httpTarget", "uri"), RUN_URI), linked=False),
    ),
    ok(
        SCHEDULE_RULE,
        "vertex-dev-without-scan",
        Res(
            VERTEX_ENDPOINT,
            "bot-endpoint",
            patched(VERTEX_SERVER, (("labels", "inferstack_environment"), "dev")),
        ),
    ),
    bad(
        SCHEDULE_RULE,
        "vertex-without-scan",
        Res(VERTEX_ENDPOINT, "bot-endpoint", VERTEX_SERVER),
        "no scheduled red-team scan",
    ),
    bad(
        SCHEDULE_RULE,
        "vertex-job-never-scheduled",
        _vertex_scan()[:2],
        "no scheduled red-team scan",
    ),
    bad(
        SCHEDULE_RULE,
        "vertex-schedule-paused",
        _vertex_scan((("paused",), True)),
        "no scheduled red-team scan",
    ),
    bad(
        SCHEDULE_RULE,
        "vertex-schedule-runs-another-job",
        _vertex_scan(
            (("httpTarget", "uri"), RUN_URI.replace("bot-red-team-nightly", "backup")),
            linked=False,
        ),
        "no scheduled red-team scan",
    ),
]


# Azure ML: the report storage account, its lifecycle policy and the scheduled Container Apps job.
AZURE_ENDPOINT: Final = "azure-native:machinelearningservices:OnlineEndpoint"
AZURE_JOB: Final = "azure-native:app:Job"
ACCOUNT: Final = "azure-native:storage:StorageAccount"
MANAGEMENT: Final = "azure-native:storage:ManagementPolicy"
BLOB_SERVICE: Final = "azure-native:storage:BlobServiceProperties"
ACCOUNT_RULE: Final = "azure-redteam-reports-require-cmk-expiration"
REPORT_ACCOUNT: Final[dict[str, Any]] = {
    "accountName": "strtsupportbot6f09af",
    "kind": "StorageV2",
    "encryption": {
        "keySource": "Microsoft.Keyvault",
        "keyVaultProperties": {
            "keyName": Computed("support-bot-cmk"),
            "keyVaultUri": "https://kv-support-bot-6f09af.vault.azure.net/",
        },
    },
    "tags": {"inferstack/purpose": "red-team-reports", "inferstack/environment": "prod"},
}
DELETE_RULE: Final[dict[str, Any]] = {
    "name": "red-team-retention",
    "enabled": True,
    "type": "Lifecycle",
    "definition": {
        "filters": {"blobTypes": ["blockBlob"], "prefixMatch": ["red-team-reports/"]},
        "actions": {"baseBlob": {"delete": {"daysAfterModificationGreaterThan": 90}}},
    },
}
AZURE_SCAN_JOB: Final[dict[str, Any]] = {
    "jobName": "support-bot-rt-nightly",
    "configuration": {
        "triggerType": "Schedule",
        "scheduleTriggerConfig": {"cronExpression": "0 2 * * *", "parallelism": 1},
        "replicaTimeout": 14400,
        "replicaRetryLimit": 0,
    },
    "tags": {"inferstack/purpose": "red-team", "inferstack/environment": "prod"},
}
AZURE_SERVER: Final[dict[str, Any]] = {"tags": {"inferstack/environment": "prod"}}


def _report_account(
    *changes: tuple[tuple[str | int, ...], Any],
    rules: list[dict[str, Any]] | None = None,
    versioning: bool | None = None,
) -> tuple[Res, ...]:
    """The report account with its lifecycle policy and blob service (None: leave one out)."""
    account = Res(ACCOUNT, "support-bot-st-red-team", patched(REPORT_ACCOUNT, *changes))
    link = {"accountName": ["support-bot-st-red-team"]}
    found = [account]
    if rules is not None:
        found.append(
            Res(
                MANAGEMENT,
                "support-bot-red-team-retention",
                {
                    "accountName": Computed("strtsupportbot6f09af"),
                    "managementPolicyName": "default",
                    "policy": {"rules": rules},
                },
                link,
            )
        )
    if versioning is not None:
        found.append(
            Res(
                BLOB_SERVICE,
                "support-bot-st-red-team-blob",
                {
                    "accountName": Computed("strtsupportbot6f09af"),
                    "blobServicesName": "default",
                    "isVersioningEnabled": versioning,
                },
                link,
            )
        )
    return tuple(found)


def _with_actions(**actions: Any) -> dict[str, Any]:
    definition = DELETE_RULE["definition"]
    return {**DELETE_RULE, "definition": {**definition, "actions": actions}}


AZURE_CASES: Final[list[Case]] = [
    ok(ACCOUNT_RULE, "cmk-and-delete", _report_account(rules=[DELETE_RULE]), framework="owasp-llm"),
    ok(ACCOUNT_RULE, "gdpr-too", _report_account(rules=[DELETE_RULE]), framework="gdpr"),
    ok(
        ACCOUNT_RULE,
        "other-accounts-untouched",
        _report_account((("tags", "inferstack/purpose"), DELETE), (("encryption",), DELETE)),
        framework="owasp-llm",
    ),
    ok(
        ACCOUNT_RULE,
        "versions-deleted-too",
        _report_account(
            rules=[
                _with_actions(
                    baseBlob={"delete": {"daysAfterModificationGreaterThan": 90}},
                    version={"delete": {"daysAfterCreationGreaterThan": 1}},
                )
            ],
            versioning=True,
        ),
        framework="gdpr",
    ),
    ok(
        ACCOUNT_RULE,
        "versioning-off",
        _report_account(rules=[DELETE_RULE], versioning=False),
        framework="gdpr",
    ),
    bad(
        ACCOUNT_RULE,
        "microsoft-managed-keys",
        _report_account(
            (("encryption", "keySource"), "Microsoft.Storage"),
            (("encryption", "keyVaultProperties"), DELETE),
            rules=[DELETE_RULE],
        ),
        "not encrypted with a customer-managed key",
        framework="owasp-llm",
    ),
    bad(
        ACCOUNT_RULE,
        "no-lifecycle-policy",
        _report_account(),
        "no enabled lifecycle rule deleting every report",
        framework="gdpr",
    ),
    bad(
        ACCOUNT_RULE,
        "rule-disabled",
        _report_account(rules=[{**DELETE_RULE, "enabled": False}]),
        "no enabled lifecycle rule deleting every report",
        framework="owasp-llm",
    ),
    bad(
        ACCOUNT_RULE,
        "delete-of-one-folder-only",
        _report_account(
            rules=[
                {
                    **DELETE_RULE,
                    "definition": {
                        **DELETE_RULE["definition"],
                        "filters": {
                            "blobTypes": ["blockBlob"],
                            "prefixMatch": ["red-team-reports/weekly"],
                        },
                    },
                }
            ]
        ),
        "no enabled lifecycle rule deleting every report",
        framework="gdpr",
    ),
    bad(
        ACCOUNT_RULE,
        "tiering-only",
        _report_account(
            rules=[_with_actions(baseBlob={"tierToCool": {"daysAfterModificationGreaterThan": 30}})]
        ),
        "no enabled lifecycle rule deleting every report",
        framework="owasp-llm",
    ),
    bad(
        ACCOUNT_RULE,
        "versions-kept",
        _report_account(rules=[DELETE_RULE], versioning=True),
        "keeps blob versions of deleted reports forever",
        framework="gdpr",
    ),
    ok(
        SCHEDULE_RULE,
        "azureml-with-scheduled-job",
        (
            Res(AZURE_ENDPOINT, "support-bot-endpoint", AZURE_SERVER),
            Res(AZURE_JOB, "support-bot-red-team-nightly", AZURE_SCAN_JOB),
        ),
    ),
    bad(
        SCHEDULE_RULE,
        "azureml-without-job",
        Res(AZURE_ENDPOINT, "support-bot-endpoint", AZURE_SERVER),
        "no scheduled red-team scan",
    ),
    bad(
        SCHEDULE_RULE,
        "azureml-job-started-by-hand",
        (
            Res(AZURE_ENDPOINT, "support-bot-endpoint", AZURE_SERVER),
            Res(
                AZURE_JOB,
                "support-bot-red-team-nightly",
                patched(
                    AZURE_SCAN_JOB,
                    (("configuration", "triggerType"), "Manual"),
                    (("configuration", "scheduleTriggerConfig"), DELETE),
                ),
            ),
        ),
        "no scheduled red-team scan",
    ),
    bad(
        SCHEDULE_RULE,
        "azureml-job-of-another-purpose",
        (
            Res(AZURE_ENDPOINT, "support-bot-endpoint", AZURE_SERVER),
            Res(
                AZURE_JOB,
                "support-bot-batch",
                patched(AZURE_SCAN_JOB, (("tags", "inferstack/purpose"), DELETE)),
            ),
        ),
        "no scheduled red-team scan",
    ),
    ok(
        SCHEDULE_RULE,
        "azureml-dev-without-job",
        Res(
            AZURE_ENDPOINT,
            "support-bot-endpoint",
            patched(AZURE_SERVER, (("tags", "inferstack/environment"), "dev")),
        ),
    ),
]
CASES.extend(AZURE_CASES)

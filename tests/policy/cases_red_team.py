"""Fixtures for the red-team rules: the report volume, and a prod stack with or without scans."""

from __future__ import annotations

from typing import Any, Final

from policy_cases import Case, bad, ok
from policy_harness import DELETE, Res, patched

PVC: Final = "kubernetes:core/v1:PersistentVolumeClaim"
CRONJOB: Final = "kubernetes:batch/v1:CronJob"
DEPLOYMENT: Final = "kubernetes:apps/v1:Deployment"
ENDPOINT: Final = "aws:sagemaker/endpoint:Endpoint"
TASK: Final = "aws:ecs/taskDefinition:TaskDefinition"
VOLUME_RULE: Final = "kubernetes-redteam-volume-require-encrypted-retention"
SCHEDULE_RULE: Final = "all-redteam-schedule-require-prod-scan"

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
        "sagemaker-with-task",
        (Res(ENDPOINT, "bot", AWS_ENDPOINT), Res(TASK, "bot-red-team", AWS_TASK)),
    ),
    bad(
        SCHEDULE_RULE,
        "sagemaker-without-task",
        Res(ENDPOINT, "bot", AWS_ENDPOINT),
        "no scheduled red-team scan",
    ),
]

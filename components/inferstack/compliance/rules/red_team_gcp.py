"""Red-team reports on Vertex AI: the Cloud Storage report bucket uses CMEK and deletes them.

The component labels the bucket the scan jobs mount at the report directory with the reserved
purpose (label ``inferstack_purpose``: ``red-team-reports``). Its encryption and lifecycle are
its own settings, so the rule is a resource rule.
"""

from __future__ import annotations

from typing import Final

from inferstack.compliance.model import Report, Resource, Rule, RuleConfig, Severity
from inferstack.compliance.props import MISSING, UNKNOWN, as_number, elements, get
from inferstack.compliance.rules._common import (
    GDPR_SECURITY,
    GDPR_STORAGE_LIMITATION,
    OWASP_DISCLOSURE,
    require_present,
    unverifiable,
)
from inferstack.compliance.rules._red_team import GCP_PURPOSE, holds_reports

GCS_BUCKET: Final = "gcp:storage/bucket:Bucket"
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
    if not holds_reports(purpose, f"labels.{GCP_PURPOSE}", "bucket", report):
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


RULES: Final = (
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

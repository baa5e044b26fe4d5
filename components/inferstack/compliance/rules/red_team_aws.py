"""Red-team reports on SageMaker: the report bucket is encrypted with SSE-KMS and expires them.

The component tags the S3 bucket garak's task uploads to with the reserved purpose
(``red-team-reports``). Its encryption and lifecycle are companion resources (pulumi-aws v7),
so the rule is a stack rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from inferstack.compliance.model import Rule, Scope, Severity, StackResource
from inferstack.compliance.props import MISSING, UNKNOWN, as_number, elements, get
from inferstack.compliance.rules._common import (
    GDPR_SECURITY,
    GDPR_STORAGE_LIMITATION,
    OWASP_DISCLOSURE,
    unverifiable,
)
from inferstack.compliance.rules._red_team import PURPOSE, report_store_check
from inferstack.compliance.rules._s3 import (
    BUCKET_TYPES,
    ENCRYPTION_TYPES,
    LIFECYCLE_TYPES,
    companions_of,
)
from inferstack.compliance.rules.aws_s3 import bucket_encryption


def _problems(resources: Sequence[StackResource], bucket: StackResource) -> tuple[str | None, ...]:
    return bucket_encryption(resources, bucket), _report_expiry(resources, bucket)


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


RULES: Final = (
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
        check=report_store_check(BUCKET_TYPES, "bucket", _problems),
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
)

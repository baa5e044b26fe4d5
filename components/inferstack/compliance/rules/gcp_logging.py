"""Google Cloud Logging buckets: CMEK and bounded retention."""

from __future__ import annotations

from typing import Final

from inferstack.compliance.model import Report, Resource, Rule, RuleConfig, Severity
from inferstack.compliance.rules._common import (
    GDPR_CONFIDENTIALITY,
    GDPR_SECURITY,
    HIPAA_AUDIT,
    HIPAA_ENCRYPTION,
    OWASP_DISCLOSURE,
    require_present,
)
from inferstack.compliance.rules._retention import retention_rules

LOG_BUCKET_TYPES: Final = (
    "gcp:logging/projectBucketConfig:ProjectBucketConfig",
    "gcp:logging/folderBucketConfig:FolderBucketConfig",
    "gcp:logging/organizationBucketConfig:OrganizationBucketConfig",
)


def _check_cmek(res: Resource, report: Report, cfg: RuleConfig) -> None:
    require_present(
        report,
        res.props,
        ("cmekSettings", "kmsKeyName"),
        "the log bucket is encrypted with a Google-managed key (cmekSettings.kmsKeyName unset)",
    )


RULES: Final = (
    Rule(
        name="gcp-logging-bucket-require-cmek",
        description="Cloud Logging buckets (which can hold prompts) use a customer-managed key.",
        severity=Severity.MEDIUM,
        resource_types=LOG_BUCKET_TYPES,
        controls=(
            HIPAA_ENCRYPTION,
            HIPAA_AUDIT,
            GDPR_SECURITY,
            GDPR_CONFIDENTIALITY,
            OWASP_DISCLOSURE,
        ),
        frameworks=frozenset({"baseline"}),
        remediation="Set cmekSettings.kmsKeyName; the Logging service account needs "
        "encrypter/decrypter on the key.",
        check=_check_cmek,
        reads=(),
        references=("cmekSettings.kmsKeyName",),
    ),
    *retention_rules(
        prefix="gcp-logging-bucket",
        resource_types=LOG_BUCKET_TYPES,
        field="retentionDays",
        absent_never_expires=False,
        what="Cloud Logging buckets",
    ),
)

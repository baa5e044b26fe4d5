"""Google Cloud Storage buckets: uniform access, no public access, CMEK, versions, access logs."""

from __future__ import annotations

from typing import Final

from inferstack.compliance.model import (
    Framework,
    Report,
    Resource,
    ResourceCheck,
    Rule,
    RuleConfig,
    Severity,
)
from inferstack.compliance.rules._common import (
    GDPR_BY_DESIGN,
    GDPR_CONFIDENTIALITY,
    GDPR_SECURITY,
    HIPAA_ACCESS,
    HIPAA_AUDIT,
    HIPAA_CONTINGENCY,
    HIPAA_ENCRYPTION,
    HIPAA_INTEGRITY,
    OWASP_DISCLOSURE,
    OWASP_POISONING,
    equals,
    is_true,
    require_present,
    require_setting,
)

BUCKET: Final = "gcp:storage/bucket:Bucket"


def _check_uniform(res: Resource, report: Report, cfg: RuleConfig) -> None:
    require_setting(
        report,
        res.props,
        ("uniformBucketLevelAccess",),
        is_true,
        "object ACLs are enabled (uniformBucketLevelAccess is not true)",
    )


def _check_public(res: Resource, report: Report, cfg: RuleConfig) -> None:
    require_setting(
        report,
        res.props,
        ("publicAccessPrevention",),
        equals("enforced"),
        "public access prevention is not enforced",
    )


def _check_cmek(res: Resource, report: Report, cfg: RuleConfig) -> None:
    require_present(
        report,
        res.props,
        ("encryption", "defaultKmsKeyName"),
        "objects are encrypted with a Google-managed key (encryption.defaultKmsKeyName unset)",
    )


def _check_versioning(res: Resource, report: Report, cfg: RuleConfig) -> None:
    require_setting(
        report,
        res.props,
        ("versioning", "enabled"),
        is_true,
        "object versioning is off",
    )


def _check_logging(res: Resource, report: Report, cfg: RuleConfig) -> None:
    require_present(
        report,
        res.props,
        ("logging", "logBucket"),
        "usage and access logs are not recorded (logging.logBucket unset)",
    )


def _bucket_rule(
    name: str,
    description: str,
    severity: Severity,
    controls: tuple[str, ...],
    remediation: str,
    check: ResourceCheck,
    peers: tuple[str, ...] = (),
    framework: Framework = "baseline",
    *,
    reads: tuple[str, ...],
    references: tuple[str, ...] = (),
) -> Rule:
    return Rule(
        name=name,
        description=description,
        severity=severity,
        resource_types=(BUCKET,),
        controls=controls,
        frameworks=frozenset({framework}),
        remediation=remediation,
        check=check,
        peers=peers,
        reads=reads,
        references=references,
    )


RULES: Final = (
    _bucket_rule(
        "gcp-storage-bucket-require-uniform-access",
        "Buckets use uniform bucket-level access (IAM only, no object ACLs).",
        Severity.MEDIUM,
        (HIPAA_ACCESS, GDPR_SECURITY),
        "Set uniformBucketLevelAccess: true.",
        _check_uniform,
        ("CKV_GCP_29",),
        reads=("uniformBucketLevelAccess",),
    ),
    _bucket_rule(
        "gcp-storage-bucket-disallow-public-access",
        "Buckets enforce public access prevention.",
        Severity.CRITICAL,
        (HIPAA_ACCESS, GDPR_BY_DESIGN, GDPR_SECURITY, OWASP_DISCLOSURE),
        "Set publicAccessPrevention: enforced.",
        _check_public,
        ("CKV_GCP_114",),
        reads=("publicAccessPrevention",),
    ),
    _bucket_rule(
        "gcp-storage-bucket-require-cmek",
        "Buckets encrypt objects with a customer-managed Cloud KMS key.",
        Severity.HIGH,
        (HIPAA_ENCRYPTION, GDPR_SECURITY, GDPR_CONFIDENTIALITY),
        "Set encryption.defaultKmsKeyName and grant the Cloud Storage service account "
        "(gs-project-accounts) encrypter/decrypter on the key.",
        _check_cmek,
        reads=(),
        references=("encryption", "encryption.defaultKmsKeyName"),
    ),
    _bucket_rule(
        "gcp-storage-bucket-require-versioning",
        "Buckets keep object versions, so artifacts and evidence can be restored.",
        Severity.MEDIUM,
        (HIPAA_INTEGRITY, HIPAA_CONTINGENCY, OWASP_POISONING),
        "Set versioning.enabled: true.",
        _check_versioning,
        ("CKV_GCP_78",),
        framework="hipaa",
        reads=("versioning", "versioning.enabled"),
    ),
    _bucket_rule(
        "gcp-storage-bucket-require-access-logging",
        "Buckets record usage and access logs.",
        Severity.MEDIUM,
        (HIPAA_AUDIT,),
        "Set logging.logBucket to a dedicated log bucket (or rely on Data Access audit logs "
        "and exclude the bucket with a reason).",
        _check_logging,
        ("CKV_GCP_62",),
        framework="hipaa",
        reads=(),
        references=("logging", "logging.logBucket"),
    ),
)

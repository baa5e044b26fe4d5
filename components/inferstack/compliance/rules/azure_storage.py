"""Azure Storage accounts behind a workspace: TLS 1.2+, HTTPS only, no public blobs, CMK.

Each setting must be explicit: policies see the program's inputs, not the defaults the Azure API
would fill in.
"""

from __future__ import annotations

from typing import Final

from inferstack.compliance.model import Report, Resource, Rule, RuleConfig, Severity
from inferstack.compliance.rules._common import (
    GDPR_BY_DESIGN,
    GDPR_CONFIDENTIALITY,
    GDPR_SECURITY,
    HIPAA_ACCESS,
    HIPAA_ENCRYPTION,
    HIPAA_TRANSMISSION,
    HIPAA_TRANSMISSION_ENCRYPTION,
    OWASP_DISCLOSURE,
    equals,
    is_false,
    is_true,
    require_present,
    require_setting,
)

STORAGE_ACCOUNT: Final = "azure-native:storage:StorageAccount"


def _check_tls(res: Resource, report: Report, cfg: RuleConfig) -> None:
    require_setting(
        report,
        res.props,
        ("minimumTlsVersion",),
        equals("TLS1_2", "TLS1_3"),
        "minimumTlsVersion is not TLS1_2 or later",
    )


def _check_https(res: Resource, report: Report, cfg: RuleConfig) -> None:
    require_setting(
        report,
        res.props,
        ("enableHttpsTrafficOnly",),
        is_true,
        "the account accepts plain HTTP (enableHttpsTrafficOnly is not true)",
    )


def _check_blob_public_access(res: Resource, report: Report, cfg: RuleConfig) -> None:
    require_setting(
        report,
        res.props,
        ("allowBlobPublicAccess",),
        is_false,
        "anonymous blob access is not disabled (allowBlobPublicAccess is not false)",
    )


def _check_cmk(res: Resource, report: Report, cfg: RuleConfig) -> None:
    require_setting(
        report,
        res.props,
        ("encryption", "keySource"),
        equals("Microsoft.Keyvault"),
        "the account is encrypted with Microsoft-managed keys (encryption.keySource)",
    )
    for field in ("keyVaultUri", "keyName"):
        require_present(
            report,
            res.props,
            ("encryption", "keyVaultProperties", field),
            f"encryption.keyVaultProperties.{field} is not set",
        )


_TRANSPORT = (HIPAA_TRANSMISSION, HIPAA_TRANSMISSION_ENCRYPTION, GDPR_SECURITY)

RULES: Final = (
    Rule(
        name="azure-storage-account-require-tls12",
        description="Storage accounts refuse TLS versions older than 1.2.",
        severity=Severity.MEDIUM,
        resource_types=(STORAGE_ACCOUNT,),
        controls=_TRANSPORT,
        frameworks=frozenset({"baseline"}),
        remediation="Set minimumTlsVersion: TLS1_2.",
        check=_check_tls,
        reads=("minimumTlsVersion",),
        peers=("CKV_AZURE_44", "azure-policy:fe83a0eb-a853-422d-aac2-1bffd182c5d0"),
    ),
    Rule(
        name="azure-storage-account-require-https",
        description="Storage accounts accept HTTPS only.",
        severity=Severity.MEDIUM,
        resource_types=(STORAGE_ACCOUNT,),
        controls=_TRANSPORT,
        frameworks=frozenset({"baseline"}),
        remediation="Set enableHttpsTrafficOnly: true.",
        check=_check_https,
        reads=("enableHttpsTrafficOnly",),
        peers=("CKV_AZURE_3", "azure-policy:404c3081-a854-4457-ae30-26a93ef643f9"),
    ),
    Rule(
        name="azure-storage-account-disallow-blob-public-access",
        description="Storage accounts forbid anonymous access to blobs.",
        severity=Severity.HIGH,
        resource_types=(STORAGE_ACCOUNT,),
        controls=(HIPAA_ACCESS, GDPR_BY_DESIGN, GDPR_SECURITY, OWASP_DISCLOSURE),
        frameworks=frozenset({"baseline"}),
        remediation="Set allowBlobPublicAccess: false.",
        check=_check_blob_public_access,
        reads=("allowBlobPublicAccess",),
        peers=("CKV_AZURE_190", "azure-policy:4fa4b6c0-31ca-4c0d-b10d-24b96f62a751"),
    ),
    Rule(
        name="azure-storage-account-require-cmk",
        description="Storage accounts encrypt data with a customer-managed key in Key Vault.",
        severity=Severity.MEDIUM,
        resource_types=(STORAGE_ACCOUNT,),
        controls=(HIPAA_ENCRYPTION, GDPR_SECURITY, GDPR_CONFIDENTIALITY),
        frameworks=frozenset({"baseline"}),
        remediation="Set encryption.keySource: Microsoft.Keyvault with keyVaultProperties "
        "(keyVaultUri, keyName) and an identity that may use the key.",
        check=_check_cmk,
        reads=("encryption.keySource",),
        references=(
            "encryption.keyVaultProperties.keyName",
            "encryption.keyVaultProperties.keyVaultUri",
        ),
        peers=("CKV2_AZURE_1",),
    ),
)

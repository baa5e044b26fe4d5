"""Azure Key Vault holding the customer-managed keys: recoverable, RBAC-governed, private."""

from __future__ import annotations

from typing import Final

from inferstack.compliance.model import Report, Resource, Rule, RuleConfig, Severity
from inferstack.compliance.props import UNKNOWN, get
from inferstack.compliance.rules._common import (
    GDPR_BY_DESIGN,
    GDPR_SECURITY,
    HIPAA_ACCESS,
    HIPAA_CONTINGENCY,
    HIPAA_ENCRYPTION,
    HIPAA_UNIQUE_USER,
    equals,
    is_true,
    not_false,
    require_setting,
    unverifiable,
)

VAULT: Final = "azure-native:keyvault:Vault"


def _check_purge_protection(res: Resource, report: Report, cfg: RuleConfig) -> None:
    require_setting(
        report,
        res.props,
        ("properties", "enablePurgeProtection"),
        is_true,
        "purge protection is off: a deleted vault (and every key encrypting the model data) "
        "could be destroyed for good",
    )
    require_setting(
        report,
        res.props,
        ("properties", "enableSoftDelete"),
        not_false,
        "soft delete is disabled",
    )


def _check_rbac(res: Resource, report: Report, cfg: RuleConfig) -> None:
    require_setting(
        report,
        res.props,
        ("properties", "enableRbacAuthorization"),
        is_true,
        "the vault uses access policies instead of Azure RBAC (enableRbacAuthorization)",
    )


def _check_public_network(res: Resource, report: Report, cfg: RuleConfig) -> None:
    access = get(res.props, "properties", "publicNetworkAccess")
    default_action = get(res.props, "properties", "networkAcls", "defaultAction")
    if access is UNKNOWN or default_action is UNKNOWN:
        report(
            unverifiable(
                "properties.publicNetworkAccess"
                if access is UNKNOWN
                else "properties.networkAcls.defaultAction"
            )
        )
        return
    if equals("Disabled")(access) or equals("Deny")(default_action):
        return
    report(
        "the vault accepts traffic from every network: set publicNetworkAccess Disabled or "
        "networkAcls.defaultAction Deny"
    )


RULES: Final = (
    Rule(
        name="azure-keyvault-vault-require-purge-protection",
        description="Key vaults keep soft delete and purge protection on, so keys cannot be lost.",
        severity=Severity.HIGH,
        resource_types=(VAULT,),
        controls=(HIPAA_ENCRYPTION, HIPAA_CONTINGENCY, GDPR_SECURITY),
        frameworks=frozenset({"baseline"}),
        remediation="Set properties.enablePurgeProtection: true and leave enableSoftDelete on.",
        check=_check_purge_protection,
        reads=("properties.enablePurgeProtection", "properties.enableSoftDelete"),
        peers=(
            "CKV_AZURE_42",
            "CKV_AZURE_110",
            "azure-policy:0b60c0b2-2dc2-4e1c-b5c9-abbed971de53",
        ),
    ),
    Rule(
        name="azure-keyvault-vault-require-rbac",
        description="Key vaults authorize data-plane access with Azure RBAC.",
        severity=Severity.MEDIUM,
        resource_types=(VAULT,),
        controls=(HIPAA_ACCESS, HIPAA_UNIQUE_USER, GDPR_SECURITY),
        frameworks=frozenset({"baseline"}),
        remediation="Set properties.enableRbacAuthorization: true and grant Key Vault Crypto "
        "Service Encryption User to the workspace identity.",
        check=_check_rbac,
        reads=("properties.enableRbacAuthorization",),
        peers=("azure-policy:12d4fa5e-1f9f-4c21-97a9-b99b3c6611b5",),
    ),
    Rule(
        name="azure-keyvault-vault-disallow-public-network",
        description="Key vaults are not open to every network.",
        severity=Severity.HIGH,
        resource_types=(VAULT,),
        controls=(HIPAA_ACCESS, GDPR_BY_DESIGN, GDPR_SECURITY),
        frameworks=frozenset({"baseline"}),
        remediation="Set properties.publicNetworkAccess: Disabled (with a private endpoint) or "
        "networkAcls.defaultAction: Deny with bypass AzureServices.",
        check=_check_public_network,
        reads=("properties.publicNetworkAccess", "properties.networkAcls.defaultAction"),
        peers=("CKV_AZURE_109", "CKV_AZURE_189"),
    ),
)

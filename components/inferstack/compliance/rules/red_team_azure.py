"""Red-team reports on Azure ML: the report storage account uses a customer-managed key and a
lifecycle rule deletes the reports.

The component tags the storage account garak's jobs upload to with the reserved purpose
(``red-team-reports``). Its lifecycle policy and blob service settings are companion resources,
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
from inferstack.compliance.rules._stack import companions, known_strings

STORAGE_ACCOUNT: Final = "azure-native:storage:StorageAccount"
MANAGEMENT_POLICY: Final = "azure-native:storage:ManagementPolicy"
BLOB_SERVICE: Final = "azure-native:storage:BlobServiceProperties"


def _problems(resources: Sequence[StackResource], account: StackResource) -> tuple[str | None, ...]:
    return _account_encryption(account), _account_expiry(resources, account)


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


RULES: Final = (
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
        check=report_store_check((STORAGE_ACCOUNT,), "account", _problems),
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
)

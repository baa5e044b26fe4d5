"""Azure Monitor: diagnostic settings on the workspace, endpoints and vaults; log retention."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from inferstack.compliance.model import Report, Rule, RuleConfig, Scope, Severity, StackResource
from inferstack.compliance.props import UNKNOWN, as_bool, elements, get, present
from inferstack.compliance.rules._common import (
    GDPR_BREACH,
    GDPR_SECURITY,
    HIPAA_ACTIVITY_REVIEW,
    HIPAA_AUDIT,
    unverifiable,
)
from inferstack.compliance.rules._retention import retention_rules
from inferstack.compliance.rules._stack import of_type, refers_to
from inferstack.compliance.rules.azure_keyvault import VAULT
from inferstack.compliance.rules.azure_ml import ONLINE_ENDPOINT, WORKSPACE

DIAGNOSTIC_SETTING: Final = "azure-native:monitor:DiagnosticSetting"
LOG_ANALYTICS: Final = "azure-native:operationalinsights:Workspace"
MONITORED_TYPES: Final = (WORKSPACE, ONLINE_ENDPOINT, VAULT)
DESTINATIONS: Final = (
    "workspaceId",
    "storageAccountId",
    "eventHubAuthorizationRuleId",
    "marketplacePartnerId",
)


def _collects_logs(setting: StackResource) -> Any:
    logs = get(setting.props, "logs")
    if logs is UNKNOWN:
        return UNKNOWN
    for entry in elements(setting.props, "logs"):
        enabled = get(entry, "enabled")
        if entry is UNKNOWN or enabled is UNKNOWN:
            return UNKNOWN
        if as_bool(enabled) is True:
            return True
    return False


def _verdict(setting: StackResource) -> Any:
    collects = _collects_logs(setting)
    if collects is UNKNOWN:
        return UNKNOWN
    return collects and any(present(setting.props, field) for field in DESTINATIONS)


def _check_diagnostics(resources: Sequence[StackResource], report: Report, cfg: RuleConfig) -> None:
    settings = of_type(resources, DIAGNOSTIC_SETTING)
    for target in of_type(resources, *MONITORED_TYPES):
        linked = [s for s in settings if refers_to(s, "resourceUri", target, frozenset())]
        verdicts = [_verdict(setting) for setting in linked]
        if True in verdicts:
            continue
        if UNKNOWN in verdicts:
            report(
                unverifiable(
                    "logs", "the diagnostic setting's log categories are known only after deploy"
                ),
                target.urn,
            )
        elif linked:
            report(f"'{target.name}' sends no enabled log category to a destination", target.urn)
        else:
            report(
                f"'{target.name}' has no diagnostic setting, so its audit logs are lost", target.urn
            )


RULES: Final = (
    Rule(
        name="azure-monitor-resource-require-diagnostic-settings",
        description="ML workspaces, online endpoints and key vaults send their logs to Log "
        "Analytics, storage or Event Hubs.",
        severity=Severity.MEDIUM,
        resource_types=(*MONITORED_TYPES, DIAGNOSTIC_SETTING),
        controls=(HIPAA_AUDIT, HIPAA_ACTIVITY_REVIEW, GDPR_SECURITY, GDPR_BREACH),
        frameworks=frozenset({"hipaa"}),
        remediation="Add a monitor DiagnosticSetting with resourceUri set to the resource's id, "
        "logs [{categoryGroup: allLogs, enabled: true}] and a workspaceId.",
        check=_check_diagnostics,
        reads=("logs", "logs[*]", "logs[*].enabled"),
        references=(
            "resourceUri",
            "workspaceId",
            "storageAccountId",
            "eventHubAuthorizationRuleId",
            "marketplacePartnerId",
        ),
        scope=Scope.STACK,
        peers=("azure-policy:cf820ca0-f99e-4f3e-84fb-66e913812d21",),
    ),
    *retention_rules(
        prefix="azure-monitor-loganalytics",
        resource_types=(LOG_ANALYTICS,),
        field="retentionInDays",
        absent_never_expires=False,
        what="Log Analytics workspaces",
    ),
)

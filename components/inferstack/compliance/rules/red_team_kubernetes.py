"""Red-team reports on Kubernetes: the report volume names a storage class and a retention.

The component labels the PersistentVolumeClaim garak writes to with the reserved purpose
(``red-team-reports``); the storage class is what encrypts it at rest, and the retention
annotation is what the clean-up honours.
"""

from __future__ import annotations

from typing import Final

from inferstack.compliance.model import Report, Resource, Rule, RuleConfig, Severity
from inferstack.compliance.props import UNKNOWN, get
from inferstack.compliance.rules._common import (
    GDPR_SECURITY,
    GDPR_STORAGE_LIMITATION,
    OWASP_DISCLOSURE,
    unverifiable,
)
from inferstack.compliance.rules._red_team import PURPOSE, holds_reports

RETENTION: Final = "inferstack.io/retention-days"
PVC: Final = "kubernetes:core/v1:PersistentVolumeClaim"


def _check_report_volume(res: Resource, report: Report, cfg: RuleConfig) -> None:
    purpose = get(res.props, "metadata", "labels", PURPOSE)
    if not holds_reports(purpose, f"metadata.labels.{PURPOSE}", "volume", report):
        return
    storage_class = get(res.props, "spec", "storageClassName")
    if storage_class is UNKNOWN:
        report(unverifiable("spec.storageClassName"))
    elif not isinstance(storage_class, str) or not storage_class:
        report(
            f"red-team report volume '{res.name}' names no storage class: the cluster default "
            "is not known to encrypt at rest"
        )
    days = get(res.props, "metadata", "annotations", RETENTION)
    if days is UNKNOWN:
        report(unverifiable(f"metadata.annotations.{RETENTION}"))
    elif not (isinstance(days, str) and days.isdigit() and int(days) > 0):
        report(f"red-team report volume '{res.name}' declares no retention ({RETENTION})")


RULES: Final = (
    Rule(
        name="kubernetes-redteam-volume-require-encrypted-retention",
        description="Red-team report volumes name a storage class (which must encrypt at "
        "rest) and declare how long reports are kept.",
        severity=Severity.HIGH,
        resource_types=(PVC,),
        controls=(OWASP_DISCLOSURE, GDPR_SECURITY, GDPR_STORAGE_LIMITATION),
        frameworks=frozenset({"owasp-llm", "gdpr"}),
        remediation="Set inferstack:kubernetes.red_team.storage_class_name to a class that "
        "encrypts at rest, and keep security.red_team.report_retention_days.",
        check=_check_report_volume,
        reads=(
            f"metadata.labels.{PURPOSE}",
            "spec.storageClassName",
            f"metadata.annotations.{RETENTION}",
        ),
    ),
)

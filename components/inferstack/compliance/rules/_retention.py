"""Log retention bounds shared by CloudWatch Logs, Log Analytics and Cloud Logging buckets.

HIPAA pack: a minimum, so audit trails survive long enough to be reviewed (default 365 days).
GDPR pack: a maximum, because personal data in logs must not be kept forever (default 2192 days,
six years, which still lets one deployment satisfy both frameworks). "Never expire" meets any
minimum and breaks every maximum.
"""

from __future__ import annotations

from typing import Any, Final

from inferstack.compliance.model import Report, Resource, Rule, RuleConfig, Severity
from inferstack.compliance.props import MISSING, UNKNOWN, as_number, get
from inferstack.compliance.rules._common import (
    GDPR_STORAGE_LIMITATION,
    HIPAA_ACTIVITY_REVIEW,
    HIPAA_AUDIT,
    number_setting,
    unverifiable,
)

HIPAA_MIN_DAYS: Final = 365
GDPR_MAX_DAYS: Final = 2192


def _days(res: Resource, field: str, absent_never_expires: bool, report: Report) -> Any:
    """Retention in days; None = never expires; MISSING = platform default; reports unknowns."""
    value = get(res.props, field)
    if value is UNKNOWN:
        report(unverifiable(field))
        return UNKNOWN
    if value is MISSING or value is None:
        return None if absent_never_expires else MISSING
    days = as_number(value)
    if days == 0 and absent_never_expires:
        return None
    return days


def minimum_check(field: str, absent_never_expires: bool) -> Any:
    def check(res: Resource, report: Report, cfg: RuleConfig) -> None:
        minimum = cfg.number("minRetentionDays")
        days = _days(res, field, absent_never_expires, report)
        if days is UNKNOWN or minimum is None or days is None:
            return
        if days is MISSING:
            report(f"{field} is not set, so the platform's short default applies")
        elif days < minimum:
            report(f"{field} is {int(days)} days, below the {int(minimum)} day minimum")

    return check


def maximum_check(field: str, absent_never_expires: bool) -> Any:
    def check(res: Resource, report: Report, cfg: RuleConfig) -> None:
        maximum = cfg.number("maxRetentionDays")
        days = _days(res, field, absent_never_expires, report)
        if days is UNKNOWN:
            return
        if days is None:
            report(f"logs never expire ({field} unset or 0): personal data would be kept forever")
        elif days is MISSING:
            report(f"{field} is not set: state how long logs are kept")
        elif maximum is not None and days > maximum:
            report(f"{field} is {int(days)} days, above the {int(maximum)} day maximum")

    return check


def retention_rules(
    *,
    prefix: str,
    resource_types: tuple[str, ...],
    field: str,
    absent_never_expires: bool,
    what: str,
    min_peers: tuple[str, ...] = (),
) -> tuple[Rule, Rule]:
    return (
        Rule(
            name=f"{prefix}-require-min-retention",
            description=f"{what} keep records at least as long as the audit minimum.",
            severity=Severity.MEDIUM,
            resource_types=resource_types,
            controls=(HIPAA_AUDIT, HIPAA_ACTIVITY_REVIEW),
            frameworks=frozenset({"hipaa"}),
            remediation=f"Set {field} to at least the minimum (observability.log_retention_days).",
            check=minimum_check(field, absent_never_expires),
            reads=(field,),
            peers=min_peers,
            settings=(
                number_setting(
                    "minRetentionDays",
                    "Shortest allowed retention in days.",
                    None,
                    hipaa=HIPAA_MIN_DAYS,
                ),
            ),
        ),
        Rule(
            name=f"{prefix}-limit-max-retention",
            description=f"{what} expire: retention is set and no longer than the maximum.",
            severity=Severity.MEDIUM,
            resource_types=resource_types,
            controls=(GDPR_STORAGE_LIMITATION,),
            frameworks=frozenset({"gdpr"}),
            remediation=f"Set {field} to a value between 1 and the maximum "
            "(observability.log_retention_days); never use 0 / never expire.",
            check=maximum_check(field, absent_never_expires),
            reads=(field,),
            settings=(
                number_setting(
                    "maxRetentionDays",
                    "Longest allowed retention in days.",
                    None,
                    gdpr=GDPR_MAX_DAYS,
                ),
            ),
        ),
    )

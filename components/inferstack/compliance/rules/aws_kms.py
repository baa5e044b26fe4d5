"""AWS KMS: customer-managed keys rotate their key material."""

from __future__ import annotations

from typing import Final

from inferstack.compliance.model import Report, Resource, Rule, RuleConfig, Severity
from inferstack.compliance.props import MISSING, UNKNOWN, as_bool, as_number, get
from inferstack.compliance.rules._common import (
    GDPR_SECURITY,
    HIPAA_ENCRYPTION,
    number_setting,
    unverifiable,
)

KEY: Final = "aws:kms/key:Key"
SYMMETRIC_SPECS: Final = ("SYMMETRIC_DEFAULT",)


def _check_rotation(res: Resource, report: Report, cfg: RuleConfig) -> None:
    spec = get(res.props, "customerMasterKeySpec")
    usage = get(res.props, "keyUsage")
    if UNKNOWN in (spec, usage):
        report(unverifiable("customerMasterKeySpec/keyUsage"))
        return
    # AWS can rotate only symmetric encryption keys; others are out of scope, not exempt by mistake.
    if spec not in (MISSING, None, *SYMMETRIC_SPECS) or usage not in (
        MISSING,
        None,
        "ENCRYPT_DECRYPT",
    ):
        return
    enabled = get(res.props, "enableKeyRotation")
    if enabled is UNKNOWN:
        report(unverifiable("enableKeyRotation"))
        return
    if as_bool(enabled) is not True:
        report("automatic key rotation is off (enableKeyRotation is not true)")
        return
    period = get(res.props, "rotationPeriodInDays")
    maximum = cfg.number("maxRotationDays")
    if period is UNKNOWN:
        report(unverifiable("rotationPeriodInDays"))
        return
    days = as_number(period)
    if days is not None and maximum is not None and days > maximum:
        report(f"keys rotate every {int(days)} days, longer than {int(maximum)}")


RULES: Final = (
    Rule(
        name="aws-kms-key-require-rotation",
        description="Customer-managed symmetric KMS keys rotate automatically.",
        severity=Severity.MEDIUM,
        resource_types=(KEY,),
        controls=(HIPAA_ENCRYPTION, GDPR_SECURITY),
        frameworks=frozenset({"baseline"}),
        remediation="Set enableKeyRotation: true (and rotationPeriodInDays within the maximum).",
        check=_check_rotation,
        reads=("customerMasterKeySpec", "keyUsage", "enableKeyRotation", "rotationPeriodInDays"),
        peers=("CKV_AWS_7", "cdk-nag:KMSBackingKeyRotationEnabled"),
        settings=(
            number_setting("maxRotationDays", "Longest allowed rotation period in days.", 365),
        ),
    ),
)

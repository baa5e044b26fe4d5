"""Google Cloud KMS: crypto keys rotate at least every 90 days."""

from __future__ import annotations

import re
from typing import Final

from inferstack.compliance.model import Report, Resource, Rule, RuleConfig, Severity
from inferstack.compliance.props import MISSING, UNKNOWN, get
from inferstack.compliance.rules._common import (
    GDPR_SECURITY,
    HIPAA_ENCRYPTION,
    number_setting,
    unverifiable,
)

CRYPTO_KEY: Final = "gcp:kms/cryptoKey:CryptoKey"
_DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")
DAY_SECONDS: Final = 86_400


def _check_rotation(res: Resource, report: Report, cfg: RuleConfig) -> None:
    purpose = get(res.props, "purpose")
    if purpose is UNKNOWN:
        report(unverifiable("purpose"))
        return
    # Only symmetric ENCRYPT_DECRYPT keys support automatic rotation.
    if purpose not in (MISSING, None, "ENCRYPT_DECRYPT"):
        return
    period = get(res.props, "rotationPeriod")
    maximum = cfg.number("maxRotationDays")
    if period is UNKNOWN:
        report(unverifiable("rotationPeriod"))
        return
    if period in (MISSING, None, ""):
        report("the key never rotates (rotationPeriod unset)")
        return
    match = _DURATION.match(str(period))
    if match is None:
        report(f"rotationPeriod {period!r} is not a duration in seconds such as '7776000s'")
        return
    days = float(match.group(1)) / DAY_SECONDS
    if maximum is not None and days > maximum:
        report(f"the key rotates every {days:g} days, longer than {int(maximum)}")


RULES: Final = (
    Rule(
        name="gcp-kms-cryptokey-require-rotation",
        description="Cloud KMS symmetric keys rotate at least every 90 days.",
        severity=Severity.MEDIUM,
        resource_types=(CRYPTO_KEY,),
        controls=(HIPAA_ENCRYPTION, GDPR_SECURITY),
        frameworks=frozenset({"baseline"}),
        remediation="Set rotationPeriod to '7776000s' (90 days) or less.",
        check=_check_rotation,
        reads=("purpose", "rotationPeriod"),
        peers=("CKV_GCP_43",),
        settings=(number_setting("maxRotationDays", "Longest allowed rotation period.", 90),),
    ),
)

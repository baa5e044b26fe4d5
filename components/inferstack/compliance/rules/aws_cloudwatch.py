"""Amazon CloudWatch Logs: log groups are KMS-encrypted and kept for a bounded time."""

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

LOG_GROUP: Final = "aws:cloudwatch/logGroup:LogGroup"


def _check_log_group_kms(res: Resource, report: Report, cfg: RuleConfig) -> None:
    require_present(
        report,
        res.props,
        ("kmsKeyId",),
        "the log group is not encrypted with a customer-managed key (kmsKeyId unset)",
    )


RULES: Final = (
    Rule(
        name="aws-cloudwatch-loggroup-require-kms",
        description="Log groups (which can hold prompts and responses) are encrypted with a "
        "customer-managed KMS key.",
        severity=Severity.MEDIUM,
        resource_types=(LOG_GROUP,),
        controls=(
            HIPAA_ENCRYPTION,
            HIPAA_AUDIT,
            GDPR_SECURITY,
            GDPR_CONFIDENTIALITY,
            OWASP_DISCLOSURE,
        ),
        frameworks=frozenset({"baseline"}),
        remediation="Set kmsKeyId to the deployment's key; its key policy must allow the "
        "logs.<region>.amazonaws.com principal.",
        check=_check_log_group_kms,
        reads=(),
        references=("kmsKeyId",),
        peers=("CKV_AWS_158",),
    ),
    *retention_rules(
        prefix="aws-cloudwatch-loggroup",
        resource_types=(LOG_GROUP,),
        field="retentionInDays",
        absent_never_expires=True,
        what="CloudWatch log groups",
        min_peers=("CKV_AWS_66", "CKV_AWS_338"),
    ),
)

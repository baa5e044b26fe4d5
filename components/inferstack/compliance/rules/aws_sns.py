"""Amazon SNS: alarm and notification topics are encrypted with a customer-managed key."""

from __future__ import annotations

from typing import Final

from inferstack.compliance.model import Report, Resource, Rule, RuleConfig, Severity
from inferstack.compliance.rules._common import (
    GDPR_SECURITY,
    HIPAA_ENCRYPTION,
    OWASP_DISCLOSURE,
    require_present,
)

TOPIC: Final = "aws:sns/topic:Topic"


def _check_topic_kms(res: Resource, report: Report, cfg: RuleConfig) -> None:
    require_present(
        report,
        res.props,
        ("kmsMasterKeyId",),
        "the topic is not encrypted with a KMS key (kmsMasterKeyId unset)",
    )


RULES: Final = (
    Rule(
        name="aws-sns-topic-require-kms",
        description="SNS topics are encrypted at rest with a KMS key.",
        severity=Severity.MEDIUM,
        resource_types=(TOPIC,),
        controls=(HIPAA_ENCRYPTION, GDPR_SECURITY, OWASP_DISCLOSURE),
        frameworks=frozenset({"baseline"}),
        remediation="Set kmsMasterKeyId to the deployment's KMS key (its key policy must let "
        "CloudWatch publish).",
        check=_check_topic_kms,
        reads=(),
        references=("kmsMasterKeyId",),
        peers=("CKV_AWS_26", "cdk-nag:SNSEncryptedKMS"),
    ),
)

"""Resource policies: the key policy, bucket policies, the topic policy, the API's policy.

Service principals are always narrowed by a condition naming this account or this
deployment's resources (``aws:SourceAccount``, ``aws:SourceArn`` or the encryption context),
so no other account can make the service use the key or write here on its behalf.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from inferstack.aws.documents import Document, document, statement

KEY_ADMIN_ACTIONS = (
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:RotateKeyOnDemand",
)
KEY_USE_ACTIONS = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:DescribeKey",
)


@dataclass(frozen=True)
class KeyGrants:
    account: str
    partition: str
    role_arns: tuple[str, ...]
    log_group_arns: tuple[str, ...]
    logs_service: str
    via_services: tuple[str, ...]
    publishers: tuple[str, ...] = ("cloudwatch.amazonaws.com", "budgets.amazonaws.com")
    log_delivery: bool = True  # S3 server access logs land in a bucket encrypted with the key


def key_policy(grants: KeyGrants) -> Document:
    root = f"arn:{grants.partition}:iam::{grants.account}:root"
    statements = [
        # The account administers the key through IAM, but reads data only through the
        # services below: nobody decrypts with it directly except the roles named here.
        statement("AdministerKey", KEY_ADMIN_ACTIONS, "*", principal={"AWS": root}),
        statement(
            "UseThroughDeploymentServices",
            KEY_USE_ACTIONS,
            "*",
            principal={"AWS": root},
            condition={
                "StringEquals": {
                    "kms:CallerAccount": grants.account,
                    "kms:ViaService": list(grants.via_services),
                }
            },
        ),
        statement(
            "UseByDeploymentRoles",
            ["kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"],
            "*",
            principal={"AWS": list(grants.role_arns)},
        ),
        statement(
            "EncryptDeploymentLogs",
            [
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            "*",
            principal={"Service": grants.logs_service},
            # CloudWatch Logs' documented scope: the encryption context names the log group,
            # whose ARN holds this account; AWS documents no aws:SourceAccount for this call.
            condition={
                "ArnLike": {"kms:EncryptionContext:aws:logs:arn": list(grants.log_group_arns)}
            },
        ),
    ]
    if grants.log_delivery:
        statements.append(
            statement(
                "DeliverS3AccessLogs",
                ["kms:GenerateDataKey*", "kms:Decrypt"],
                "*",
                principal={"Service": "logging.s3.amazonaws.com"},
                condition={"StringEquals": {"aws:SourceAccount": grants.account}},
            )
        )
    if grants.publishers:
        # CloudWatch alarms and budget alerts publish to the encrypted notification topic, on
        # behalf of this account only.
        statements.append(
            statement(
                "PublishToEncryptedTopics",
                ["kms:Decrypt", "kms:GenerateDataKey*"],
                "*",
                principal={"Service": list(grants.publishers)},
                condition={"StringEquals": {"aws:SourceAccount": grants.account}},
            )
        )
    return document(*statements)


def _deny_insecure(bucket_arn: str) -> list[Document]:
    resources = [bucket_arn, f"{bucket_arn}/*"]
    return [
        statement(
            "DenyInsecureTransport",
            "s3:*",
            resources,
            effect="Deny",
            principal="*",
            condition={"Bool": {"aws:SecureTransport": "false"}},
        ),
        statement(
            "DenyOutdatedTls",
            "s3:*",
            resources,
            effect="Deny",
            principal="*",
            condition={"NumericLessThan": {"s3:TlsVersion": "1.2"}},
        ),
    ]


def _deny_non_kms(bucket_arn: str) -> Document:
    # Uploads without an encryption header get the bucket's SSE-KMS default; uploads asking
    # for anything but KMS are refused.
    return statement(
        "DenyNonKmsEncryption",
        "s3:PutObject",
        f"{bucket_arn}/*",
        effect="Deny",
        principal="*",
        condition={
            "Null": {"s3:x-amz-server-side-encryption": "false"},
            "StringNotEquals": {"s3:x-amz-server-side-encryption": ["aws:kms", "aws:kms:dsse"]},
        },
    )


def artifact_bucket_policy(bucket_arn: str) -> Document:
    return document(*_deny_insecure(bucket_arn), _deny_non_kms(bucket_arn))


def log_bucket_policy(
    log_bucket_arn: str, source_bucket_arns: Sequence[str], account: str
) -> Document:
    deliver = statement(
        "AllowServerAccessLogDelivery",
        "s3:PutObject",
        f"{log_bucket_arn}/*",
        principal={"Service": "logging.s3.amazonaws.com"},
        condition={
            "ArnLike": {"aws:SourceArn": list(source_bucket_arns)},
            "StringEquals": {"aws:SourceAccount": account},
        },
    )
    return document(*_deny_insecure(log_bucket_arn), _deny_non_kms(log_bucket_arn), deliver)


def topic_policy(topic_arn: str, account: str, publishers: Sequence[str] = ()) -> Document:
    statements = []
    if publishers:
        statements.append(
            statement(
                "AllowAccountPublishers",
                "sns:Publish",
                topic_arn,
                principal={"Service": list(publishers)},
                condition={"StringEquals": {"aws:SourceAccount": account}},
            )
        )
    statements.append(
        statement(
            "DenyInsecureTransport",
            "sns:Publish",
            topic_arn,
            effect="Deny",
            principal="*",
            condition={"Bool": {"aws:SecureTransport": "false"}},
        )
    )
    return document(*statements)


def api_resource_policy(
    api_arn: str, account_root: str, allowed_cidrs: Sequence[str], *, signed: bool = True
) -> Document | None:
    """Who may call the front door at all, before its authentication runs.

    ``signed`` (IAM auth): only this account's principals, and from ``allowed_cidrs`` when
    given. Unsigned callers (API keys) have no principal to name, so they are admitted by
    network only; with no ``allowed_cidrs`` there is nothing to restrict and no policy.
    """
    if not signed:
        if not allowed_cidrs:
            return None
        return document(
            statement(
                "AllowAllowedNetworks",
                "execute-api:Invoke",
                api_arn,
                principal="*",
                condition={"IpAddress": {"aws:SourceIp": list(allowed_cidrs)}},
            )
        )
    statements = [
        statement(
            "AllowAccountCallers",
            "execute-api:Invoke",
            api_arn,
            principal={"AWS": account_root},
        )
    ]
    if allowed_cidrs:
        statements.append(
            statement(
                "DenyOutsideAllowedNetworks",
                "execute-api:Invoke",
                api_arn,
                effect="Deny",
                principal="*",
                condition={"NotIpAddress": {"aws:SourceIp": list(allowed_cidrs)}},
            )
        )
    return document(*statements)

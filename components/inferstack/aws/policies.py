"""IAM, KMS, S3 and SNS policy documents, built from plain ARNs.

Every grant names its resources. ``"Resource": "*"`` appears only where AWS has no
resource-level permission for the action (``ecr:GetAuthorizationToken``, ``ec2:Describe*``,
``cloudwatch:PutMetricData`` scoped by namespace instead) and in key policies, where it means
"this key".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Document = dict[str, Any]
VERSION = "2012-10-17"

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
# SageMaker creates and removes the endpoint's network interfaces in the given subnets.
ENI_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
)
ENI_DESCRIBE_ACTIONS = (
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeVpcs",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
)


def document(*statements: Document) -> Document:
    return {"Version": VERSION, "Statement": list(statements)}


def statement(
    sid: str,
    actions: str | Sequence[str],
    resources: str | Sequence[str],
    *,
    effect: str = "Allow",
    principal: str | dict[str, Any] | None = None,
    condition: dict[str, dict[str, Any]] | None = None,
) -> Document:
    body: Document = {"Sid": sid, "Effect": effect}
    if principal is not None:
        body["Principal"] = principal
    body["Action"] = _one_or_list(actions)
    body["Resource"] = _one_or_list(resources)
    if condition:
        body["Condition"] = condition
    return body


def _one_or_list(values: str | Sequence[str]) -> str | list[str]:
    if isinstance(values, str):
        return values
    items = list(dict.fromkeys(values))
    return items[0] if len(items) == 1 else items


def assume_role(service: str) -> Document:
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "AssumedByService",
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
            }
        ],
    }


@dataclass(frozen=True)
class ExecutionGrants:
    """What the endpoint's execution role may touch, as ARNs."""

    repository_arn: str
    log_group_arn: str
    key_arn: str | None = None  # None when the key's own policy grants the role (a created key)
    metrics_namespace: str = "/aws/sagemaker/Endpoints*"
    model_bucket_arn: str | None = None
    model_key: str = ""  # an object key, or a prefix ending in "/"
    bucket_arn: str | None = None
    read_prefixes: tuple[str, ...] = ()
    write_prefixes: tuple[str, ...] = ()
    topic_arns: tuple[str, ...] = ()
    subnet_arns: tuple[str, ...] = ()
    security_group_arns: tuple[str, ...] = ()
    network_interface_arn: str | None = None
    secret_arn: str | None = None


def execution_policy(grants: ExecutionGrants) -> Document:
    statements = [
        statement(
            "PullServingImage",
            ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
            grants.repository_arn,
        ),
        # ECR has no resource-level permission for its login token.
        statement("GetRegistryToken", "ecr:GetAuthorizationToken", "*"),
        statement("CreateOwnLogGroup", "logs:CreateLogGroup", grants.log_group_arn),
        statement(
            "WriteOwnLogs",
            ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            [grants.log_group_arn, f"{grants.log_group_arn}:log-stream:*"],
        ),
        # PutMetricData has no resources; the namespace condition is its scope.
        statement(
            "PublishOwnMetrics",
            "cloudwatch:PutMetricData",
            "*",
            condition={"StringLike": {"cloudwatch:namespace": grants.metrics_namespace}},
        ),
    ]
    if grants.key_arn is not None:
        statements.append(
            statement(
                "UseDeploymentKey",
                ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                grants.key_arn,
            )
        )
    if grants.model_bucket_arn is not None:
        statements += _model_read(grants.model_bucket_arn, grants.model_key)
    if grants.bucket_arn is not None and grants.read_prefixes:
        statements.append(
            statement(
                "ReadRequests",
                "s3:GetObject",
                [f"{grants.bucket_arn}/{prefix}*" for prefix in grants.read_prefixes],
            )
        )
    if grants.bucket_arn is not None and grants.write_prefixes:
        statements.append(
            statement(
                "WriteResults",
                "s3:PutObject",
                [f"{grants.bucket_arn}/{prefix}*" for prefix in grants.write_prefixes],
            )
        )
    if grants.topic_arns:
        statements.append(statement("NotifyResults", "sns:Publish", grants.topic_arns))
    if grants.network_interface_arn is not None:
        statements.append(
            statement(
                "ManageEndpointInterfaces",
                ENI_ACTIONS,
                [
                    grants.network_interface_arn,
                    *grants.subnet_arns,
                    *grants.security_group_arns,
                ],
            )
        )
        # EC2 Describe calls have no resource-level permissions.
        statements.append(statement("DescribeNetwork", ENI_DESCRIBE_ACTIONS, "*"))
    if grants.secret_arn is not None:
        statements.append(
            statement("ReadHubToken", "secretsmanager:GetSecretValue", grants.secret_arn)
        )
    return document(*statements)


def _model_read(bucket_arn: str, key: str) -> list[Document]:
    if key.endswith(".tar.gz"):
        return [statement("ReadModelArtifact", "s3:GetObject", f"{bucket_arn}/{key}")]
    read = statement("ReadModelArtifacts", "s3:GetObject", f"{bucket_arn}/{key}*")
    listing = statement(
        "ListModelArtifacts",
        "s3:ListBucket",
        bucket_arn,
        condition={"StringLike": {"s3:prefix": [f"{key}*"]}} if key else None,
    )
    return [read, listing]


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
        # CloudWatch alarms and budget alerts publish to the encrypted notification topic.
        statements.append(
            statement(
                "PublishToEncryptedTopics",
                ["kms:Decrypt", "kms:GenerateDataKey*"],
                "*",
                principal={"Service": list(grants.publishers)},
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


def invoke_policy(
    endpoint_arn: str,
    *,
    is_async: bool,
    bucket_arn: str | None = None,
    key_arn: str | None = None,
    key_alias: str | None = None,
    s3_service: str | None = None,
    api_arn: str | None = None,
) -> Document:
    """What a caller needs: invoke this endpoint, and for async, hand over and fetch payloads.

    With ``key_alias``, ``key_arn`` may be the account's ``key/*`` pattern: the grant then holds
    only for the key carrying that alias, which names the key before it exists.
    """
    actions = (
        ["sagemaker:InvokeEndpointAsync"]
        if is_async
        else ["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"]
    )
    statements = [statement("InvokeEndpoint", actions, endpoint_arn)]
    if is_async and bucket_arn and key_arn and s3_service:
        key_condition: dict[str, dict[str, Any]] = {"StringEquals": {"kms:ViaService": s3_service}}
        if key_alias is not None:
            key_condition["ForAnyValue:StringEquals"] = {"kms:ResourceAliases": key_alias}
        statements += [
            statement("UploadRequests", "s3:PutObject", f"{bucket_arn}/async-input/*"),
            statement(
                "ReadResults",
                "s3:GetObject",
                [f"{bucket_arn}/async-output/*", f"{bucket_arn}/async-failure/*"],
            ),
            statement(
                "EncryptPayloads",
                ["kms:GenerateDataKey", "kms:Decrypt"],
                key_arn,
                condition=key_condition,
            ),
        ]
    if api_arn is not None:
        statements.append(statement("InvokeFrontDoor", "execute-api:Invoke", api_arn))
    return document(*statements)


def front_door_role_policy(endpoint_arn: str, is_async: bool) -> Document:
    action = "sagemaker:InvokeEndpointAsync" if is_async else "sagemaker:InvokeEndpoint"
    return document(statement("InvokeEndpoint", action, endpoint_arn))


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

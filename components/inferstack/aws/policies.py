"""Identity policies (the execution role, its network grants, callers) and the policy index.

Every grant names its resources. ``"Resource": "*"`` appears only where AWS has no
resource-level permission for the action (``ecr:GetAuthorizationToken``, ``ec2:Describe*``,
``cloudwatch:PutMetricData`` scoped by namespace instead) and in key policies, where it means
"this key". Resource policies live in :mod:`inferstack.aws.resource_policies`, the language in
:mod:`inferstack.aws.documents`; both are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inferstack.aws.documents import VERSION, Document, assume_role, document, statement
from inferstack.aws.resource_policies import (
    KEY_ADMIN_ACTIONS,
    KEY_USE_ACTIONS,
    KeyGrants,
    api_resource_policy,
    artifact_bucket_policy,
    key_policy,
    log_bucket_policy,
    topic_policy,
)

__all__ = [
    "ENI_ACTIONS",
    "ENI_DESCRIBE_ACTIONS",
    "KEY_ADMIN_ACTIONS",
    "KEY_USE_ACTIONS",
    "VERSION",
    "Document",
    "ExecutionGrants",
    "KeyGrants",
    "NetworkGrants",
    "api_resource_policy",
    "artifact_bucket_policy",
    "assume_role",
    "document",
    "execution_policy",
    "front_door_role_policy",
    "invoke_policy",
    "key_policy",
    "log_bucket_policy",
    "network_policy",
    "scan_execution_policy",
    "scan_scheduler_policy",
    "scan_task_policy",
    "service_trust_policy",
    "statement",
    "topic_policy",
]

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
    for sid, action, prefixes in (
        ("ReadRequests", "s3:GetObject", grants.read_prefixes),
        ("WriteResults", "s3:PutObject", grants.write_prefixes),
    ):
        if grants.bucket_arn is not None and prefixes:
            objects = [f"{grants.bucket_arn}/{prefix}*" for prefix in prefixes]
            statements.append(statement(sid, action, objects))
    if grants.topic_arns:
        statements.append(statement("NotifyResults", "sns:Publish", grants.topic_arns))
    if grants.secret_arn is not None:
        statements.append(
            statement("ReadHubToken", "secretsmanager:GetSecretValue", grants.secret_arn)
        )
    return document(*statements)


@dataclass(frozen=True)
class NetworkGrants:
    """Where the endpoint's interfaces may go: subnets and security groups by ARN or by tag.

    Subnets and groups you give are named by ARN. Those the stack creates get their ids only at
    deploy; they carry the deployment's tag (``tag``), which scopes them instead, so the
    document is complete at preview and the policy packs read it.
    """

    account_pattern: str  # arn:<partition>:ec2:<region>:<account>
    subnet_arns: tuple[str, ...] = ()
    security_group_arns: tuple[str, ...] = ()
    vpc_arn: str | None = None
    tag: tuple[str, str] | None = None

    @property
    def network_interfaces(self) -> str:
        return f"{self.account_pattern}:network-interface/*"


def network_policy(grants: NetworkGrants) -> Document:
    """SageMaker attaches the endpoint to its subnets: interfaces there, and nowhere else.

    A new interface needs the interface, its subnet and its security group authorized: the
    subnet and group are named by ARN, or by the deployment's tag when the stack creates them.
    Every interface action is conditioned on the subnets when they are known (``ec2:Subnet``)
    and on the VPC, given or created (``ec2:Vpc``; a created VPC's id exists after deploy).
    """
    tagged = (
        {"StringEquals": {f"aws:ResourceTag/{grants.tag[0]}": grants.tag[1]}}
        if grants.tag
        else None
    )
    statements = []
    within: dict[str, Any] = {}
    if grants.subnet_arns:
        within["ec2:Subnet"] = list(grants.subnet_arns)
    if grants.vpc_arn is not None:
        within["ec2:Vpc"] = grants.vpc_arn
    condition: dict[str, dict[str, Any]] = {"ArnEquals": within} if within else {}
    statements.append(
        statement(
            "ManageEndpointInterfaces",
            ENI_ACTIONS,
            grants.network_interfaces,
            condition=condition or None,
        )
    )
    named = [*grants.subnet_arns, *grants.security_group_arns]
    if named:
        statements.append(statement("AttachToEndpointSubnets", "ec2:CreateNetworkInterface", named))
    created = [f"{grants.account_pattern}:subnet/*"] if not grants.subnet_arns else []
    if not grants.security_group_arns:
        created.append(f"{grants.account_pattern}:security-group/*")
    if created:
        assert tagged is not None, "created subnets or groups are scoped by the deployment's tag"
        if grants.vpc_arn is not None:
            tagged = {**tagged, "ArnEquals": {"ec2:Vpc": grants.vpc_arn}}
        statements.append(
            statement(
                "AttachToDeploymentNetwork", "ec2:CreateNetworkInterface", created, condition=tagged
            )
        )
    # EC2 Describe calls have no resource-level permissions.
    statements.append(statement("DescribeNetwork", ENI_DESCRIBE_ACTIONS, "*"))
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


def invoke_policy(
    endpoint_arn: str,
    *,
    is_async: bool,
    gateway_arn: str | None = None,
    bucket_arn: str | None = None,
    key_arn: str | None = None,
    key_alias: str | None = None,
    s3_service: str | None = None,
) -> Document:
    """What a caller needs: invoke the gateway (real-time), or for async, invoke the endpoint,
    hand over and fetch payloads.

    With ``key_alias``, ``key_arn`` may be the account's ``key/*`` pattern: the grant then holds
    only for the key carrying that alias, which names the key before it exists.
    """
    if gateway_arn is not None:
        # Real-time callers go through the guard gateway; only its role invokes the endpoint.
        return document(statement("InvokeGateway", "lambda:InvokeFunction", gateway_arn))
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
    return document(*statements)


def front_door_role_policy(gateway_arn: str) -> Document:
    """API Gateway invokes the guard gateway function, never the endpoint."""
    return document(statement("InvokeGateway", "lambda:InvokeFunction", gateway_arn))


# -- scheduled red-team scans (inferstack.aws.redteam) ------------------------------------------

SCAN_PULL_ACTIONS = (
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchCheckLayerAvailability",
)


def service_trust_policy(service: str, account: str) -> Document:
    """``service`` assumes the role for this account only (the confused-deputy guard).

    AWS documents ``aws:SourceAccount`` in the trust policies of ECS task roles ("Amazon ECS
    task IAM role") and of EventBridge Scheduler's execution role ("Set up the execution role").
    """
    trust = assume_role(service)
    trust["Statement"][0]["Condition"] = {"StringEquals": {"aws:SourceAccount": account}}
    return trust


def scan_execution_policy(repository_arn: str, log_group_arn: str) -> Document:
    """The ECS agent pulls the scan image from its repository and writes the scan's log group."""
    return document(
        statement("PullScanImage", SCAN_PULL_ACTIONS, repository_arn),
        # ECR has no resource-level permission for its login token.
        statement("GetRegistryToken", "ecr:GetAuthorizationToken", "*"),
        statement(
            "WriteScanLogs",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            f"{log_group_arn}:log-stream:*",
        ),
    )


def scan_task_policy(
    gateway_arn: str,
    bucket_arn: str,
    prefix: str,
    *,
    key_arn: str | None,
    s3_service: str,
) -> Document:
    """What the scan itself does: invoke the gateway, upload its reports SSE-KMS under ``prefix``.

    ``key_arn``: a key you bring (a created key's policy names the task role). S3 needs
    ``kms:GenerateDataKey`` to encrypt an upload, and ``kms:Decrypt`` to complete a multipart
    upload (boto3 splits files over 8 MB): S3 User Guide, "Uploading and copying objects using
    multipart upload", permissions.
    """
    statements = [
        statement("InvokeGateway", "lambda:InvokeFunction", gateway_arn),
        statement(
            "WriteReports",
            "s3:PutObject",
            f"{bucket_arn}/{prefix}*",
            condition={"StringEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
        ),
    ]
    if key_arn is not None:
        statements.append(
            statement(
                "EncryptReports",
                ["kms:GenerateDataKey", "kms:Decrypt"],
                key_arn,
                condition={"StringEquals": {"kms:ViaService": s3_service}},
            )
        )
    return document(*statements)


def scan_scheduler_policy(
    task_definition_arns: list[str], cluster_arn: str, passed_role_arns: list[str]
) -> Document:
    """EventBridge Scheduler runs the scan's task definitions in its cluster and hands ECS the
    task's two roles, and nothing else (AWS: "Amazon ECS EventBridge IAM Role", with the
    managed policy's ``*`` resources narrowed to these ARNs)."""
    return document(
        statement(
            "RunScanTask",
            "ecs:RunTask",
            task_definition_arns,
            condition={"ArnEquals": {"ecs:cluster": cluster_arn}},
        ),
        statement(
            "PassScanRoles",
            "iam:PassRole",
            passed_role_arns,
            condition={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        ),
    )

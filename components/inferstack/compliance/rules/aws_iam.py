"""AWS IAM: the endpoint's execution role gets least privilege, not AWS's broad managed policies.

Policy documents are read whether given as objects or JSON text. Patterns are judged by what
they expand to: ``*:*`` and ``iam:*`` are wildcard actions, ``arn:aws:s3:::*`` and
``network-interface/*`` wildcard resources on which only actions AWS cannot scope may be
granted. Resource ARNs computed by the cloud are unknown at preview and count as specific; an
unknown action, or a whole document built from outputs as JSON text, is unverifiable. Trust and
resource policies are :mod:`inferstack.compliance.rules.aws_iam_trust`.
"""

from __future__ import annotations

from collections.abc import Iterator
from fnmatch import fnmatchcase
from typing import Any, Final

from inferstack.compliance.model import Report, Resource, Rule, RuleConfig, Severity
from inferstack.compliance.props import MISSING, elements, get
from inferstack.compliance.rules._common import (
    GDPR_BY_DESIGN,
    GDPR_SECURITY,
    HIPAA_ACCESS,
    HIPAA_UNIQUE_USER,
    OWASP_AGENCY,
    strings_setting,
)
from inferstack.compliance.rules._iam import (
    alias_bound,
    as_list,
    covered,
    known,
    narrowed,
    statements,
    wildcard_action,
    wildcard_resource,
)

ROLE: Final = "aws:iam/role:Role"
DOCUMENT_TYPES: Final = {
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/policy:Policy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
}
ATTACHMENT_TYPES: Final = {
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "policyArn",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment": "policyArn",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment": "policyArn",
    "aws:iam/policyAttachment:PolicyAttachment": "policyArn",
}
ATTACHMENT_LIST_TYPES: Final = {
    ROLE: "managedPolicyArns",
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": "policyArns",
}
# Actions that create or attach network interfaces: on "*" they need a VPC or subnet condition.
ENI_ACTIONS: Final = (
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
    "ec2:AttachNetworkInterface",
    "ec2:ModifyNetworkInterfaceAttribute",
)
NETWORK_KEYS: Final = ("ec2:vpc", "ec2:subnet", "ec2:vpcid", "ec2:subnetid", "aws:sourcevpc")
BROAD_MANAGED_POLICIES: Final = (
    "AdministratorAccess",
    "PowerUserAccess",
    "IAMFullAccess",
    "AmazonSageMakerFullAccess",
    "AmazonS3FullAccess",
    "AWSKeyManagementServicePowerUser",
    "CloudWatchLogsFullAccess",
)
# Actions that AWS does not scope to a resource ARN, so "*" is the only possible Resource.
UNSCOPED_ACTIONS: Final = (
    "cloudwatch:PutMetricData",
    "ecr:GetAuthorizationToken",
    "ec2:Describe*",
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
    "logs:DescribeLogGroups",
    "sts:GetCallerIdentity",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
)


def _documents(res: Resource) -> Iterator[tuple[str, Any]]:
    field = DOCUMENT_TYPES.get(res.resource_type)
    if field is not None:
        yield field, get(res.props, field)
    if res.resource_type == ROLE:
        for index, inline in enumerate(elements(res.props, "inlinePolicies")):
            yield f"inlinePolicies[{index}].policy", get(inline, "policy")


def _allow_statements(res: Resource, report: Report) -> Iterator[tuple[str, dict[str, Any]]]:
    """Allow statements of the resource's permission documents; unknowns are reported."""
    for where, raw in _documents(res):
        for path, statement in statements(where, raw, report):
            if not known(path, statement, report, "Effect", "Action", "NotAction"):
                continue
            if statement.get("Effect") != "Deny":
                yield path, statement


def _check_wildcard_actions(res: Resource, report: Report, cfg: RuleConfig) -> None:
    for path, statement in _allow_statements(res, report):
        if statement.get("NotAction") not in (MISSING, None):
            report(f"{path} allows everything except a list (Allow with NotAction)")
        broad = [str(a) for a in as_list(statement.get("Action")) if wildcard_action(str(a))]
        if broad:
            report(f"{path} allows wildcard actions {broad}; list the actions needed")


def _check_wildcard_resources(res: Resource, report: Report, cfg: RuleConfig) -> None:
    unscoped = cfg.strings("unscopedActions")
    for path, statement in _allow_statements(res, report):
        if statement.get("NotResource") not in (MISSING, None):
            report(f"{path} allows every resource except a list (Allow with NotResource)")
            continue
        # An ARN computed from another resource (unknown at preview) is one specific resource.
        broad = [
            str(r)
            for r in as_list(statement.get("Resource"))
            if wildcard_resource(r) and not alias_bound(statement, r)
        ]
        if not broad:
            continue
        needless = [
            str(action)
            for action in as_list(statement.get("Action"))
            if not covered(str(action), unscoped)
        ]
        if needless:
            report(
                f"{path} grants {needless} on {broad}, which match every resource of their kind; "
                "scope them to ARNs"
            )


def _check_network_interfaces(res: Resource, report: Report, cfg: RuleConfig) -> None:
    for path, statement in _allow_statements(res, report):
        broad = [str(r) for r in as_list(statement.get("Resource")) if wildcard_resource(r)]
        if not broad:
            continue
        actions = [
            str(action)
            for action in as_list(statement.get("Action"))
            if any(fnmatchcase(eni.lower(), str(action).lower()) for eni in ENI_ACTIONS)
        ]
        if not actions:
            continue
        if not known(path, statement, report, "Condition"):
            continue
        if not narrowed(statement, NETWORK_KEYS):
            report(
                f"{path} grants {actions} on {broad} without an ec2:Vpc or ec2:Subnet condition, "
                "so the role can attach interfaces in any network of the account"
            )


def _check_managed_policies(res: Resource, report: Report, cfg: RuleConfig) -> None:
    arns: list[Any] = []
    if res.resource_type in ATTACHMENT_TYPES:
        arns.append(get(res.props, ATTACHMENT_TYPES[res.resource_type]))
    if res.resource_type in ATTACHMENT_LIST_TYPES:
        arns.extend(elements(res.props, ATTACHMENT_LIST_TYPES[res.resource_type]))
    denied = set(cfg.strings("disallowedPolicies"))
    for arn in arns:
        # An unknown ARN is a policy created in this stack: AWS-managed ARNs are literals.
        if not isinstance(arn, str) or ":aws:policy/" not in arn:
            continue
        policy_name = arn.rsplit("/", 1)[-1]
        if policy_name in denied:
            report(f"the AWS-managed policy {policy_name} grants far more than inference needs")


DOCUMENT_READS: Final = (
    "policy",
    "policy.*",
    "inlinePolicies",
    "inlinePolicies[*]",
    "inlinePolicies[*].policy",
    "inlinePolicies[*].policy.*",
)
_LEAST_PRIVILEGE = (HIPAA_ACCESS, HIPAA_UNIQUE_USER, GDPR_BY_DESIGN, GDPR_SECURITY, OWASP_AGENCY)

RULES: Final = (
    Rule(
        name="aws-iam-role-disallow-broad-managed-policies",
        description="Roles are not given broad AWS-managed policies such as AdministratorAccess "
        "or AmazonSageMakerFullAccess.",
        severity=Severity.HIGH,
        resource_types=(*ATTACHMENT_TYPES, *ATTACHMENT_LIST_TYPES),
        controls=_LEAST_PRIVILEGE,
        frameworks=frozenset({"baseline"}),
        remediation="Replace the managed policy with an inline policy listing the actions the "
        "endpoint uses on its own model bucket, key, log group and image repository.",
        check=_check_managed_policies,
        reads=("managedPolicyArns", "policyArns"),
        # An unknown ARN is a policy created in the stack: AWS-managed ARNs are literals.
        references=("policyArn", "managedPolicyArns[*]", "policyArns[*]"),
        peers=("CKV_AWS_274", "cdk-nag:IAM4"),
        settings=(
            strings_setting(
                "disallowedPolicies",
                "Names of AWS-managed policies that may not be attached.",
                BROAD_MANAGED_POLICIES,
            ),
        ),
    ),
    Rule(
        name="aws-iam-policy-disallow-wildcard-actions",
        description='Policies do not allow "*" or whole-service actions such as "s3:*", '
        '"kms:*" or "sagemaker:*".',
        severity=Severity.HIGH,
        resource_types=(*DOCUMENT_TYPES, ROLE),
        controls=_LEAST_PRIVILEGE,
        frameworks=frozenset({"baseline"}),
        remediation="List the specific actions (e.g. s3:GetObject, kms:Decrypt).",
        check=_check_wildcard_actions,
        reads=DOCUMENT_READS,
        peers=("CKV_AWS_63", "CKV_AWS_62", "cdk-nag:IAM5"),
    ),
    Rule(
        name="aws-iam-policy-restrict-wildcard-resources",
        description='Policies grant Resource "*" only for actions that cannot be scoped to an ARN.',
        severity=Severity.MEDIUM,
        resource_types=(*DOCUMENT_TYPES, ROLE),
        controls=_LEAST_PRIVILEGE,
        frameworks=frozenset({"baseline"}),
        remediation="Scope Resource to the bucket, key, log group and repository ARNs; keep "
        '"*" only for actions like ecr:GetAuthorizationToken or cloudwatch:PutMetricData. A key '
        "not yet created may be named by alias: the account's key/* with ForAnyValue:"
        "StringEquals on kms:ResourceAliases.",
        check=_check_wildcard_resources,
        reads=DOCUMENT_READS,
        peers=("CKV_AWS_355", "cdk-nag:IAM5"),
        settings=(
            strings_setting(
                "unscopedActions",
                'Actions (globs allowed) that may use Resource "*".',
                UNSCOPED_ACTIONS,
            ),
        ),
    ),
    Rule(
        name="aws-iam-policy-require-network-interface-condition",
        description="Network-interface actions on wildcard resources are conditioned on the "
        "deployment's VPC or subnets.",
        severity=Severity.MEDIUM,
        resource_types=(*DOCUMENT_TYPES, ROLE),
        controls=(HIPAA_ACCESS, GDPR_BY_DESIGN, GDPR_SECURITY),
        frameworks=frozenset({"baseline"}),
        remediation="Add Condition ArnEquals ec2:Vpc (or ec2:Subnet) with the VPC or subnet "
        "ARNs to statements granting ec2:CreateNetworkInterface and related actions on "
        '"*" or network-interface/*.',
        check=_check_network_interfaces,
        reads=DOCUMENT_READS,
    ),
)

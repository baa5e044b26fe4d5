"""AWS IAM: the endpoint's execution role gets least privilege, not AWS's broad managed policies.

Policy documents are read whether given as objects or JSON text. Resource ARNs computed by the
cloud are unknown at preview and count as specific (an ARN is never ``*``); an unknown action,
or a whole document built from outputs as JSON text, cannot be judged and is reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from fnmatch import fnmatchcase
from typing import Any, Final

from inferstack.compliance.model import Report, Resource, Rule, RuleConfig, Severity
from inferstack.compliance.props import MISSING, UNKNOWN, as_document, elements, get, has_unknown
from inferstack.compliance.rules._common import (
    GDPR_BY_DESIGN,
    GDPR_SECURITY,
    HIPAA_ACCESS,
    HIPAA_UNIQUE_USER,
    OWASP_AGENCY,
    strings_setting,
    unverifiable,
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
SERVICE_WILDCARD: Final = re.compile(r"^[A-Za-z0-9-]+:\*$")
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


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    return [] if value is MISSING or value is None else [value]


def _allow_statements(where: str, raw: Any, report: Report) -> Iterator[dict[str, Any]]:
    """Allow statements of a document; an unknown document or action is reported."""
    if raw is MISSING or raw is None:
        return
    document = as_document(raw)
    statements = get(document, "Statement")
    if document is UNKNOWN or statements is UNKNOWN:
        report(unverifiable(f"{where} (pass the document as an object, not as JSON text)"))
        return
    for statement in _as_list(statements):
        if not isinstance(statement, dict):
            report(unverifiable(f"{where} statement"))
            continue
        effect = get(statement, "Effect")
        if effect is UNKNOWN:
            report(unverifiable(f"{where} Effect"))
            continue
        if effect == "Deny":
            continue
        actions = get(statement, "Action")
        if actions is UNKNOWN or has_unknown(actions) or get(statement, "NotAction") is UNKNOWN:
            report(unverifiable(f"{where} Action"))
            continue
        yield statement


def _check_wildcard_actions(res: Resource, report: Report, cfg: RuleConfig) -> None:
    for where, raw in _documents(res):
        for statement in _allow_statements(where, raw, report):
            if get(statement, "NotAction") not in (MISSING, None):
                report(f"{where} allows everything except a list (Allow with NotAction)")
            broad = [
                str(action)
                for action in _as_list(get(statement, "Action"))
                if action == "*" or SERVICE_WILDCARD.match(str(action))
            ]
            if broad:
                report(f"{where} allows wildcard actions {broad}; list the actions needed")


def _check_wildcard_resources(res: Resource, report: Report, cfg: RuleConfig) -> None:
    unscoped = tuple(pattern.lower() for pattern in cfg.strings("unscopedActions"))
    for where, raw in _documents(res):
        for statement in _allow_statements(where, raw, report):
            if get(statement, "NotResource") not in (MISSING, None):
                report(f"{where} allows every resource except a list (Allow with NotResource)")
                continue
            if "*" not in _as_list(get(statement, "Resource")):
                continue
            needless = [
                str(action)
                for action in _as_list(get(statement, "Action"))
                if not any(fnmatchcase(str(action).lower(), p) for p in unscoped)
            ]
            if needless:
                report(f"{where} grants {needless} on Resource '*'; scope them to ARNs")


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
        '"*" only for actions like ecr:GetAuthorizationToken or cloudwatch:PutMetricData.',
        check=_check_wildcard_resources,
        peers=("CKV_AWS_355", "cdk-nag:IAM5"),
        settings=(
            strings_setting(
                "unscopedActions",
                'Actions (globs allowed) that may use Resource "*".',
                UNSCOPED_ACTIONS,
            ),
        ),
    ),
)

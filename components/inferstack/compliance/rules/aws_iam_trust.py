"""Who may act: role trust policies and the service principals of key and resource policies.

A trust policy that lets ``*`` (or ``{"AWS": "*"}``) assume a role hands the role to every AWS
account unless a condition pins the caller (``aws:PrincipalOrgID``, ``aws:PrincipalAccount``,
``aws:SourceAccount``, ``aws:SourceArn``, ``sts:ExternalId``...). A service principal
(``logs.amazonaws.com``, ``sagemaker.amazonaws.com``) acts on behalf of any account's resources,
so a key or resource policy that grants one must name the account or resource it acts for with
``aws:SourceAccount`` or ``aws:SourceArn`` (the confused-deputy guard), or, for CloudWatch Logs,
the log-group encryption context of one account.
"""

from __future__ import annotations

from typing import Any, Final

from inferstack.compliance.model import Report, Resource, Rule, RuleConfig, Severity
from inferstack.compliance.props import UNKNOWN, get, present
from inferstack.compliance.rules._common import (
    GDPR_BY_DESIGN,
    GDPR_SECURITY,
    HIPAA_ACCESS,
    HIPAA_AUTHENTICATION,
    OWASP_AGENCY,
    unverifiable,
)
from inferstack.compliance.rules._iam import (
    PRINCIPAL_KEYS,
    SOURCE_KEYS,
    known,
    names_an_account,
    narrowed,
    principals,
    statements,
)

ROLE: Final = "aws:iam/role:Role"
RESOURCE_POLICY_TYPES: Final = {
    "aws:kms/key:Key": "policy",
    "aws:kms/keyPolicy:KeyPolicy": "policy",
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
    "aws:sns/topic:Topic": "policy",
    "aws:sns/topicPolicy:TopicPolicy": "policy",
    "aws:sqs/queuePolicy:QueuePolicy": "policy",
    "aws:ecr/repositoryPolicy:RepositoryPolicy": "policy",
}
LAMBDA_PERMISSION: Final = "aws:lambda/permission:Permission"


def _allows(path: str, statement: dict[str, Any], report: Report) -> bool:
    if not known(path, statement, report, "Effect", "Principal", "Condition"):
        return False
    return statement.get("Effect") != "Deny"


def _check_trust(res: Resource, report: Report, cfg: RuleConfig) -> None:
    for path, statement in statements(
        "assumeRolePolicy", get(res.props, "assumeRolePolicy"), report
    ):
        if not _allows(path, statement, report):
            continue
        anyone, _ = principals(statement)
        if "NotPrincipal" in statement:
            report(f"{path} trusts everyone except a list (Allow with NotPrincipal)")
        elif anyone and not narrowed(statement, PRINCIPAL_KEYS):
            report(
                f"{path} lets any AWS account assume the role (Principal *) with no condition "
                "naming the caller's account, organization or external id"
            )


def _check_service_principals(res: Resource, report: Report, cfg: RuleConfig) -> None:
    if res.resource_type == LAMBDA_PERMISSION:
        principal = get(res.props, "principal")
        if principal is UNKNOWN:
            report(unverifiable("principal"))
        elif (
            isinstance(principal, str)
            and principal.endswith(".amazonaws.com")
            and not (present(res.props, "sourceArn") or present(res.props, "sourceAccount"))
        ):
            report(f"{principal} may invoke the function for any account: set sourceArn")
        return
    field = RESOURCE_POLICY_TYPES[res.resource_type]
    for path, statement in statements(field, get(res.props, field), report):
        if not _allows(path, statement, report):
            continue
        _, services = principals(statement)
        if services and not (narrowed(statement, SOURCE_KEYS) or names_an_account(statement)):
            report(
                f"{path} grants {', '.join(services)} without an aws:SourceAccount or "
                "aws:SourceArn condition, so the service could act for another account"
            )


_POLICY_READS: Final = ("policy", "policy.*")

RULES: Final = (
    Rule(
        name="aws-iam-role-restrict-trust-principals",
        description="Role trust policies never let any AWS account assume the role without a "
        "condition that names the caller.",
        severity=Severity.CRITICAL,
        resource_types=(ROLE,),
        controls=(HIPAA_ACCESS, HIPAA_AUTHENTICATION, GDPR_SECURITY, OWASP_AGENCY),
        frameworks=frozenset({"baseline"}),
        remediation="Name the trusted principal (a service such as sagemaker.amazonaws.com, or "
        "an account or role ARN), or add a StringEquals condition on aws:PrincipalOrgID, "
        "aws:PrincipalAccount or sts:ExternalId.",
        check=_check_trust,
        peers=("CKV_AWS_60", "CKV_AWS_61"),
        reads=("assumeRolePolicy", "assumeRolePolicy.*"),
    ),
    Rule(
        name="aws-iam-resourcepolicy-require-source-condition",
        description="Key and resource policies grant service principals only with an "
        "aws:SourceAccount or aws:SourceArn condition.",
        severity=Severity.HIGH,
        resource_types=(*RESOURCE_POLICY_TYPES, LAMBDA_PERMISSION),
        controls=(HIPAA_ACCESS, GDPR_BY_DESIGN, GDPR_SECURITY),
        frameworks=frozenset({"baseline"}),
        remediation="Add Condition StringEquals aws:SourceAccount (the account id) or ArnLike "
        "aws:SourceArn (the log group, endpoint or topic) to every statement whose Principal is "
        "a Service; set sourceArn on Lambda permissions.",
        check=_check_service_principals,
        reads=(*_POLICY_READS, "principal"),
        references=("sourceArn", "sourceAccount"),
    ),
)

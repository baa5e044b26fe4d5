"""Fixtures for IAM pattern analysis, trust and resource policies, and API Gateway authorizers."""

from __future__ import annotations

import json
from typing import Any, Final

from cases_aws import ACCOUNT, KEY_ARN, READ_MODEL, _document, role_policy
from policy_cases import Case, bad, ok
from policy_harness import Computed, Res

ROLE: Final = "aws:iam/role:Role"
SAGEMAKER_TRUST: Final = _document(
    {
        "Effect": "Allow",
        "Principal": {"Service": "sagemaker.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
)
ENI: Final = ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface"]
VPC_CONDITION: Final = {
    "ArnEquals": {"ec2:Vpc": f"arn:aws:ec2:eu-central-1:{ACCOUNT}:vpc/vpc-0a1b2c3d"}
}
LOGS: Final = "logs.eu-central-1.amazonaws.com"
ENDPOINT_ARN: Final = f"arn:aws:sagemaker:eu-central-1:{ACCOUNT}:endpoint/llm"


def role(**props: Any) -> Res:
    base: dict[str, Any] = {"assumeRolePolicy": SAGEMAKER_TRUST, "tags": {"team": "ml"}}
    return Res(ROLE, "llm-endpoint", {**base, **props})


def trust(principal: Any, condition: dict[str, Any] | None = None) -> Res:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": principal,
        "Action": "sts:AssumeRole",
    }
    if condition is not None:
        statement["Condition"] = condition
    return role(assumeRolePolicy=json.dumps(_document(statement)))


def key_policy(condition: dict[str, Any] | None) -> Res:
    grant: dict[str, Any] = {
        "Sid": "LogsUseKey",
        "Effect": "Allow",
        "Principal": {"Service": LOGS},
        "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:GenerateDataKey*"],
        "Resource": "*",
    }
    if condition is not None:
        grant["Condition"] = condition
    return Res(
        "aws:kms/key:Key",
        "llm",
        {"enableKeyRotation": True, "policy": json.dumps(_document(grant))},
    )


def method(authorization: str, **props: Any) -> Res:
    return Res(
        "aws:apigateway/method:Method",
        "invoke",
        {
            "restApi": Computed("a1b2c3"),
            "resourceId": Computed("r1"),
            "httpMethod": "POST",
            "authorization": authorization,
            **props,
        },
    )


def _alias_grant(operator: str, alias: str, *, account: str = ACCOUNT) -> dict[str, Any]:
    """A payload-key grant on the account's keys, narrowed (or not) by the key's alias."""
    return {
        "Effect": "Allow",
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
        "Resource": f"arn:aws:kms:eu-central-1:{account}:key/*",
        "Condition": {
            "StringEquals": {"kms:ViaService": "s3.eu-central-1.amazonaws.com"},
            operator: {"kms:ResourceAliases": alias},
        },
    }


def _iam_patterns() -> list[Case]:
    actions = "aws-iam-policy-disallow-wildcard-actions"
    resources = "aws-iam-policy-restrict-wildcard-resources"
    managed = "aws-iam-role-disallow-broad-managed-policies"
    eni = "aws-iam-policy-require-network-interface-condition"
    inline = [{"name": "read", "policy": _document({**READ_MODEL})}]
    return [
        ok(actions, "role-inline-object", role(inlinePolicies=inline)),
        bad(
            actions,
            "star-star",
            role_policy({"Effect": "Allow", "Action": "*:*", "Resource": [KEY_ARN]}),
            "*:*",
        ),
        bad(
            actions,
            "iam-star-inline",
            role(
                inlinePolicies=[
                    {"name": "x", "policy": _document({**READ_MODEL, "Action": "iam:*"})}
                ]
            ),
            "iam:*",
        ),
        ok(resources, "role-inline-object", role(inlinePolicies=inline)),
        bad(
            resources,
            "get-star-on-every-bucket",
            role_policy({"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::*"}),
            "s3:Get*",
        ),
        bad(
            resources,
            "invoke-every-api",
            role_policy(
                {
                    "Effect": "Allow",
                    "Action": "execute-api:Invoke",
                    "Resource": f"arn:aws:execute-api:eu-central-1:{ACCOUNT}:*/prod/POST/x",
                }
            ),
            "execute-api:Invoke",
        ),
        ok(
            resources,
            "invoke-one-api",
            role_policy(
                {
                    "Effect": "Allow",
                    "Action": "execute-api:Invoke",
                    "Resource": f"arn:aws:execute-api:eu-central-1:{ACCOUNT}:a1b2c3/prod/POST/*",
                }
            ),
        ),
        ok(
            resources,
            "account-keys-bound-to-one-alias",
            role_policy(_alias_grant("ForAnyValue:StringEquals", "alias/support-bot-dev")),
        ),
        bad(
            resources,
            "account-keys-for-all-values-of-an-alias",
            # ForAllValues holds for a key with no alias at all: it binds nothing.
            role_policy(_alias_grant("ForAllValues:StringEquals", "alias/support-bot-dev")),
            "kms:Decrypt",
        ),
        bad(
            resources,
            "account-keys-bound-to-an-alias-pattern",
            role_policy(_alias_grant("ForAnyValue:StringLike", "alias/*")),
            "kms:Decrypt",
        ),
        bad(
            resources,
            "every-accounts-keys-bound-to-an-alias",
            role_policy(
                _alias_grant("ForAnyValue:StringEquals", "alias/support-bot-dev", account="*")
            ),
            "kms:Decrypt",
        ),
        ok(
            managed,
            "role-with-customer-policies",
            role(managedPolicyArns=[Computed(f"arn:aws:iam::{ACCOUNT}:policy/llm-read")]),
        ),
        ok(
            managed,
            "exclusive-attachments",
            Res(
                "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive",
                "llm",
                {"roleName": "llm", "policyArns": [Computed(f"arn:aws:iam::{ACCOUNT}:policy/x")]},
            ),
        ),
        ok(
            eni,
            "scoped-to-the-vpc",
            role_policy(
                {"Effect": "Allow", "Action": ENI, "Resource": "*", "Condition": VPC_CONDITION}
            ),
        ),
        ok(eni, "role-inline-object", role(inlinePolicies=inline)),
        bad(
            eni,
            "any-network",
            role_policy({"Effect": "Allow", "Action": ENI, "Resource": "*"}),
            "without an ec2:Vpc or ec2:Subnet condition",
        ),
        bad(
            eni,
            "every-interface-arn",
            role_policy(
                {
                    "Effect": "Allow",
                    "Action": "ec2:CreateNetworkInterface",
                    "Resource": f"arn:aws:ec2:eu-central-1:{ACCOUNT}:network-interface/*",
                }
            ),
            "ec2:CreateNetworkInterface",
        ),
    ]


def _trust_and_resource_policies() -> list[Case]:
    trusts = "aws-iam-role-restrict-trust-principals"
    source = "aws-iam-resourcepolicy-require-source-condition"
    org = {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}
    return [
        ok(trusts, "service-principal", role()),
        ok(trusts, "anyone-in-the-organization", trust({"AWS": "*"}, org)),
        bad(trusts, "any-aws-account", trust({"AWS": "*"}), "any AWS account"),
        bad(trusts, "star", trust("*"), "any AWS account"),
        bad(
            trusts,
            "negated-condition-does-not-narrow",
            trust("*", {"StringNotEquals": {"aws:PrincipalAccount": "111122223333"}}),
            "any AWS account",
        ),
        ok(
            source,
            "logs-for-this-account",
            key_policy({"StringEquals": {"aws:SourceAccount": ACCOUNT}}),
        ),
        bad(source, "logs-for-anyone", key_policy(None), LOGS),
        ok(
            source,
            "logs-for-one-accounts-log-group",
            key_policy(
                {
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:aws:logs:eu-central-1:{ACCOUNT}:log-group:/aws/sagemaker/*"
                        )
                    }
                }
            ),
        ),
        bad(
            source,
            "encryption-context-only",
            key_policy({"ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:*"}}),
            "aws:SourceAccount",
        ),
        ok(
            source,
            "lambda-permission-with-source",
            Res(
                "aws:lambda/permission:Permission",
                "apigw",
                {
                    "function": Computed("fn"),
                    "action": "lambda:InvokeFunction",
                    "principal": "apigateway.amazonaws.com",
                    "sourceArn": Computed(f"arn:aws:execute-api:eu-central-1:{ACCOUNT}:a1/*"),
                },
            ),
        ),
        bad(
            source,
            "lambda-permission-without-source",
            Res(
                "aws:lambda/permission:Permission",
                "apigw",
                {"function": Computed("fn"), "principal": "apigateway.amazonaws.com"},
            ),
            "set sourceArn",
        ),
    ]


def _authorizers() -> list[Case]:
    rule = "aws-apigateway-method-require-authorizer"
    return [
        ok(rule, "sigv4", method("AWS_IAM")),
        ok(rule, "lambda-authorizer", method("CUSTOM", authorizerId=Computed("au1"))),
        ok(rule, "cors-preflight", method("NONE", httpMethod="OPTIONS")),
        ok(
            rule,
            "http-api-jwt",
            Res(
                "aws:apigatewayv2/route:Route",
                "invoke",
                {
                    "apiId": Computed("a1"),
                    "routeKey": "POST /invocations",
                    "authorizationType": "JWT",
                    "authorizerId": Computed("au1"),
                },
            ),
        ),
        bad(
            rule,
            "api-key-only",
            method("NONE", apiKeyRequired=True),
            "an API key authenticates no one",
        ),
        bad(rule, "custom-without-authorizer", method("CUSTOM"), "needs an authorizerId"),
        bad(
            rule,
            "http-api-open-route",
            Res(
                "aws:apigatewayv2/route:Route",
                "invoke",
                {
                    "apiId": Computed("a1"),
                    "routeKey": "POST /invocations",
                    "authorizationType": "NONE",
                },
            ),
            "open to any caller",
        ),
    ]


CASES: Final[list[Case]] = [*_iam_patterns(), *_trust_and_resource_policies(), *_authorizers()]

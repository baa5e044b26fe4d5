"""Fixtures for the SageMaker guard rules (owasp-llm), with the property names of pulumi-aws v7."""

from __future__ import annotations

import json
from typing import Any, Final

from policy_cases import Case, bad, ok
from policy_harness import Computed, Res

ACCOUNT: Final = "123456789012"
ENDPOINT: Final = "aws:sagemaker/endpoint:Endpoint"
FUNCTION: Final = "aws:lambda/function:Function"
GUARDRAIL: Final = "aws:bedrock/guardrail:Guardrail"
VERSION: Final = "aws:bedrock/guardrailVersion:GuardrailVersion"
ROLE: Final = "aws:iam/role:Role"
ROLE_POLICY: Final = "aws:iam/rolePolicy:RolePolicy"
MANAGED_POLICY: Final = "aws:iam/policy:Policy"
KEY_ARN: Final = Computed(f"arn:aws:kms:eu-central-1:{ACCOUNT}:key/0f1e2d3c")
ENDPOINT_ARN: Final = f"arn:aws:sagemaker:eu-central-1:{ACCOUNT}:endpoint/llm"
INVOKE: Final = {"Effect": "Allow", "Action": "sagemaker:InvokeEndpoint", "Resource": ENDPOINT_ARN}
OWASP: Final = {"framework": "owasp-llm"}
ROLE_DEPS: Final = {"role": ["gateway-role"]}


def endpoint() -> Res:
    return Res(ENDPOINT, "endpoint", {"name": "llm", "endpointConfigName": Computed("llm-cfg")})


def gateway(version: Any = None, deps: dict[str, list[str]] | None = None, **variables: Any) -> Res:
    env = {
        "INFERSTACK_ENDPOINT_NAME": "llm",
        "INFERSTACK_SCREEN_INPUT": "true",
        "INFERSTACK_SCREEN_OUTPUT": "non_streaming",
        "INFERSTACK_GUARDRAIL_ID": Computed("gr12ab34cd"),
        "INFERSTACK_GUARDRAIL_VERSION": Computed("1") if version is None else version,
        **variables,
    }
    return Res(
        FUNCTION,
        "gateway",
        {
            "name": "llm-gateway",
            "role": Computed(f"arn:aws:iam::{ACCOUNT}:role/llm-gateway"),
            "reservedConcurrentExecutions": 32,
            "environment": {"variables": env},
        },
        deps=deps or {},
    )


def role(name: str) -> Res:
    return Res(ROLE, name, {"name": f"llm-{name}", "assumeRolePolicy": "{}"})


def role_policy(name: str, role_name: str, *statements: dict[str, Any]) -> Res:
    return Res(
        ROLE_POLICY,
        name,
        {
            "role": Computed(f"llm-{role_name}"),
            "policy": {"Version": "2012-10-17", "Statement": list(statements)},
        },
        deps={"role": [role_name]},
    )


def guardrail(**props: Any) -> Res:
    return Res(GUARDRAIL, "guardrail", {"name": "llm-guard", "kmsKeyArn": KEY_ARN, **props})


LOGS: Final = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "logs:PutLogEvents",
                "Resource": "arn:aws:logs:eu-central-1:123456789012:log-group:llm:*",
            }
        ],
    }
)


def version() -> Res:
    return Res(
        VERSION,
        "guardrail-version",
        {"guardrailArn": Computed(f"arn:aws:bedrock:eu-central-1:{ACCOUNT}:guardrail/gr12")},
        deps={"guardrailArn": ["guardrail"]},
    )


def _cases() -> list[Case]:
    guard = "aws-sagemaker-endpoint-require-guard-gateway"
    invoke = "aws-sagemaker-invoke-restrict-to-gateway"
    rail = "aws-bedrock-guardrail-require-cmk-and-version"
    concurrency = "aws-lambda-function-require-reserved-concurrency"
    gateway_grant = role_policy("gateway-policy", "gateway-role", INVOKE)
    return [
        ok(guard, "gateway-screens-input", (endpoint(), gateway()), **OWASP),
        bad(guard, "no-gateway", (endpoint(),), "has no guard gateway", **OWASP),
        bad(
            guard,
            "input-screening-off",
            (endpoint(), gateway(INFERSTACK_SCREEN_INPUT="false")),
            "does not screen prompts",
            **OWASP,
        ),
        bad(
            guard,
            "gateway-for-another-endpoint",
            (endpoint(), gateway(INFERSTACK_ENDPOINT_NAME="other")),
            "has no guard gateway",
            **OWASP,
        ),
        ok(
            invoke,
            "only-the-gateway-role",
            (
                endpoint(),
                gateway(deps=ROLE_DEPS),
                role("gateway-role"),
                gateway_grant,
                Res(
                    ROLE,
                    "execution",
                    {"name": "llm-execution", "inlinePolicies": [{"name": "logs", "policy": LOGS}]},
                ),
                role_policy("execution-policy", "execution", json.loads(LOGS)["Statement"][0]),
            ),
            **OWASP,
        ),
        bad(
            invoke,
            "another-role-may-invoke",
            (
                endpoint(),
                gateway(deps=ROLE_DEPS),
                role("gateway-role"),
                gateway_grant,
                role("reporting"),
                role_policy("reporting-policy", "reporting", INVOKE),
            ),
            "a role other than the guard gateway's",
            **OWASP,
        ),
        bad(
            invoke,
            "managed-policy-with-a-wildcard",
            (
                endpoint(),
                gateway(),
                Res(
                    MANAGED_POLICY,
                    "callers",
                    {
                        "policy": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {"Effect": "Allow", "Action": "sagemaker:Invoke*", "Resource": "*"}
                            ],
                        }
                    },
                ),
            ),
            "around the guard gateway",
            **OWASP,
        ),
        ok(
            rail,
            "cmk-and-pinned-version",
            (guardrail(), version()),
            **OWASP,
        ),
        bad(
            rail,
            "aws-owned-key",
            (guardrail(kmsKeyArn=None), version()),
            "AWS-owned key",
            **OWASP,
        ),
        bad(
            rail,
            "no-version",
            (guardrail(),),
            "no GuardrailVersion",
            **OWASP,
        ),
        ok(concurrency, "reserved", gateway(), **OWASP),
        bad(
            concurrency,
            "unbounded",
            Res(FUNCTION, "gateway", {"name": "llm-gateway"}),
            "no reserved concurrency",
            **OWASP,
        ),
    ]


CASES: Final = _cases()

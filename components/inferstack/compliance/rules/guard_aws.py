"""The guard in front of a SageMaker endpoint (owasp-llm): declared, pinned, not bypassable.

What preview can check for real: every SageMaker endpoint has a gateway function that names it
and screens prompts with a guardrail; no identity in the stack but a gateway's role may call
``sagemaker:InvokeEndpoint`` (a managed policy, a user or group policy, or another role's
policy that allows it is a way around the guard); the guardrail is encrypted with a
customer-managed key and has a pinned version (the component's gateway calls that version,
never the editable draft);
and the gateway's concurrency is bounded. The gateway is recognised by the environment the
inferstack gateway reads (``INFERSTACK_ENDPOINT_NAME``, ``INFERSTACK_SCREEN_INPUT``,
``INFERSTACK_GUARDRAIL_ID``, ``INFERSTACK_GUARDRAIL_VERSION``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from fnmatch import fnmatchcase
from typing import Any, Final

from inferstack.compliance.model import (
    Framework,
    Report,
    Resource,
    Rule,
    RuleConfig,
    Scope,
    Severity,
    StackResource,
)
from inferstack.compliance.props import MISSING, UNKNOWN, as_number, get
from inferstack.compliance.rules._common import (
    OWASP_AGENCY,
    OWASP_CONSUMPTION,
    OWASP_DISCLOSURE,
    OWASP_INJECTION,
    OWASP_SUPPLY_CHAIN,
    reporting_at,
    unverifiable,
)
from inferstack.compliance.rules._iam import as_list, statements
from inferstack.compliance.rules._stack import depends_via, of_type

ENDPOINT: Final = "aws:sagemaker/endpoint:Endpoint"
FUNCTION: Final = "aws:lambda/function:Function"
GUARDRAIL: Final = "aws:bedrock/guardrail:Guardrail"
GUARDRAIL_VERSION: Final = "aws:bedrock/guardrailVersion:GuardrailVersion"
ROLE: Final = "aws:iam/role:Role"
ROLE_POLICY: Final = "aws:iam/rolePolicy:RolePolicy"
# Documents that are not a gateway role's: a managed policy can be attached to anyone.
OTHER_DOCUMENTS: Final = {
    "aws:iam/policy:Policy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
}
INVOKE_ACTIONS: Final = ("sagemaker:invokeendpoint", "sagemaker:invokeendpointwithresponsestream")
_ENV: Final = ("environment", "variables")


def _variable(function: StackResource, name: str) -> Any:
    variables = get(function.props, *_ENV)
    if variables is UNKNOWN:
        return UNKNOWN
    return get(variables, name)


def _gateways(resources: Sequence[StackResource]) -> list[StackResource]:
    """Functions that name the endpoint they guard (an unknown environment names none)."""
    return [
        fn
        for fn in of_type(resources, FUNCTION)
        if isinstance(_variable(fn, "INFERSTACK_ENDPOINT_NAME"), str)
        and _variable(fn, "INFERSTACK_ENDPOINT_NAME") != ""
    ]


def _check_gateway(resources: Sequence[StackResource], report: Report, cfg: RuleConfig) -> None:
    gateways = _gateways(resources)
    for endpoint in of_type(resources, ENDPOINT):
        name = get(endpoint.props, "name")
        if name is UNKNOWN:
            report(unverifiable("name", "the endpoint's name is chosen at deploy"), endpoint.urn)
            continue
        serving = [g for g in gateways if _variable(g, "INFERSTACK_ENDPOINT_NAME") in (name,)]
        unknown = [
            fn
            for fn in of_type(resources, FUNCTION)
            if _variable(fn, "INFERSTACK_ENDPOINT_NAME") is UNKNOWN
        ]
        if not serving and unknown:
            report(unverifiable("environment.variables.INFERSTACK_ENDPOINT_NAME"), unknown[0].urn)
            continue
        if not serving:
            report(
                f"endpoint '{name}' has no guard gateway: nothing screens prompts before the "
                "model (security.guard)",
                endpoint.urn,
            )
            continue
        for gateway in serving:
            screens = _variable(gateway, "INFERSTACK_SCREEN_INPUT")
            rail = _variable(gateway, "INFERSTACK_GUARDRAIL_ID")
            if screens is UNKNOWN:
                report(unverifiable("environment.variables.INFERSTACK_SCREEN_INPUT"), gateway.urn)
            elif screens != "true" or rail in (MISSING, None, ""):
                report(
                    f"the gateway of endpoint '{name}' does not screen prompts with a guardrail "
                    "(security.guard.input is false)",
                    gateway.urn,
                )


def _gateway_roles(resources: Sequence[StackResource]) -> list[StackResource]:
    gateways = _gateways(resources)
    return [
        role
        for role in of_type(resources, ROLE)
        if any(depends_via(gateway, "role", role) for gateway in gateways)
    ]


def _grants_invoke(where: str, raw: Any, report: Report) -> Iterator[str]:
    """Paths of Allow statements whose actions include sagemaker:InvokeEndpoint."""
    for path, statement in statements(where, raw, report):
        if statement.get("Effect") == "Deny":
            continue
        if "NotAction" in statement:
            excluded = [str(a).lower() for a in as_list(statement["NotAction"])]
            if not all(any(fnmatchcase(i, a) for a in excluded) for i in INVOKE_ACTIONS):
                yield path
            continue
        actions = statement.get("Action")
        if actions is UNKNOWN or any(a is UNKNOWN for a in as_list(actions)):
            report(unverifiable(f"{path}.Action"))
            continue
        patterns = [str(action).lower() for action in as_list(actions)]
        if any(fnmatchcase(invoke, p) for invoke in INVOKE_ACTIONS for p in patterns):
            yield path


def _check_invoke(resources: Sequence[StackResource], report: Report, cfg: RuleConfig) -> None:
    if not of_type(resources, ENDPOINT):
        return
    gateway_roles = _gateway_roles(resources)
    for policy in of_type(resources, ROLE_POLICY):
        if any(depends_via(policy, "role", role) for role in gateway_roles):
            continue
        for path in _grants_invoke(
            "policy", get(policy.props, "policy"), reporting_at(report, policy.urn)
        ):
            report(
                f"{path} lets a role other than the guard gateway's invoke the endpoint, "
                "around the guard",
                policy.urn,
            )
    for role in of_type(resources, ROLE):
        if role in gateway_roles:
            continue
        inline = get(role.props, "inlinePolicies")
        if inline is UNKNOWN:
            report(unverifiable("inlinePolicies"), role.urn)
            continue
        for index, item in enumerate(as_list(inline)):
            where = f"inlinePolicies[{index}].policy"
            for path in _grants_invoke(where, get(item, "policy"), reporting_at(report, role.urn)):
                report(f"{path} lets this role invoke the endpoint, around the guard", role.urn)
    for kind, field in OTHER_DOCUMENTS.items():
        for res in of_type(resources, kind):
            for path in _grants_invoke(field, get(res.props, field), reporting_at(report, res.urn)):
                report(
                    f"{path} grants sagemaker:InvokeEndpoint to whoever holds this policy, "
                    "around the guard gateway",
                    res.urn,
                )


def _check_guardrail(resources: Sequence[StackResource], report: Report, cfg: RuleConfig) -> None:
    versions = of_type(resources, GUARDRAIL_VERSION)
    for rail in of_type(resources, GUARDRAIL):
        if get(rail.props, "kmsKeyArn") in (MISSING, None, ""):
            report(
                "the guardrail is encrypted with an AWS-owned key: set kmsKeyArn to the "
                "deployment's customer-managed key",
                rail.urn,
            )
        if not any(depends_via(version, "guardrailArn", rail) for version in versions):
            report(
                "the guardrail has no GuardrailVersion: callers can only use its editable draft",
                rail.urn,
            )


def _check_concurrency(res: Resource, report: Report, cfg: RuleConfig) -> None:
    value = get(res.props, "reservedConcurrentExecutions")
    if value is UNKNOWN:
        report(unverifiable("reservedConcurrentExecutions"))
        return
    number = as_number(value)
    if number is None or number < 1:
        report(
            "the function has no reserved concurrency (reservedConcurrentExecutions): a flood "
            "of requests scales it, and the model's bill, without bound"
        )


_OWASP: Final[frozenset[Framework]] = frozenset({"owasp-llm"})

RULES: Final = (
    Rule(
        name="aws-sagemaker-endpoint-require-guard-gateway",
        description="Every SageMaker endpoint has a gateway that screens prompts with a "
        "guardrail before invoking it.",
        severity=Severity.HIGH,
        resource_types=(ENDPOINT, FUNCTION),
        controls=(OWASP_INJECTION, OWASP_DISCLOSURE),
        frameworks=_OWASP,
        remediation="Keep security.guard.input: true (the default) so the component deploys "
        "the guard gateway Lambda with a Bedrock guardrail; async endpoints cannot be screened.",
        check=_check_gateway,
        scope=Scope.STACK,
        reads=(
            "name",
            "environment",
            "environment.variables",
            "environment.variables.*",
        ),
    ),
    Rule(
        name="aws-sagemaker-invoke-restrict-to-gateway",
        description="Only the guard gateway's role may call sagemaker:InvokeEndpoint: no "
        "other role, user, group or managed policy in the stack grants it.",
        severity=Severity.HIGH,
        resource_types=(ENDPOINT, FUNCTION, ROLE, ROLE_POLICY, *OTHER_DOCUMENTS),
        controls=(OWASP_INJECTION, OWASP_AGENCY),
        frameworks=_OWASP,
        remediation="Grant callers lambda:InvokeFunction on the gateway (the component's "
        "invoke_policy_arn) or execute-api:Invoke on the front door, never "
        "sagemaker:InvokeEndpoint.",
        check=_check_invoke,
        scope=Scope.STACK,
        reads=(
            "policy",
            "policy.*",
            "inlinePolicies",
            "inlinePolicies[*].policy",
            "environment",
            "environment.variables",
            "environment.variables.*",
        ),
        references=("role",),
    ),
    Rule(
        name="aws-bedrock-guardrail-require-cmk-and-version",
        description="Guardrails are encrypted with a customer-managed key and have a pinned "
        "version for callers to use instead of the editable draft.",
        severity=Severity.MEDIUM,
        resource_types=(GUARDRAIL, GUARDRAIL_VERSION),
        controls=(OWASP_INJECTION, OWASP_SUPPLY_CHAIN),
        frameworks=_OWASP,
        remediation="Set kmsKeyArn on the guardrail, create an aws.bedrock.GuardrailVersion "
        "of it, and pass that version to the gateway.",
        check=_check_guardrail,
        scope=Scope.STACK,
        references=("kmsKeyArn", "guardrailArn"),
    ),
    Rule(
        name="aws-lambda-function-require-reserved-concurrency",
        description="Functions in an LLM stack have a reserved concurrency, so a flood is "
        "throttled instead of scaling without bound.",
        severity=Severity.MEDIUM,
        resource_types=(FUNCTION,),
        controls=(OWASP_CONSUMPTION,),
        frameworks=_OWASP,
        remediation="Set reservedConcurrentExecutions (the gateway uses the endpoint's "
        "max_replicas x max_concurrency).",
        check=_check_concurrency,
        reads=("reservedConcurrentExecutions",),
    ),
)

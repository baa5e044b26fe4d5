"""API Gateway and WAF in front of an endpoint: authorization, throttling, request limits.

Unbounded request rates and bodies turn directly into GPU time and cost (OWASP LLM10); limits
serve availability (GDPR Art. 32), not access control. A statement under ``notStatement`` never
counts as a limit: it matches the requests the inner statement does not. An API key identifies a
caller for usage plans but authenticates no one, so every method needs an authorizer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, Final

from inferstack.compliance.model import (
    Report,
    Resource,
    Rule,
    RuleConfig,
    Scope,
    Severity,
    StackResource,
)
from inferstack.compliance.props import (
    MISSING,
    UNKNOWN,
    as_number,
    elements,
    get,
    plain,
    present,
)
from inferstack.compliance.rules._common import (
    GDPR_SECURITY,
    HIPAA_ACCESS,
    HIPAA_AUTHENTICATION,
    OWASP_CONSUMPTION,
    unverifiable,
)
from inferstack.compliance.rules._stack import known_strings, of_type, refers_to

REST_STAGE: Final = "aws:apigateway/stage:Stage"
METHOD_SETTINGS: Final = "aws:apigateway/methodSettings:MethodSettings"
USAGE_PLAN: Final = "aws:apigateway/usagePlan:UsagePlan"
HTTP_STAGE: Final = "aws:apigatewayv2/stage:Stage"
WEB_ACL: Final = "aws:wafv2/webAcl:WebAcl"
REST_METHOD: Final = "aws:apigateway/method:Method"
HTTP_ROUTE: Final = "aws:apigatewayv2/route:Route"


def _positive(value: Any) -> bool:
    number = as_number(value)
    return number is not None and number > 0


def _throttled(settings: Any) -> Any:
    """True/False for a throttling block; UNKNOWN if its numbers are unknown."""
    rate, burst = get(settings, "throttlingRateLimit"), get(settings, "throttlingBurstLimit")
    if UNKNOWN in (rate, burst, settings):
        return UNKNOWN
    return _positive(rate) and _positive(burst)


def _rest_stage_throttled(resources: Sequence[StackResource], stage: StackResource) -> Any:
    names = known_strings(get(stage.props, "stageName"))
    for settings in of_type(resources, METHOD_SETTINGS):
        if get(settings.props, "methodPath") == "*/*" and refers_to(
            settings, "stageName", stage, names
        ):
            verdict = _throttled(get(settings.props, "settings"))
            if verdict is not False:
                return verdict
    for plan in of_type(resources, USAGE_PLAN):
        stages = [get(item, "stage") for item in elements(plan.props, "apiStages")]
        linked = refers_to(plan, "apiStages", stage, names) or any(s in names for s in stages)
        if not linked:
            continue
        throttle = get(plan.props, "throttleSettings")
        rate, burst = get(throttle, "rateLimit"), get(throttle, "burstLimit")
        if UNKNOWN in (throttle, rate, burst):
            return UNKNOWN
        if _positive(rate) and _positive(burst):
            return True
    return False


def _check_throttling(resources: Sequence[StackResource], report: Report, cfg: RuleConfig) -> None:
    for stage in of_type(resources, REST_STAGE):
        verdict = _rest_stage_throttled(resources, stage)
        if verdict is UNKNOWN:
            report(
                unverifiable(
                    "settings",
                    "the stage's MethodSettings or usage plan limits are known only after deploy",
                ),
                stage.urn,
            )
        elif not verdict:
            report(
                f"stage '{stage.name}' has no throttling: add MethodSettings for */* with "
                "throttlingRateLimit and throttlingBurstLimit (or a usage plan)",
                stage.urn,
            )
    for stage in of_type(resources, HTTP_STAGE):
        verdict = _throttled(get(stage.props, "defaultRouteSettings"))
        if verdict is UNKNOWN:
            report(unverifiable("defaultRouteSettings"), stage.urn)
        elif not verdict:
            report(f"stage '{stage.name}' has no defaultRouteSettings throttling limits", stage.urn)


def _camel(key: str) -> str:
    return key[:1].lower() + key[1:]


def _normalized(value: Any) -> Any:
    """WAF rules as camelCase objects, whether from ``rules`` or from ``ruleJson`` (PascalCase)."""
    if isinstance(value, dict):
        return {_camel(str(key)): _normalized(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_normalized(item) for item in value]
    return value


def _statements(statement: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(statement, dict):
        return
    yield statement
    for key in ("andStatement", "orStatement"):
        for inner in get(statement, key, "statements") or ():
            yield from _statements(inner)
    # Nothing under notStatement is a limit (it blocks what the inner statement does not match).
    yield from _statements(get(statement, "rateBasedStatement", "scopeDownStatement"))


def _blocks(rule: dict[str, Any]) -> bool:
    return get(rule, "action", "block") not in (MISSING, None)


def _rules(res: Resource, report: Report) -> list[Any] | None:
    rules_json = get(res.props, "ruleJson")
    if rules_json is UNKNOWN or get(res.props, "rules") is UNKNOWN:
        report(unverifiable("rules"))
        return None
    found = _normalized(plain(get(res.props, "rules"))) if get(res.props, "rules") else []
    if isinstance(rules_json, str) and rules_json.strip():
        try:
            found = list(found or []) + list(_normalized(json.loads(rules_json)))
        except (json.JSONDecodeError, TypeError):
            report("ruleJson is not a JSON list of rules")
    return list(found or [])


def _check_web_acl(res: Resource, report: Report, cfg: RuleConfig) -> None:
    rules = _rules(res, report)
    if rules is None:
        return
    rate_limited = body_limited = False
    unknown: list[str] = []
    for index, rule in enumerate(rules):
        where = f"rules[{index}]"
        if rule is UNKNOWN or get(rule, "action") is UNKNOWN:
            unknown.append(f"{where}.action")
            continue
        if not isinstance(rule, dict) or not _blocks(rule):
            continue
        for statement in _statements(get(rule, "statement")):
            limit = get(statement, "rateBasedStatement", "limit")
            if limit is UNKNOWN:
                unknown.append(f"{where}.statement.rateBasedStatement.limit")
            elif _positive(limit):
                rate_limited = True
            size = get(statement, "sizeConstraintStatement")
            body = get(size, "fieldToMatch", "body")
            operator = get(size, "comparisonOperator")
            if UNKNOWN in (body, operator):
                unknown.append(f"{where}.statement.sizeConstraintStatement")
            elif body not in (MISSING, None) and operator in ("GT", "GE"):
                body_limited = True
    if not (rate_limited and body_limited) and unknown:
        report(unverifiable(unknown[0]))
        return
    if not rate_limited:
        report("the web ACL has no blocking rate-based rule")
    if not body_limited:
        report("the web ACL has no blocking size constraint on the request body")


AUTHORIZERS: Final = {
    REST_METHOD: ("authorization", ("AWS_IAM", "COGNITO_USER_POOLS", "CUSTOM")),
    HTTP_ROUTE: ("authorizationType", ("AWS_IAM", "JWT", "CUSTOM")),
}


def _check_authorizer(res: Resource, report: Report, cfg: RuleConfig) -> None:
    field, accepted = AUTHORIZERS[res.resource_type]
    method = get(res.props, "httpMethod")
    route = get(res.props, "routeKey")
    if method == "OPTIONS" or (isinstance(route, str) and route.startswith("OPTIONS ")):
        return  # CORS preflight: browsers send it without credentials by design.
    kind = get(res.props, field)
    if kind is UNKNOWN:
        report(unverifiable(field))
        return
    if not isinstance(kind, str) or kind.upper() not in accepted:
        key = " (an API key authenticates no one)" if get(res.props, "apiKeyRequired") else ""
        report(
            f"the method is open to any caller: {field} is {kind if kind else 'NONE'}{key}; "
            f"use {', '.join(accepted)}"
        )
    elif kind.upper() in ("COGNITO_USER_POOLS", "CUSTOM", "JWT") and not present(
        res.props, "authorizerId"
    ):
        report(f"{field} {kind} needs an authorizerId")


_CONSUMPTION = (OWASP_CONSUMPTION, GDPR_SECURITY)

RULES: Final = (
    Rule(
        name="aws-apigateway-stage-require-throttling",
        description="API Gateway stages in front of an endpoint throttle request rate and burst.",
        severity=Severity.MEDIUM,
        resource_types=(REST_STAGE, METHOD_SETTINGS, USAGE_PLAN, HTTP_STAGE),
        controls=_CONSUMPTION,
        frameworks=frozenset({"baseline"}),
        remediation="Set security.rate_limit; on the resource: throttlingRateLimit and "
        "throttlingBurstLimit in MethodSettings for */*, a usage plan, or the HTTP API stage's "
        "defaultRouteSettings.",
        check=_check_throttling,
        scope=Scope.STACK,
        reads=(
            "methodPath",
            "settings",
            "settings.throttlingRateLimit",
            "settings.throttlingBurstLimit",
            "throttleSettings",
            "throttleSettings.rateLimit",
            "throttleSettings.burstLimit",
            "defaultRouteSettings",
            "defaultRouteSettings.throttlingRateLimit",
            "defaultRouteSettings.throttlingBurstLimit",
        ),
        references=("stageName", "apiStages", "apiStages[*]", "apiStages[*].stage"),
    ),
    Rule(
        name="aws-wafv2-webacl-require-request-limits",
        description="Web ACLs block callers over a request rate and bodies over a size.",
        severity=Severity.MEDIUM,
        resource_types=(WEB_ACL,),
        controls=_CONSUMPTION,
        frameworks=frozenset({"baseline"}),
        remediation="Add a rule with a rateBasedStatement (action block) and one with a "
        "sizeConstraintStatement on the body, comparisonOperator GT (security.max_request_bytes).",
        check=_check_web_acl,
        reads=("rules", "rules[*].*", "ruleJson"),
    ),
    Rule(
        name="aws-apigateway-method-require-authorizer",
        description="API Gateway methods and routes authenticate callers with IAM, Cognito or "
        "a Lambda/JWT authorizer; an API key alone is not authentication.",
        severity=Severity.CRITICAL,
        resource_types=tuple(AUTHORIZERS),
        controls=(HIPAA_ACCESS, HIPAA_AUTHENTICATION, GDPR_SECURITY),
        frameworks=frozenset({"baseline"}),
        remediation="Set authorization to AWS_IAM (SigV4 callers), COGNITO_USER_POOLS or CUSTOM "
        "with an authorizerId (authorizationType AWS_IAM, JWT or CUSTOM on HTTP API routes); keep "
        "the API key for usage plans only.",
        check=_check_authorizer,
        peers=("CKV_AWS_59", "cdk-nag:APIG4"),
        reads=("authorization", "authorizationType"),
        # The method only exempts CORS preflight, and the key flag only changes the wording: an
        # unknown value of either never relaxes the check.
        references=("authorizerId", "httpMethod", "routeKey", "apiKeyRequired"),
    ),
)

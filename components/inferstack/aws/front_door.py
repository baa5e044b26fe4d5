"""An optional front door: API Gateway (REST, regional) with a WAF web ACL in front.

For callers that cannot call AWS APIs with SigV4 themselves. It integrates with the guard
gateway Lambda (``AWS_PROXY``, through a role allowed to invoke that function only), never
with the endpoint: the gateway's role is the endpoint's only caller. The method keeps IAM
(SigV4) authentication; with ``security.auth: api_key`` it authenticates callers with a Cognito
user pool instead (OAuth 2.0 client credentials: a client id and secret buy a short-lived
token with the ``invoke`` scope), and the API key only meters the caller against the usage
plan, as API Gateway intends: an API key is an identifier, not a credential. Cognito rather
than a Lambda authorizer: no code of ours in the authentication path, tokens expire within
the hour, and a leaked client secret is revoked by rotating the app client. The stage
throttles to ``security.rate_limit``; WAF blocks bodies over ``security.max_request_bytes``
and clients over the same rate. Access logs carry no bodies.

Callers get a managed policy for ``execute-api:Invoke`` on this API's id and stage only;
the id exists after deploy, so the policy packs judge that document then.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from inferstack.aws import names
from inferstack.aws.context import Context
from inferstack.aws.documents import document, statement
from inferstack.aws.front_door_auth import token_issuer
from inferstack.aws.gateway import Gateway, function_arn
from inferstack.aws.iam import service_role
from inferstack.aws.names import Arns
from inferstack.aws.policies import (
    Document,
    api_resource_policy,
    assume_role,
    front_door_role_policy,
)

STAGE = "v1"
# execute-api ARNs end in <api id>/<stage>/<method>/<path>.
STAGE_PATH = f"{STAGE}/POST/invocations"
INTEGRATION_TIMEOUT_MS = 29_000
# WAF inspects at most this much of a body for API Gateway (the KB_64 setting).
WAF_BODY_LIMIT = 64 * 1024
RATE_WINDOW_SECONDS = 60
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "sourceIp": "$context.identity.sourceIp",
        "caller": "$context.identity.caller",
        "user": "$context.identity.user",
        "apiKeyId": "$context.identity.apiKeyId",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "resourcePath": "$context.resourcePath",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "integrationLatency": "$context.integrationLatency",
        "wafStatus": "$context.waf.status",
    }
)


def access_log_group_name(endpoint_name: str) -> str:
    return f"/aws/apigateway/{endpoint_name}"


def waf_log_group_name(endpoint_name: str) -> str:
    # WAF delivers only to log groups whose name starts with aws-waf-logs-.
    return f"aws-waf-logs-{endpoint_name}"


@dataclass(frozen=True)
class FrontDoor:
    url: pulumi.Output[str]
    invoke_policy_arn: pulumi.Output[str]
    token_url: pulumi.Output[str] | None = None
    client_id: pulumi.Output[str] | None = None


def front_door(
    ctx: Context,
    *,
    gateway: Gateway,
    access_logs: aws.cloudwatch.LogGroup,
    waf_logs: aws.cloudwatch.LogGroup,
) -> FrontDoor:
    plan = ctx.plan
    security = ctx.spec.security
    role = _integration_role(ctx)
    cidrs = security.network.allowed_cidrs

    def resource_policy(arns: Arns) -> Document:
        document = api_resource_policy(
            "execute-api:/*", arns.root, cidrs, signed=not plan.api_key_auth
        )
        assert document is not None
        return document

    # API-key callers are unsigned: without allowed networks there is nothing to restrict.
    restricted = not plan.api_key_auth or bool(cidrs)
    api = aws.apigateway.RestApi(
        ctx.child("api"),
        name=plan.endpoint_name,
        description=f"inferstack {ctx.name}: front door of the SageMaker endpoint",
        endpoint_configuration={"types": "REGIONAL"},
        policy=ctx.policy(resource_policy) if restricted else None,
        region=ctx.region,
        tags=ctx.tags(),
        opts=ctx.opts(),
    )
    resource = aws.apigateway.Resource(
        ctx.child("api-invocations"),
        rest_api=api.id,
        parent_id=api.root_resource_id,
        path_part="invocations",
        region=ctx.region,
        opts=ctx.opts(),
    )
    tokens = token_issuer(ctx, api) if plan.api_key_auth else None
    method = aws.apigateway.Method(
        ctx.child("api-post"),
        rest_api=api.id,
        resource_id=resource.id,
        http_method="POST",
        authorization="COGNITO_USER_POOLS" if tokens else "AWS_IAM",
        authorizer_id=tokens.authorizer.id if tokens else None,
        authorization_scopes=[tokens.scope] if tokens else None,
        api_key_required=plan.api_key_auth,
        region=ctx.region,
        opts=ctx.opts(),
    )
    # The gateway answers with status, headers and body itself: no response mapping.
    integration = aws.apigateway.Integration(
        ctx.child("api-integration"),
        rest_api=api.id,
        resource_id=resource.id,
        http_method=method.http_method,
        type="AWS_PROXY",
        integration_http_method="POST",
        uri=gateway.invoke_arn,
        credentials=role.arn,
        timeout_milliseconds=INTEGRATION_TIMEOUT_MS,
        region=ctx.region,
        opts=ctx.opts(),
    )
    deployment = aws.apigateway.Deployment(
        ctx.child("api-deployment"),
        rest_api=api.id,
        description=f"{ctx.name} front door",
        triggers={"configuration": _fingerprint(ctx)},
        region=ctx.region,
        opts=ctx.opts(depends_on=[method, integration]),
    )
    stage = aws.apigateway.Stage(
        ctx.child("api-stage"),
        rest_api=api.id,
        deployment=deployment.id,
        stage_name=STAGE,
        access_log_settings={"destination_arn": access_logs.arn, "format": ACCESS_LOG_FORMAT},
        xray_tracing_enabled=True,
        region=ctx.region,
        tags=ctx.tags(),
        opts=ctx.opts(),
    )
    aws.apigateway.MethodSettings(
        ctx.child("api-throttling"),
        rest_api=api.id,
        stage_name=stage.stage_name,
        method_path="*/*",
        settings={
            "throttling_rate_limit": security.rate_limit.requests_per_second,
            "throttling_burst_limit": security.rate_limit.burst,
            "metrics_enabled": True,
            "logging_level": "ERROR",
            # Request and response bodies may hold personal data: never log them.
            "data_trace_enabled": False,
        },
        region=ctx.region,
        opts=ctx.opts(),
    )
    if plan.api_key_auth:
        _usage_plan(ctx, api, stage)
    _firewall(ctx, stage, waf_logs)
    return FrontDoor(
        url=stage.invoke_url.apply(lambda url: f"{url}/invocations"),
        invoke_policy_arn=_invoke_policy(ctx, api).arn,
        token_url=tokens.token_url if tokens else None,
        client_id=tokens.client_id if tokens else None,
    )


def _invoke_policy(ctx: Context, api: aws.apigateway.RestApi) -> aws.iam.Policy:
    """What a caller attaches to use the front door: this API's stage and method only."""

    def build(arns: Arns, api_id: str) -> Document:
        arn = arns.execute_api(api_id, STAGE_PATH)
        return document(statement("InvokeFrontDoor", "execute-api:Invoke", arn))

    return aws.iam.Policy(
        ctx.child("api-callers-policy"),
        name=names.role_name(ctx.plan.endpoint_name, "front-door-invoke", ctx.region),
        path="/inferstack/",
        description=f"Invoke the front door of the inferstack endpoint {ctx.plan.endpoint_name}",
        policy=ctx.policy(build, api.id),
        tags=ctx.tags(),
        opts=ctx.opts(),
    )


def _integration_role(ctx: Context) -> aws.iam.Role:
    plan = ctx.plan

    def build(arns: Arns) -> Document:
        return front_door_role_policy(function_arn(arns, plan.endpoint_name))

    role = service_role(
        ctx,
        "api-role",
        name=names.role_name(plan.endpoint_name, "apigateway", ctx.region),
        description="lets API Gateway invoke the guard gateway",
        trust=json.dumps(assume_role("apigateway.amazonaws.com")),
    )
    aws.iam.RolePolicy(
        ctx.child("api-role-policy"),
        role=role.id,
        name="invoke-gateway",
        policy=ctx.policy(build),
        opts=ctx.opts(),
    )
    return role


def _fingerprint(ctx: Context) -> str:
    """Changes when the API's shape does, so a new deployment is cut only then."""
    shape = {
        "auth": ctx.plan.api_key_auth,
        "endpoint": ctx.plan.endpoint_name,
        "integration": "gateway",
        "stage": STAGE,
    }
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()


def _usage_plan(ctx: Context, api: aws.apigateway.RestApi, stage: aws.apigateway.Stage) -> None:
    limits = ctx.spec.security.rate_limit
    usage = aws.apigateway.UsagePlan(
        ctx.child("api-usage-plan"),
        name=ctx.plan.endpoint_name,
        api_stages=[{"api_id": api.id, "stage": stage.stage_name}],
        throttle_settings={"rate_limit": limits.requests_per_second, "burst_limit": limits.burst},
        region=ctx.region,
        tags=ctx.tags(),
        opts=ctx.opts(),
    )
    # API Gateway generates the key's value; read it with `aws apigateway get-api-key`.
    key = aws.apigateway.ApiKey(
        ctx.child("api-key"),
        name=ctx.plan.endpoint_name,
        enabled=True,
        region=ctx.region,
        tags=ctx.tags(),
        opts=ctx.opts(),
    )
    aws.apigateway.UsagePlanKey(
        ctx.child("api-usage-plan-key"),
        key_id=key.id,
        key_type="API_KEY",
        usage_plan_id=usage.id,
        region=ctx.region,
        opts=ctx.opts(),
    )


def _firewall(
    ctx: Context, stage: aws.apigateway.Stage, logs: aws.cloudwatch.LogGroup
) -> aws.wafv2.WebAcl:
    security = ctx.spec.security
    metric = ctx.plan.endpoint_name.replace("-", "")
    # PHI must not sit in WAF's sampled-request store.
    sampled = not ctx.spec.compliance.phi
    oversize = "MATCH" if security.max_request_bytes <= WAF_BODY_LIMIT else "CONTINUE"

    def visibility(name: str) -> aws.wafv2.WebAclRuleVisibilityConfigArgsDict:
        return {
            "cloudwatch_metrics_enabled": True,
            "metric_name": f"{metric}{name}",
            "sampled_requests_enabled": sampled,
        }

    acl = aws.wafv2.WebAcl(
        ctx.child("waf"),
        name=ctx.plan.endpoint_name,
        description=f"inferstack {ctx.name}: rate and request-size limits for the front door",
        scope="REGIONAL",
        default_action={"allow": {}},
        association_config={
            "request_bodies": [{"api_gateway": {"default_size_inspection_limit": "KB_64"}}]
        },
        rules=[
            {
                "name": "rate-per-client",
                "priority": 0,
                "action": {"block": {}},
                "statement": {
                    "rate_based_statement": {
                        "aggregate_key_type": "IP",
                        "evaluation_window_sec": RATE_WINDOW_SECONDS,
                        "limit": max(
                            10, security.rate_limit.requests_per_second * RATE_WINDOW_SECONDS
                        ),
                    }
                },
                "visibility_config": visibility("RatePerClient"),
            },
            {
                "name": "max-request-size",
                "priority": 1,
                "action": {"block": {}},
                "statement": {
                    "size_constraint_statement": {
                        "comparison_operator": "GT",
                        "size": security.max_request_bytes,
                        "field_to_match": {"body": {"oversize_handling": oversize}},
                        "text_transformations": [{"priority": 0, "type": "NONE"}],
                    }
                },
                "visibility_config": visibility("MaxRequestSize"),
            },
        ],
        visibility_config=visibility("FrontDoor"),
        region=ctx.region,
        tags=ctx.tags(),
        opts=ctx.opts(),
    )
    aws.wafv2.WebAclAssociation(
        ctx.child("waf-association"),
        resource_arn=stage.arn,
        web_acl_arn=acl.arn,
        region=ctx.region,
        opts=ctx.opts(),
    )
    aws.wafv2.WebAclLoggingConfiguration(
        ctx.child("waf-logging"),
        resource_arn=acl.arn,
        log_destination_configs=[logs.arn],
        redacted_fields=[
            {"single_header": {"name": "authorization"}},
            {"single_header": {"name": "x-api-key"}},
        ],
        region=ctx.region,
        opts=ctx.opts(),
    )
    return acl

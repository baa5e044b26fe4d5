"""Caller authentication of the front door with ``security.auth: api_key``.

A Cognito user pool for machine clients issues OAuth 2.0 client-credentials tokens with the
``invoke`` scope, and a COGNITO_USER_POOLS authorizer checks them on the method; the API key
stays, for the usage plan's throttling and quota only (API Gateway: API keys identify, they do
not authenticate). Chosen over a Lambda authorizer: no code of ours in the authentication
path, tokens that expire within the hour, and revocation by rotating the app client's secret.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from inferstack.aws import names
from inferstack.aws.context import Context

# The OAuth scope a caller's token must carry: <resource server>/<scope>.
INVOKE_SCOPE = "invoke"
TOKEN_VALIDITY_MINUTES = 60


@dataclass(frozen=True)
class Tokens:
    authorizer: aws.apigateway.Authorizer
    scope: str
    token_url: pulumi.Output[str]
    client_id: pulumi.Output[str]


def token_issuer(ctx: Context, api: aws.apigateway.RestApi) -> Tokens:
    """A Cognito user pool that issues client-credentials tokens, and the API's authorizer."""
    plan = ctx.plan
    pool = aws.cognito.UserPool(
        ctx.child("callers"),
        name=f"{plan.endpoint_name}-callers",
        # Machine clients only: nobody signs up, no user signs in.
        admin_create_user_config={"allow_admin_create_user_only": True},
        deletion_protection="ACTIVE",
        mfa_configuration="OFF",
        region=ctx.region,
        tags=ctx.tags(),
        opts=ctx.opts(),
    )
    identifier = f"inferstack/{plan.endpoint_name}"
    server = aws.cognito.ResourceServer(
        ctx.child("callers-api"),
        identifier=identifier,
        name=plan.endpoint_name,
        user_pool_id=pool.id,
        scopes=[{"scope_name": INVOKE_SCOPE, "scope_description": "Invoke the model"}],
        region=ctx.region,
        opts=ctx.opts(),
    )
    domain = aws.cognito.UserPoolDomain(
        ctx.child("callers-domain"),
        domain=names.bounded(plan.endpoint_name.lower(), "auth", 63, ctx.region, ctx.name),
        user_pool_id=pool.id,
        region=ctx.region,
        opts=ctx.opts(),
    )
    scope = f"{identifier}/{INVOKE_SCOPE}"
    client = aws.cognito.UserPoolClient(
        ctx.child("callers-client"),
        name=f"{plan.endpoint_name}-client",
        user_pool_id=pool.id,
        generate_secret=True,
        allowed_oauth_flows=["client_credentials"],
        allowed_oauth_flows_user_pool_client=True,
        allowed_oauth_scopes=[scope],
        access_token_validity=TOKEN_VALIDITY_MINUTES,
        token_validity_units={"access_token": "minutes"},
        enable_token_revocation=True,
        prevent_user_existence_errors="ENABLED",
        region=ctx.region,
        opts=ctx.opts(depends_on=[server]),
    )
    authorizer = aws.apigateway.Authorizer(
        ctx.child("api-authorizer"),
        rest_api=api.id,
        name=f"{plan.endpoint_name}-callers",
        type="COGNITO_USER_POOLS",
        provider_arns=[pool.arn],
        identity_source="method.request.header.Authorization",
        region=ctx.region,
        opts=ctx.opts(),
    )
    token_url = domain.domain.apply(
        lambda prefix: f"https://{prefix}.auth.{ctx.region}.amazoncognito.com/oauth2/token"
    )
    return Tokens(authorizer, scope, token_url, client.id)

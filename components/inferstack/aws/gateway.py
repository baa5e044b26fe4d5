"""The guard gateway: a Python Lambda, the only principal allowed to invoke the endpoint.

Callers reach the model only through it: directly (``lambda:InvokeFunction``, the invoke
policy), or through the API Gateway front door, which integrates with it (``AWS_PROXY``).
The code is ``inferstack/aws/lambda_gateway/`` (``handler.py`` and the modules it imports as
top-level modules), zipped as is, side by side. The function has its own role
(``sagemaker:InvokeEndpoint`` on this endpoint, ``bedrock:ApplyGuardrail`` on this guardrail,
its log group, its network interfaces; the deployment key through the key's policy), a
KMS-encrypted log group with the deployment's retention, environment variables encrypted with
the same key, a reserved concurrency equal to what the endpoint can serve at full scale (so a
flood is throttled at the gateway, not queued against the model), and runs in the endpoint's
private subnets.

With ``observability.tracing`` it has X-Ray active tracing, and its own spans (a SERVER span
per request, a CLIENT span per guardrail and endpoint call; no prompt, answer or guardrail
text) are exported by ``otlp.py`` over OTLP/HTTP (JSON) to ``tracing.endpoint``, sampled with
``sampling_ratio`` (parent-based). The role may then read the ``headers_secret`` secret
(``secretsmanager:GetSecretValue`` on that secret only; the environment names the secret and
its key, never the value). A secret encrypted with the ``aws/secretsmanager`` key or with a
deployment key you bring needs no further grant; another customer-managed key must allow the
role ``kms:Decrypt`` in its own key policy. From the VPC the stack creates, the endpoint must be
reachable inside the VPC over HTTPS (see :mod:`inferstack.aws.gateway_network`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from inferstack.aws import names
from inferstack.aws.context import Context
from inferstack.aws.documents import Document, assume_role, document, statement
from inferstack.aws.gateway_network import gateway_security_groups
from inferstack.aws.guard import Guardrail
from inferstack.aws.iam import network_grants, service_role
from inferstack.aws.names import Arns
from inferstack.aws.network import Network
from inferstack.aws.policies import NetworkGrants, network_policy

CODE_DIR = Path(__file__).with_name("lambda_gateway")
# The zip's files: the handler and the modules it imports as top-level modules (the request,
# the guardrail screen, the endpoint call, refusals, span attributes, the OTLP exporter).
CODE_FILES = (
    "handler.py",
    "prompts.py",
    "guardrail.py",
    "endpoint.py",
    "refusals.py",
    "spans.py",
    "otlp.py",
)
RUNTIME = "python3.12"
HANDLER = "handler.handler"
MEMORY_MB = 256
TIMEOUT_SECONDS = 60
# No tokenizer in the gateway: prompts are bounded in characters, about four per token.
CHARS_PER_TOKEN = 4
XRAY_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")


def function_name(endpoint_name: str) -> str:
    return names.gateway_name(endpoint_name)


def log_group_name(endpoint_name: str) -> str:
    return f"/aws/lambda/{function_name(endpoint_name)}"


def role_name(ctx: Context) -> str:
    return names.role_name(ctx.plan.endpoint_name, "gateway", ctx.region)


def function_arn(arns: Arns, endpoint_name: str) -> str:
    return arns.function(function_name(endpoint_name))


@dataclass(frozen=True)
class Gateway:
    name: str
    arn: pulumi.Output[str]
    invoke_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]


def gateway_role(ctx: Context) -> aws.iam.Role:
    # Created before the key: a created key's policy names it (kms:Decrypt for the guardrail
    # and the environment), so its grants follow as separate RolePolicies.
    return service_role(
        ctx,
        "gateway-role",
        name=role_name(ctx),
        description="the guard gateway Lambda; the endpoint's only caller",
        trust=json.dumps(assume_role("lambda.amazonaws.com")),
    )


def gateway_policy(
    arns: Arns,
    endpoint_name: str,
    *,
    key_arn: str | None,
    tracing: bool,
    headers_secret_arn: str | None = None,
) -> Document:
    """Invoke this endpoint, write this log group; the key when it is brought, X-Ray if traced,
    and the trace exporter's headers secret when one is named."""
    logs = arns.log_group(log_group_name(endpoint_name))
    statements = [
        statement("InvokeEndpoint", "sagemaker:InvokeEndpoint", arns.endpoint(endpoint_name)),
        statement(
            "WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], f"{logs}:log-stream:*"
        ),
    ]
    if key_arn is not None:
        statements.append(statement("UseDeploymentKey", ["kms:Decrypt"], key_arn))
    if tracing:
        # X-Ray has no resource-level permissions.
        statements.append(statement("WriteTraces", XRAY_ACTIONS, "*"))
    if headers_secret_arn is not None:
        statements.append(
            statement("ReadTraceHeaders", "secretsmanager:GetSecretValue", headers_secret_arn)
        )
    return document(*statements)


def guardrail_policy(guardrail_arn: str) -> Document:
    return document(statement("ApplyGuardrail", "bedrock:ApplyGuardrail", guardrail_arn))


def gateway_network_policy(grants: NetworkGrants) -> Document:
    """The endpoint's interface grants, in the same subnets and VPC."""
    return network_policy(grants)


def environment(ctx: Context, rail: Guardrail | None) -> dict[str, pulumi.Input[str]]:
    guard = ctx.spec.security.guard
    max_input = guard.checks.max_input_tokens
    env: dict[str, pulumi.Input[str]] = {
        "INFERSTACK_ENDPOINT_NAME": ctx.plan.endpoint_name,
        "INFERSTACK_SCREEN_INPUT": "true" if rail is not None and guard.input else "false",
        "INFERSTACK_SCREEN_OUTPUT": guard.output if rail is not None else "off",
        "INFERSTACK_MAX_OUTPUT_TOKENS": str(guard.max_output_tokens),
        "INFERSTACK_MAX_INPUT_CHARS": str(max_input * CHARS_PER_TOKEN if max_input else 0),
        "INFERSTACK_BLOCKED_MESSAGE": guard.blocked_message,
        "INFERSTACK_TOOL_CALLING": "true" if ctx.spec.serving.tool_calling else "false",
        "INFERSTACK_GUARDRAIL_ID": rail.id if rail is not None else "",
        "INFERSTACK_GUARDRAIL_VERSION": rail.version if rail is not None else "",
    }
    tracing = ctx.spec.observability.tracing
    if tracing is not None:
        env.update(
            {
                "OTEL_SERVICE_NAME": function_name(ctx.plan.endpoint_name),
                "OTEL_EXPORTER_OTLP_ENDPOINT": tracing.endpoint,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
                "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                "OTEL_TRACES_SAMPLER_ARG": str(tracing.sampling_ratio),
            }
        )
        if tracing.headers_secret is not None:
            # The secret's name and key: the handler reads the value at a cold start.
            env["INFERSTACK_OTLP_HEADERS_SECRET_ID"] = tracing.headers_secret.name
            env["INFERSTACK_OTLP_HEADERS_SECRET_KEY"] = tracing.headers_secret.key
    return env


def code() -> pulumi.AssetArchive:
    """The function's zip: the handler and its exporter at the top level."""
    return pulumi.AssetArchive(
        {name: pulumi.FileAsset(str(CODE_DIR / name)) for name in CODE_FILES}
    )


def reserved_concurrency(ctx: Context) -> int:
    """Requests the endpoint serves at once at full scale: more would only queue at the model."""
    return max(1, ctx.plan.max_capacity * ctx.spec.serving.max_concurrency)


def gateway(
    ctx: Context,
    *,
    role: aws.iam.Role,
    key_arn: pulumi.Input[str],
    rail: Guardrail | None,
    net: Network,
    logs: aws.cloudwatch.LogGroup,
) -> Gateway:
    plan = ctx.plan
    spec_tracing = ctx.spec.observability.tracing
    tracing = spec_tracing is not None
    headers_secret = spec_tracing.headers_secret if spec_tracing is not None else None
    brought_key = None if plan.create_key else plan.kms_key

    def own(arns: Arns) -> Document:
        key = arns.kms_key(brought_key) if brought_key is not None else None
        secret = arns.secret(headers_secret.name) if headers_secret is not None else None
        return gateway_policy(
            arns, plan.endpoint_name, key_arn=key, tracing=tracing, headers_secret_arn=secret
        )

    grants: list[pulumi.Resource] = [
        aws.iam.RolePolicy(
            ctx.child("gateway-policy"),
            role=role.id,
            name="inferstack-gateway",
            policy=ctx.policy(own),
            opts=ctx.opts(),
        )
    ]
    if rail is not None:
        grants.append(
            aws.iam.RolePolicy(
                ctx.child("gateway-guardrail-policy"),
                role=role.id,
                name="inferstack-guardrail",
                policy=rail.arn.apply(lambda arn: json.dumps(guardrail_policy(arn))),
                opts=ctx.opts(),
            )
        )
    grants.append(_network_grant(ctx, role, net))
    groups = gateway_security_groups(ctx, net)
    function = aws.lambda_.Function(
        ctx.child("gateway"),
        name=function_name(plan.endpoint_name),
        description=f"inferstack {ctx.name}: guards and invokes the SageMaker endpoint",
        runtime=RUNTIME,
        handler=HANDLER,
        code=code(),
        role=role.arn,
        memory_size=MEMORY_MB,
        timeout=TIMEOUT_SECONDS,
        reserved_concurrent_executions=reserved_concurrency(ctx),
        environment={"variables": environment(ctx, rail)},
        kms_key_arn=key_arn,
        vpc_config={"subnet_ids": net.subnet_ids, "security_group_ids": groups},
        logging_config={"log_format": "JSON", "log_group": logs.name},
        tracing_config={"mode": "Active" if tracing else "PassThrough"},
        region=ctx.region,
        tags=ctx.tags(),
        opts=ctx.opts(depends_on=[*grants, logs, *net.ready]),
    )
    return Gateway(
        name=function_name(plan.endpoint_name),
        arn=function.arn,
        invoke_arn=function.invoke_arn,
        role_arn=role.arn,
    )


def _network_grant(ctx: Context, role: aws.iam.Role, net: Network) -> aws.iam.RolePolicy:
    def build(arns: Arns, created: str | None) -> Document:
        return gateway_network_policy(network_grants(ctx, arns, created))

    return aws.iam.RolePolicy(
        ctx.child("gateway-interfaces"),
        role=role.id,
        name="inferstack-network",
        policy=ctx.policy(build, net.vpc_id),
        opts=ctx.opts(),
    )

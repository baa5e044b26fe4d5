"""The endpoint's execution role and the managed policy its callers attach."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from inferstack.aws import names, storage
from inferstack.aws.context import Context
from inferstack.aws.names import Arns
from inferstack.aws.policies import (
    Document,
    ExecutionGrants,
    NetworkGrants,
    assume_role,
    execution_policy,
    invoke_policy,
    network_policy,
)

# Every resource the stack creates carries it (DeploymentSpec.own_labels).
DEPLOYMENT_TAG = "inferstack/deployment"


def execution_role_name(ctx: Context) -> str:
    return names.role_name(ctx.plan.endpoint_name, "sagemaker", ctx.region)


def service_role(
    ctx: Context,
    suffix: str,
    *,
    name: str,
    description: str,
    trust: pulumi.Input[str],
    tags: Mapping[str, str] | None = None,
) -> aws.iam.Role:
    """A role an AWS service assumes under ``trust`` (its trust policy, JSON), one-hour sessions.

    No inline or managed policies: a created key's policy may name the role, so it must exist
    before the key, and its grants follow as separate RolePolicies.
    """
    return aws.iam.Role(
        ctx.child(suffix),
        name=name,
        description=f"inferstack {ctx.name}: {description}",
        assume_role_policy=trust,
        max_session_duration=3600,
        tags=dict(tags) if tags is not None else ctx.tags(),
        opts=ctx.opts(),
    )


def execution_role(ctx: Context) -> aws.iam.Role:
    return service_role(
        ctx,
        "execution-role",
        name=execution_role_name(ctx),
        description="runs the SageMaker model; least privilege",
        trust=json.dumps(assume_role("sagemaker.amazonaws.com")),
    )


def grant_execution(
    ctx: Context,
    role: aws.iam.Role,
    *,
    bucket_name: pulumi.Input[str],
    log_group_name: str,
    topic_names: list[str],
) -> aws.iam.RolePolicy:
    plan = ctx.plan
    capture = ctx.spec.compliance.data_capture.enabled
    read_prefixes: tuple[str, ...] = (storage.ASYNC_INPUT,) if plan.is_async else ()
    write_prefixes = ((storage.CAPTURE_PREFIX,) if capture else ()) + (
        (storage.ASYNC_OUTPUT, storage.ASYNC_FAILURE) if plan.is_async else ()
    )

    def build(arns: Arns, bucket: str) -> Document:
        source = plan.source
        return execution_policy(
            ExecutionGrants(
                repository_arn=plan.image_repository_arn,
                log_group_arn=arns.log_group(log_group_name),
                # A key created here names this role in its key policy; one you bring does not.
                key_arn=None if plan.create_key else arns.kms_key(str(plan.kms_key)),
                model_bucket_arn=arns.bucket(source.bucket) if source.bucket else None,
                model_key=source.key or "",
                bucket_arn=arns.bucket(bucket) if (read_prefixes or write_prefixes) else None,
                read_prefixes=read_prefixes,
                write_prefixes=write_prefixes,
                topic_arns=tuple(arns.topic(name) for name in topic_names),
                secret_arn=arns.secret(plan.token_secret) if plan.token_secret else None,
            )
        )

    return aws.iam.RolePolicy(
        ctx.child("execution-policy"),
        role=role.id,
        name="inferstack-execution",
        policy=ctx.policy(build, bucket_name),
        opts=ctx.opts(),
    )


def grant_network(
    ctx: Context, role: aws.iam.Role, created_vpc_id: pulumi.Input[str] | None = None
) -> aws.iam.RolePolicy:
    """The endpoint's network interfaces, in its VPC and subnets only (see ``network_policy``).

    A VPC the stack creates has its id only after deploy: the document is then unknown at
    preview (the packs report it unverifiable) and conditioned on that VPC at ``pulumi up``.
    """

    def build(arns: Arns, created: str | None) -> Document:
        return network_policy(network_grants(ctx, arns, created))

    return aws.iam.RolePolicy(
        ctx.child("network-policy"),
        role=role.id,
        name="inferstack-network",
        policy=ctx.policy(build, created_vpc_id),
        opts=ctx.opts(),
    )


def caller_policy(
    ctx: Context, *, bucket_name: pulumi.Input[str], key_alias: str | None
) -> aws.iam.Policy:
    plan = ctx.plan

    def build(arns: Arns, bucket: str) -> Document:
        # A key created here is named through its alias: its ARN exists only after deploy.
        key_arn = arns.kms_key("*" if plan.create_key else str(plan.kms_key))
        return invoke_policy(
            arns.endpoint(plan.endpoint_name),
            is_async=plan.is_async,
            gateway_arn=arns.function(names.gateway_name(plan.endpoint_name))
            if plan.gateway
            else None,
            bucket_arn=arns.bucket(bucket),
            key_arn=key_arn,
            key_alias=key_alias if plan.create_key else None,
            s3_service=arns.service("s3"),
        )

    return aws.iam.Policy(
        ctx.child("invoke-policy"),
        name=names.role_name(plan.endpoint_name, "invoke", ctx.region),
        path="/inferstack/",
        description=f"Invoke the inferstack SageMaker endpoint {plan.endpoint_name}"
        + (" through its guard gateway" if plan.gateway else ""),
        policy=ctx.policy(build, bucket_name),
        tags=ctx.tags(),
        opts=ctx.opts(),
    )


def network_grants(ctx: Context, arns: Arns, created_vpc_id: str | None) -> NetworkGrants:
    """The deployment's subnets, security groups and VPC (given, else created) as IAM ARNs."""
    plan = ctx.plan
    vpc_id = plan.vpc_id or created_vpc_id
    return NetworkGrants(
        account_pattern=arns.ec2(),
        subnet_arns=tuple(arns.subnet(s) for s in plan.subnet_ids),
        security_group_arns=tuple(arns.security_group(g) for g in plan.security_group_ids),
        vpc_arn=arns.vpc(vpc_id) if vpc_id else None,
        tag=(DEPLOYMENT_TAG, ctx.spec.name),
    )

"""The deployment's KMS key: created with rotation and a scoped key policy, or one you bring."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from inferstack.aws.context import Context
from inferstack.aws.names import Arns
from inferstack.aws.policies import KeyGrants, key_policy


def key_alias(endpoint_name: str) -> str:
    return f"alias/inferstack/{endpoint_name}"


def deployment_key(
    ctx: Context,
    *,
    role_names: Sequence[str],
    roles: Sequence[pulumi.Resource],
    log_groups: Sequence[str],
) -> pulumi.Output[str]:
    """The key ARN. A created key names the roles in its policy, so they must exist first."""
    plan = ctx.plan
    if not plan.create_key:
        assert plan.kms_key is not None
        existing = plan.kms_key
        return ctx.arns().apply(lambda arns: arns.kms_key(existing))

    # The guardrail (Bedrock) and the gateway's environment (Lambda) are encrypted with it too.
    services = ("sagemaker", "s3", "sns") + (("lambda", "bedrock") if plan.gateway else ())

    def build(arns: Arns) -> dict[str, object]:
        return key_policy(
            KeyGrants(
                account=arns.account,
                partition=arns.partition,
                role_arns=tuple(arns.role(name) for name in role_names),
                log_group_arns=tuple(arns.log_group(group) for group in log_groups),
                logs_service=arns.service("logs"),
                via_services=tuple(arns.service(s) for s in services),
            )
        )

    key = aws.kms.Key(
        ctx.child("key"),
        description=f"inferstack {ctx.name}: SageMaker endpoint, artifacts, logs, notifications"
        + (", guardrail and gateway" if plan.gateway else ""),
        enable_key_rotation=True,
        rotation_period_in_days=365,
        deletion_window_in_days=30,
        policy=ctx.policy(build),
        region=ctx.region,
        tags=ctx.tags(),
        opts=ctx.opts(depends_on=list(roles)),
    )
    aws.kms.Alias(
        ctx.child("key-alias"),
        name=key_alias(plan.endpoint_name),
        target_key_id=key.key_id,
        region=ctx.region,
        opts=ctx.opts(),
    )
    return key.arn

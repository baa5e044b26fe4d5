"""The artifact bucket (data capture, async payloads) and the bucket its access logs go to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from inferstack.aws import names
from inferstack.aws.context import Context
from inferstack.aws.names import Arns
from inferstack.aws.policies import Document, artifact_bucket_policy, log_bucket_policy

CAPTURE_PREFIX = "capture/"
ASYNC_INPUT, ASYNC_OUTPUT, ASYNC_FAILURE = "async-input/", "async-output/", "async-failure/"
NONCURRENT_DAYS = 30
MULTIPART_DAYS = 7


@dataclass(frozen=True)
class Storage:
    name: pulumi.Output[str]
    arn: pulumi.Output[str]
    ready: list[pulumi.Resource]  # what must exist before SageMaker writes to the bucket
    log_bucket_id: pulumi.Output[str] | None = None  # the access-log bucket, if created


def artifact_storage(
    ctx: Context,
    key_arn: pulumi.Output[str],
    *,
    existing_bucket: str | None,
    force_destroy: bool,
    async_retention_days: int,
    log_sources: Sequence[pulumi.Output[str]] = (),
) -> Storage:
    """``log_sources``: names of other buckets of the stack that log to the access-log bucket."""
    if existing_bucket is not None:
        # Your bucket logs where you decided; the stack's other buckets still need a target.
        logs = _log_bucket(ctx, log_sources, key_arn, force_destroy) if log_sources else None
        return Storage(
            name=pulumi.Output.from_input(existing_bucket),
            arn=ctx.arns().apply(lambda arns: arns.bucket(existing_bucket)),
            ready=[],
            log_bucket_id=logs.id if logs is not None else None,
        )
    artifacts_name = ctx.account.apply(
        lambda account: names.bucket_name(ctx.name, "artifacts", account, ctx.region)
    )
    logs = _log_bucket(ctx, [artifacts_name, *log_sources], key_arn, force_destroy)
    bucket = make_bucket(ctx, "artifacts", artifacts_name, force_destroy)
    ready = harden(ctx, "artifacts", bucket, kms_key_arn=key_arn)
    ready.append(
        aws.s3.BucketPolicy(
            ctx.child("artifacts-policy"),
            bucket=bucket.id,
            policy=ctx.policy(_artifact_policy, artifacts_name),
            region=ctx.region,
            # S3 rejects a policy change while the public access block is being applied.
            opts=ctx.opts(depends_on=ready),
        )
    )
    ready.append(
        aws.s3.BucketLogging(
            ctx.child("artifacts-logging"),
            bucket=bucket.id,
            target_bucket=logs.id,
            target_prefix=artifacts_name.apply(lambda name: f"{name}/"),
            region=ctx.region,
            opts=ctx.opts(),
        )
    )
    ready.append(
        aws.s3.BucketLifecycleConfiguration(
            ctx.child("artifacts-lifecycle"),
            bucket=bucket.id,
            rules=_artifact_rules(ctx, async_retention_days),
            region=ctx.region,
            # Lifecycle rules on noncurrent versions need versioning first.
            opts=ctx.opts(depends_on=ready[:1]),
        )
    )
    return Storage(name=bucket.bucket, arn=bucket.arn, ready=ready, log_bucket_id=logs.id)


def _log_bucket(
    ctx: Context,
    source_names: Sequence[pulumi.Output[str]],
    key_arn: pulumi.Output[str],
    force_destroy: bool,
) -> aws.s3.Bucket:
    name = ctx.account.apply(
        lambda account: names.bucket_name(ctx.name, "access-logs", account, ctx.region)
    )
    bucket = make_bucket(ctx, "access-logs", name, force_destroy)
    # S3's log delivery writes with the deployment key: its key policy lets
    # logging.s3.amazonaws.com use it for this account's buckets.
    ready = harden(ctx, "access-logs", bucket, kms_key_arn=key_arn)
    aws.s3.BucketPolicy(
        ctx.child("access-logs-policy"),
        bucket=bucket.id,
        policy=ctx.policy(_log_policy, name, pulumi.Output.all(*source_names)),
        region=ctx.region,
        opts=ctx.opts(depends_on=ready),
    )
    rules = _housekeeping_rules()
    retention = ctx.spec.observability.log_retention_days
    if retention:
        rules.append(_expire("expire-access-logs", "", retention))
    aws.s3.BucketLifecycleConfiguration(
        ctx.child("access-logs-lifecycle"),
        bucket=bucket.id,
        rules=rules,
        region=ctx.region,
        opts=ctx.opts(depends_on=ready[:1]),
    )
    return bucket


def _artifact_policy(arns: Arns, name: str) -> Document:
    return artifact_bucket_policy(arns.bucket(name))


def _log_policy(arns: Arns, name: str, sources: list[str]) -> Document:
    return log_bucket_policy(arns.bucket(name), [arns.bucket(s) for s in sources], arns.account)


def harden(
    ctx: Context, kind: str, bucket: aws.s3.Bucket, *, kms_key_arn: pulumi.Output[str]
) -> list[pulumi.Resource]:
    """Versioning, encryption at rest, every public access block flag, no ACLs."""
    versioning = aws.s3.BucketVersioning(
        ctx.child(f"{kind}-versioning"),
        bucket=bucket.id,
        versioning_configuration={"status": "Enabled"},
        region=ctx.region,
        opts=ctx.opts(),
    )
    encryption = aws.s3.BucketServerSideEncryptionConfiguration(
        ctx.child(f"{kind}-encryption"),
        bucket=bucket.id,
        rules=[
            {
                "apply_server_side_encryption_by_default": {
                    "sse_algorithm": "aws:kms",
                    "kms_master_key_id": kms_key_arn,
                },
                "bucket_key_enabled": True,
            }
        ],
        region=ctx.region,
        opts=ctx.opts(),
    )
    public_access = aws.s3.BucketPublicAccessBlock(
        ctx.child(f"{kind}-public-access"),
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        region=ctx.region,
        opts=ctx.opts(),
    )
    ownership = aws.s3.BucketOwnershipControls(
        ctx.child(f"{kind}-ownership"),
        bucket=bucket.id,
        rule={"object_ownership": "BucketOwnerEnforced"},
        region=ctx.region,
        opts=ctx.opts(),
    )
    return [versioning, encryption, public_access, ownership]


def _housekeeping_rules() -> list[Any]:
    return [
        {
            "id": "expire-noncurrent-versions",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "noncurrent_version_expiration": {"noncurrent_days": NONCURRENT_DAYS},
            "abort_incomplete_multipart_upload": {"days_after_initiation": MULTIPART_DAYS},
        }
    ]


def _artifact_rules(ctx: Context, async_retention_days: int) -> list[Any]:
    rules = _housekeeping_rules()
    capture = ctx.spec.compliance.data_capture
    if capture.enabled:
        rules.append(_expire("expire-data-capture", CAPTURE_PREFIX, capture.retention_days))
    if ctx.plan.is_async:
        for prefix in (ASYNC_INPUT, ASYNC_OUTPUT, ASYNC_FAILURE):
            rules.append(_expire(f"expire-{prefix.rstrip('/')}", prefix, async_retention_days))
    return rules


def _expire(rule_id: str, prefix: str, days: int) -> dict[str, Any]:
    return {
        "id": rule_id,
        "status": "Enabled",
        "filter": {"prefix": prefix},
        "expiration": {"days": days},
    }


def make_bucket(ctx: Context, purpose: str, name: Any, force_destroy: bool) -> aws.s3.Bucket:
    """A bucket of the deployment, named ``name`` and tagged with its purpose."""
    return aws.s3.Bucket(
        ctx.child(purpose),
        bucket=name,
        force_destroy=force_destroy,
        region=ctx.region,
        tags=ctx.tags(**{"inferstack/purpose": purpose}),
        opts=ctx.opts(),
    )

"""The model bucket (CMEK, private, versioned) and the bucket its access logs go to."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from inferstack.vertex.context import Context
from inferstack.vertex.encryption import Key

# Superseded weights stay restorable for a while, then go.
NONCURRENT_DAYS = 30


def model_bucket(ctx: Context, key: Key) -> gcp.storage.Bucket | None:
    """The CMEK bucket the weights are staged in; None when model.source names another."""
    plan = ctx.plan
    if not plan.source.in_model_bucket:
        return None
    names = plan.names
    retention = ctx.spec.observability.log_retention_days
    expire_logs = [_expire(age=retention)] if retention else []
    logs = _bucket(
        ctx,
        "access-logs",
        names.access_log_bucket,
        key,
        # The log bucket's own usage logs stay in it: nothing reads it unrecorded.
        log_bucket=names.access_log_bucket,
        lifecycle=[*expire_logs, _expire(noncurrent_days=1)],
        depends_on=key.grants,
    )
    # Cloud Storage delivers usage logs as this group (uniform access: an IAM grant, no ACL).
    writer = gcp.storage.BucketIAMMember(
        ctx.child("access-logs-writer"),
        bucket=logs.name,
        role="roles/storage.objectCreator",
        member="group:cloud-storage-analytics@google.com",
        opts=ctx.opts(),
    )
    return _bucket(
        ctx,
        "models",
        names.bucket,
        key,
        log_bucket=names.access_log_bucket,
        lifecycle=[_expire(noncurrent_days=NONCURRENT_DAYS)],
        depends_on=[*key.grants, logs, writer],
    )


def _bucket(
    ctx: Context,
    purpose: str,
    name: str,
    key: Key,
    *,
    log_bucket: str,
    lifecycle: list[gcp.storage.BucketLifecycleRuleArgs],
    depends_on: list[pulumi.Resource],
) -> gcp.storage.Bucket:
    return gcp.storage.Bucket(
        ctx.child(purpose),
        name=name,
        project=ctx.project,
        location=ctx.region.upper(),
        storage_class="STANDARD",
        uniform_bucket_level_access=True,
        public_access_prevention="enforced",
        versioning=gcp.storage.BucketVersioningArgs(enabled=True),
        encryption=gcp.storage.BucketEncryptionArgs(default_kms_key_name=key.name),
        logging=gcp.storage.BucketLoggingArgs(log_bucket=log_bucket),
        lifecycle_rules=lifecycle,
        force_destroy=ctx.plan.force_destroy,
        labels=ctx.labels(inferstack_purpose=purpose),
        opts=ctx.opts(depends_on=depends_on),
    )


def _expire(
    *, age: int | None = None, noncurrent_days: int | None = None
) -> gcp.storage.BucketLifecycleRuleArgs:
    condition = (
        gcp.storage.BucketLifecycleRuleConditionArgs(age=age)
        if noncurrent_days is None
        else gcp.storage.BucketLifecycleRuleConditionArgs(
            days_since_noncurrent_time=noncurrent_days, with_state="ARCHIVED"
        )
    )
    return gcp.storage.BucketLifecycleRuleArgs(
        action=gcp.storage.BucketLifecycleRuleActionArgs(type="Delete"), condition=condition
    )

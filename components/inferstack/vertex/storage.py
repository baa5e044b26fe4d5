"""The model bucket and the red-team report bucket (CMEK, private, versioned), and the bucket
their access logs go to."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from inferstack.vertex.context import Context
from inferstack.vertex.encryption import Key

# Superseded weights stay restorable for a while, then go.
NONCURRENT_DAYS = 30


@dataclass(frozen=True)
class AccessLogs:
    """The bucket other buckets' usage logs go to, and Cloud Storage's grant to write there."""

    name: str
    ready: list[pulumi.Resource]


def needs_access_logs(ctx: Context) -> bool:
    """Whether a bucket of the component logs its usage: the model bucket or the reports'."""
    return ctx.plan.source.in_model_bucket or ctx.spec.security.red_team is not None


def access_logs(ctx: Context, key: Key) -> AccessLogs:
    """The CMEK access-log bucket, its own usage logged to itself."""
    name = ctx.plan.names.access_log_bucket
    retention = ctx.spec.observability.log_retention_days
    expire_logs = [_expire(age=retention)] if retention else []
    logs = _bucket(
        ctx,
        "access-logs",
        name,
        key,
        # The log bucket's own usage logs stay in it: nothing reads it unrecorded.
        log_bucket=name,
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
    return AccessLogs(name, [logs, writer])


def model_bucket(ctx: Context, key: Key, logs: AccessLogs | None) -> gcp.storage.Bucket | None:
    """The CMEK bucket the weights are staged in; None when model.source names another."""
    plan = ctx.plan
    if not plan.source.in_model_bucket:
        return None
    assert logs is not None, "the model bucket logs its usage"
    return _bucket(
        ctx,
        "models",
        plan.names.bucket,
        key,
        log_bucket=logs.name,
        lifecycle=[_expire(noncurrent_days=NONCURRENT_DAYS)],
        depends_on=[*key.grants, *logs.ready],
    )


def report_bucket(
    ctx: Context, key: Key, logs: AccessLogs, retention_days: int, purpose: str
) -> gcp.storage.Bucket:
    """A bucket hardened like the model bucket whose objects are deleted ``retention_days``
    after they are written, and the noncurrent versions a deletion leaves a day later."""
    return _bucket(
        ctx,
        purpose,
        ctx.plan.names.red_team_bucket,
        key,
        log_bucket=logs.name,
        lifecycle=[_expire(age=retention_days), _expire(noncurrent_days=1)],
        depends_on=[*key.grants, *logs.ready],
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

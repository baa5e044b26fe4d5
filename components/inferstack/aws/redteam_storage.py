"""The red-team scans' report bucket: hardened like the artifact bucket, reports expiring.

The bucket is the scans' own (see :mod:`inferstack.aws.redteam`): SSE-KMS with the deployment
key, versioned, private, TLS only, access-logged when the deployment logs its buckets, and
reports deleted ``report_retention_days`` after their upload.
"""

from __future__ import annotations

from typing import Final

import pulumi
import pulumi_aws as aws

from inferstack.aws import names, storage
from inferstack.aws.context import Context
from inferstack.aws.names import Arns
from inferstack.aws.policies import Document, artifact_bucket_policy
from inferstack.redteam import RedTeamPlan

REPORTS: Final = "red-team-reports"


def report_bucket_name(ctx: Context) -> pulumi.Output[str]:
    return ctx.account.apply(
        lambda account: names.bucket_name(ctx.name, REPORTS, account, ctx.region)
    )


def report_store(
    ctx: Context,
    scans: RedTeamPlan,
    *,
    key_arn: pulumi.Output[str],
    log_bucket_id: pulumi.Output[str] | None,
    force_destroy: bool,
) -> storage.Storage:
    """The report bucket: hardened like the artifact bucket, expiring reports after retention.

    A report expires ``report_retention_days`` after its upload; the noncurrent version the
    expiration leaves behind (the bucket is versioned) is deleted a day later.
    """
    name = report_bucket_name(ctx)
    bucket = storage.make_bucket(ctx, REPORTS, name, force_destroy)
    ready = storage.harden(ctx, REPORTS, bucket, kms_key_arn=key_arn)

    def policy(arns: Arns, bucket_name: str) -> Document:
        return artifact_bucket_policy(arns.bucket(bucket_name))

    ready.append(
        aws.s3.BucketPolicy(
            ctx.child(f"{REPORTS}-policy"),
            bucket=bucket.id,
            policy=ctx.policy(policy, name),
            region=ctx.region,
            opts=ctx.opts(depends_on=list(ready)),
        )
    )
    if log_bucket_id is not None:
        ready.append(
            aws.s3.BucketLogging(
                ctx.child(f"{REPORTS}-logging"),
                bucket=bucket.id,
                target_bucket=log_bucket_id,
                target_prefix=name.apply(lambda value: f"{value}/"),
                region=ctx.region,
                opts=ctx.opts(),
            )
        )
    ready.append(
        aws.s3.BucketLifecycleConfiguration(
            ctx.child(f"{REPORTS}-lifecycle"),
            bucket=bucket.id,
            rules=[
                {
                    "id": "expire-reports",
                    "status": "Enabled",
                    "filter": {"prefix": ""},
                    "expiration": {"days": scans.retention_days},
                    "noncurrent_version_expiration": {"noncurrent_days": 1},
                    "abort_incomplete_multipart_upload": {
                        "days_after_initiation": storage.MULTIPART_DAYS
                    },
                }
            ],
            region=ctx.region,
            # Lifecycle rules on noncurrent versions need versioning first.
            opts=ctx.opts(depends_on=ready[:1]),
        )
    )
    return storage.Storage(name=bucket.bucket, arn=bucket.arn, ready=ready)

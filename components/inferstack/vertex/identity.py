"""The service account the deployed model runs as: read its weights, write logs and metrics.

No primitive or predefined admin role: the weights are readable under the model's prefix only
(an IAM condition on the bucket grant), and the project-level grants are the two writer roles
every Vertex AI custom container needs for its logs and metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from inferstack.vertex.context import Context

PROJECT_ROLES = ("roles/logging.logWriter", "roles/monitoring.metricWriter")


@dataclass(frozen=True)
class Identity:
    email: pulumi.Output[str]
    grants: list[pulumi.Resource]


def read_condition(bucket: str, prefix: str) -> str:
    # Listing is checked on the bucket itself, so the bucket's name is admitted too: the
    # account may list object names but read only the objects under the model's prefix.
    return (
        f'resource.name.startsWith("projects/_/buckets/{bucket}/objects/{prefix}") || '
        f'resource.name == "projects/_/buckets/{bucket}"'
    )


def serving_account(ctx: Context, bucket: gcp.storage.Bucket | None) -> Identity:
    plan = ctx.plan
    account = gcp.serviceaccount.Account(
        ctx.child("serving"),
        account_id=plan.names.service_account,
        project=plan.project,
        display_name=f"{ctx.name} model server",
        description="Runs the Vertex AI deployed model: reads its weights, writes logs and metrics",
        opts=ctx.opts(),
    )
    # A user-managed account's email is <account id>@<project>.iam.gserviceaccount.com, known
    # before the account exists, so the policy packs judge every grant to it at preview.
    member = f"serviceAccount:{plan.names.service_account}@{plan.project}.iam.gserviceaccount.com"
    source = plan.source
    read = gcp.storage.BucketIAMMember(
        ctx.child("serving-read-model"),
        bucket=bucket.name if bucket is not None else source.bucket,
        role="roles/storage.objectViewer",
        member=member,
        condition=gcp.storage.BucketIAMMemberConditionArgs(
            title="model-prefix-only",
            description=f"Objects under {source.uri}",
            expression=read_condition(source.bucket, source.prefix),
        ),
        opts=ctx.opts(depends_on=[account]),
    )
    grants: list[pulumi.Resource] = [read]
    grants += project_grants(ctx, "serving", PROJECT_ROLES, member, account)
    return Identity(account.email, grants)


def project_grants(
    ctx: Context,
    prefix: str,
    roles: Sequence[str],
    member: str,
    account: gcp.serviceaccount.Account,
) -> list[pulumi.Resource]:
    """``member`` (``account``'s) bound to each project role, one binding per role named
    ``<prefix>-<the role's last part>``."""
    return [
        gcp.projects.IAMMember(
            ctx.child(f"{prefix}-{role.split('.')[-1].lower()}"),
            project=ctx.project,
            role=role,
            member=member,
            opts=ctx.opts(depends_on=[account]),
        )
        for role in roles
    ]

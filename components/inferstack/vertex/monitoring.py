"""Logs, request-response capture, alert policies and their notification channel.

- Container logs of the endpoint are routed to a CMEK log bucket whose retention is
  ``observability.log_retention_days``.
- Request-response logging to BigQuery exists only with ``compliance.data_capture.enabled``,
  into a CMEK dataset whose tables expire after the capture retention.
- Alerts (prod by default): error rate, p99 latency, and replicas at the maximum (saturation),
  to an email channel that the budget also notifies.
"""

from __future__ import annotations

import pulumi_gcp as gcp

from inferstack.vertex.context import Context
from inferstack.vertex.encryption import Key

METRIC = "aiplatform.googleapis.com/prediction/online"
DAY_MS = 86_400_000


def capture_dataset(ctx: Context, key: Key) -> gcp.bigquery.Dataset | None:
    plan = ctx.plan
    if not plan.capture:
        return None
    expiry = plan.capture_retention_days * DAY_MS
    return gcp.bigquery.Dataset(
        ctx.child("captures"),
        dataset_id=plan.names.dataset,
        project=plan.project,
        location=plan.region,
        description=f"Sampled requests and responses of {ctx.name}",
        default_encryption_configuration=gcp.bigquery.DatasetDefaultEncryptionConfigurationArgs(
            kms_key_name=key.name
        ),
        default_table_expiration_ms=expiry,
        default_partition_expiration_ms=expiry,
        delete_contents_on_destroy=plan.force_destroy,
        labels=ctx.labels(),
        opts=ctx.opts(depends_on=key.grants),
    )


def log_bucket(ctx: Context, key: Key) -> gcp.logging.ProjectBucketConfig:
    plan = ctx.plan
    bucket = gcp.logging.ProjectBucketConfig(
        ctx.child("logs"),
        project=plan.project,
        location=plan.region,
        bucket_id=plan.names.log_bucket,
        description=f"Serving logs of {ctx.name}",
        # Within Cloud Logging's 1-3650 days: the target checks hold it to the vertex descriptor.
        retention_days=plan.log_retention_days,
        cmek_settings=gcp.logging.ProjectBucketConfigCmekSettingsArgs(kms_key_name=key.name),
        opts=ctx.opts(depends_on=key.grants),
    )
    sink = gcp.logging.ProjectSink(
        ctx.child("logs-sink"),
        name=f"{ctx.name}-serving-logs",
        project=plan.project,
        destination=(
            f"logging.googleapis.com/projects/{plan.project}/locations/{plan.region}/"
            f"buckets/{plan.names.log_bucket}"
        ),
        filter=_endpoint_filter(ctx, log=True),
        unique_writer_identity=True,
        opts=ctx.opts(depends_on=[bucket]),
    )
    # Project-level exclusions act on the _Default sink: without one, every line would also be
    # kept in the _Default bucket, under Google's key and that bucket's retention.
    gcp.logging.ProjectExclusion(
        ctx.child("logs-default-exclusion"),
        name=f"{ctx.name}-serving-logs",
        project=plan.project,
        description=f"Serving logs of {ctx.name} are kept in {plan.names.log_bucket} only",
        filter=_endpoint_filter(ctx, log=True),
        opts=ctx.opts(depends_on=[sink]),
    )
    return bucket


def notification_channel(ctx: Context) -> gcp.monitoring.NotificationChannel | None:
    plan = ctx.plan
    wanted = plan.alarms or plan.budget_usd is not None
    if plan.alarm_email is None or not wanted:
        return None
    return gcp.monitoring.NotificationChannel(
        ctx.child("alerts-email"),
        project=plan.project,
        type="email",
        display_name=f"{ctx.name} on-call",
        labels={"email_address": plan.alarm_email},
        user_labels=ctx.labels(),
        opts=ctx.opts(),
    )


def alert_policies(
    ctx: Context,
    channel: gcp.monitoring.NotificationChannel | None,
    endpoint: gcp.vertex.AiEndpoint,
) -> list[gcp.monitoring.AlertPolicy]:
    plan = ctx.plan
    if not plan.alarms or channel is None:
        return []
    return [
        _policy(
            ctx,
            "errors",
            "failed predictions",
            f"{METRIC}/error_count",
            threshold=plan.error_rate_threshold,
            aligner="ALIGN_RATE",
            channel=channel,
            endpoint=endpoint,
        ),
        _policy(
            ctx,
            "latency",
            f"p99 prediction latency above {plan.latency_threshold_ms} ms",
            f"{METRIC}/prediction_latencies",
            threshold=plan.latency_threshold_ms,
            aligner="ALIGN_PERCENTILE_99",
            reducer="REDUCE_MAX",
            channel=channel,
            endpoint=endpoint,
        ),
        # Every replica busy for 15 minutes: autoscaling can add none, requests queue.
        _policy(
            ctx,
            "saturation",
            f"running at the maximum of {plan.max_replicas} replicas",
            f"{METRIC}/replicas",
            threshold=plan.max_replicas - 0.5,
            aligner="ALIGN_MAX",
            duration="900s",
            channel=channel,
            endpoint=endpoint,
        ),
    ]


def _policy(
    ctx: Context,
    suffix: str,
    what: str,
    metric: str,
    *,
    threshold: float,
    aligner: str,
    channel: gcp.monitoring.NotificationChannel,
    endpoint: gcp.vertex.AiEndpoint,
    reducer: str = "REDUCE_SUM",
    duration: str = "300s",
) -> gcp.monitoring.AlertPolicy:
    return gcp.monitoring.AlertPolicy(
        ctx.child(f"alert-{suffix}"),
        project=ctx.project,
        display_name=f"{ctx.name}: {what}",
        combiner="OR",
        severity="ERROR",
        conditions=[
            gcp.monitoring.AlertPolicyConditionArgs(
                display_name=what,
                condition_threshold=gcp.monitoring.AlertPolicyConditionConditionThresholdArgs(
                    filter=f'{_endpoint_filter(ctx)} AND metric.type = "{metric}"',
                    comparison="COMPARISON_GT",
                    threshold_value=threshold,
                    duration=duration,
                    aggregations=[
                        gcp.monitoring.AlertPolicyConditionConditionThresholdAggregationArgs(
                            alignment_period="60s",
                            per_series_aligner=aligner,
                            cross_series_reducer=reducer,
                        )
                    ],
                ),
            )
        ],
        notification_channels=[channel.id],
        documentation=gcp.monitoring.AlertPolicyDocumentationArgs(
            mime_type="text/markdown",
            content=f"Vertex AI endpoint {ctx.plan.names.endpoint_id} of {ctx.name}: {what}. "
            "See docs/targets/vertex.md, Operations.",
        ),
        user_labels=ctx.labels(),
        opts=ctx.opts(depends_on=[endpoint]),
    )


def _endpoint_filter(ctx: Context, *, log: bool = False) -> str:
    labels = "resource.labels" if log else "resource.label"
    return (
        f'resource.type = "aiplatform.googleapis.com/Endpoint" AND '
        f'{labels}.endpoint_id = "{ctx.plan.names.endpoint_id}"'
    )

"""Logs, alarms, notification topics and the monthly budget."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from inferstack.aws.context import Context
from inferstack.aws.names import Arns
from inferstack.aws.plan import ENDPOINT_NAMESPACE, SAGEMAKER_NAMESPACE, VARIANT
from inferstack.aws.policies import Document, topic_policy

ASYNC_TOPICS = ("async-success", "async-error")
PUBLISHERS = ("cloudwatch.amazonaws.com", "budgets.amazonaws.com")
# p90 model latency above this for 15 minutes pages someone; generation of long answers can
# take tens of seconds, so the bar is set for "stuck", not "slow".
LATENCY_P90_MICROSECONDS = 60_000_000
ERRORS_PER_MINUTE = 5
# The GPU metrics sum over an instance's GPUs (0-100 per GPU). vLLM reserves its share of
# memory up front, so only a value near the ceiling means trouble.
GPU_MEMORY_PERCENT = 98


def endpoint_log_group_name(endpoint_name: str) -> str:
    return f"/aws/sagemaker/Endpoints/{endpoint_name}"


def log_group(
    ctx: Context, name: str, key_arn: pulumi.Output[str], suffix: str
) -> aws.cloudwatch.LogGroup:
    retention = ctx.spec.observability.log_retention_days
    return aws.cloudwatch.LogGroup(
        ctx.child(suffix),
        name=name,
        kms_key_id=key_arn,
        retention_in_days=retention or None,
        region=ctx.region,
        tags=ctx.tags(),
        opts=ctx.opts(),
    )


def topic_name(endpoint_name: str, suffix: str) -> str:
    return f"{endpoint_name}-{suffix}"


def encrypted_topic(
    ctx: Context,
    suffix: str,
    key_arn: pulumi.Output[str],
    *,
    publishers: tuple[str, ...] = (),
) -> aws.sns.Topic:
    name = topic_name(ctx.plan.endpoint_name, suffix)
    topic = aws.sns.Topic(
        ctx.child(suffix),
        name=name,
        kms_master_key_id=key_arn,
        region=ctx.region,
        tags=ctx.tags(),
        opts=ctx.opts(),
    )

    def build(arns: Arns) -> Document:
        return topic_policy(arns.topic(name), arns.account, publishers)

    aws.sns.TopicPolicy(
        ctx.child(f"{suffix}-policy"),
        arn=topic.arn,
        policy=ctx.policy(build),
        region=ctx.region,
        opts=ctx.opts(),
    )
    return topic


def alert_topic(ctx: Context, key_arn: pulumi.Output[str]) -> aws.sns.Topic:
    topic = encrypted_topic(ctx, "alerts", key_arn, publishers=PUBLISHERS)
    email = ctx.spec.observability.alarms.email
    if email is not None:
        aws.sns.TopicSubscription(
            ctx.child("alerts-email"),
            topic=topic.arn,
            protocol="email",
            endpoint=email,
            region=ctx.region,
            opts=ctx.opts(),
        )
    return topic


def alarms(ctx: Context, topic_arn: pulumi.Output[str]) -> list[aws.cloudwatch.MetricAlarm]:
    plan = ctx.plan
    variant = {"EndpointName": plan.endpoint_name, "VariantName": VARIANT}
    created = [
        _alarm(
            ctx,
            "errors-5xx",
            topic_arn,
            description="The model container answers with 5XX errors",
            namespace=SAGEMAKER_NAMESPACE,
            metric="Invocation5XXErrors",
            dimensions=variant,
            statistic="Sum",
            threshold=ERRORS_PER_MINUTE,
            period=60,
            evaluation_periods=5,
            datapoints=3,
        ),
        _alarm(
            ctx,
            "model-latency",
            topic_arn,
            description="p90 model latency is over 60 s: the model is stuck or overloaded",
            namespace=SAGEMAKER_NAMESPACE,
            metric="ModelLatency",
            dimensions=variant,
            extended_statistic="p90",
            threshold=LATENCY_P90_MICROSECONDS,
            period=300,
            evaluation_periods=3,
            datapoints=3,
        ),
        _alarm(
            ctx,
            "gpu-memory",
            topic_arn,
            description="GPU memory is nearly exhausted on the endpoint's instances",
            namespace=ENDPOINT_NAMESPACE,
            metric="GPUMemoryUtilization",
            dimensions=variant,
            statistic="Maximum",
            threshold=GPU_MEMORY_PERCENT * plan.gpu_count,
            period=300,
            evaluation_periods=3,
            datapoints=3,
        ),
    ]
    if plan.is_async:
        # More waiting than the largest fleet clears at its target means it cannot keep up.
        backlog = plan.max_capacity * ctx.spec.scaling.target.value
        created.append(
            _alarm(
                ctx,
                "backlog",
                topic_arn,
                description="The async request backlog stays above what max capacity clears",
                namespace=SAGEMAKER_NAMESPACE,
                metric="ApproximateBacklogSize",
                dimensions={"EndpointName": plan.endpoint_name},
                statistic="Average",
                threshold=backlog,
                period=300,
                evaluation_periods=3,
                datapoints=3,
            )
        )
    return created


def _alarm(
    ctx: Context,
    suffix: str,
    topic_arn: pulumi.Output[str],
    *,
    description: str,
    namespace: str,
    metric: str,
    dimensions: dict[str, str],
    threshold: float,
    period: int,
    evaluation_periods: int,
    datapoints: int,
    statistic: str | None = None,
    extended_statistic: str | None = None,
) -> aws.cloudwatch.MetricAlarm:
    return aws.cloudwatch.MetricAlarm(
        ctx.child(suffix),
        name=f"{ctx.plan.endpoint_name}-{suffix}",
        alarm_description=description,
        namespace=namespace,
        metric_name=metric,
        dimensions=dimensions,
        statistic=statistic,
        extended_statistic=extended_statistic,
        comparison_operator="GreaterThanThreshold",
        threshold=threshold,
        period=period,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=datapoints,
        treat_missing_data="notBreaching",
        alarm_actions=[topic_arn],
        ok_actions=[topic_arn],
        region=ctx.region,
        tags=ctx.tags(),
        opts=ctx.opts(),
    )


def budget(ctx: Context, topic_arn: pulumi.Output[str] | None) -> aws.budgets.Budget | None:
    amount = ctx.plan.budget_usd
    if amount is None:
        return None
    email = ctx.spec.observability.alarms.email
    deployment = ctx.tags()["inferstack/deployment"]

    def notification(kind: str, percent: int) -> aws.budgets.BudgetNotificationArgsDict:
        return {
            "comparison_operator": "GREATER_THAN",
            "notification_type": kind,
            "threshold": percent,
            "threshold_type": "PERCENTAGE",
            "subscriber_email_addresses": [email] if email else None,
            "subscriber_sns_topic_arns": [topic_arn] if topic_arn is not None else None,
        }

    return aws.budgets.Budget(
        ctx.child("budget"),
        name=f"inferstack-{ctx.plan.endpoint_name}-{ctx.region}",
        budget_type="COST",
        limit_amount=f"{amount:.2f}",
        limit_unit="USD",
        time_unit="MONTHLY",
        # Counts only this deployment's spend: activate inferstack/deployment as a cost
        # allocation tag in the Billing console, or the budget sees nothing.
        cost_filters=[
            {"name": "TagKeyValue", "values": [f"user:inferstack/deployment${deployment}"]}
        ],
        notifications=[
            notification("FORECASTED", 80),
            notification("FORECASTED", 100),
            notification("ACTUAL", 100),
        ],
        tags=ctx.tags(),
        opts=ctx.opts(),
    )

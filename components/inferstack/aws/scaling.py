"""Application Auto Scaling for the endpoint's variant, on the metric its type needs."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from inferstack.aws.context import Context
from inferstack.aws.plan import SAGEMAKER_NAMESPACE, VARIANT

DIMENSION = "sagemaker:variant:DesiredInstanceCount"


def autoscaling(ctx: Context, endpoint: aws.sagemaker.Endpoint) -> list[pulumi.Resource]:
    plan = ctx.plan
    scaling = ctx.spec.scaling
    target = aws.appautoscaling.Target(
        ctx.child("scaling-target"),
        service_namespace="sagemaker",
        scalable_dimension=DIMENSION,
        resource_id=endpoint.name.apply(lambda name: f"endpoint/{name}/variant/{VARIANT}"),
        min_capacity=plan.min_capacity,
        max_capacity=plan.max_capacity,
        region=ctx.region,
        tags=ctx.tags(),
        opts=ctx.opts(),
    )
    metric = plan.scaling_metric
    tracking: aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgsDict = {
        "target_value": scaling.target.value,
        "scale_in_cooldown": scaling.scale_in_cooldown_seconds,
        "scale_out_cooldown": scaling.scale_out_cooldown_seconds,
    }
    if metric.predefined:
        tracking["predefined_metric_specification"] = {"predefined_metric_type": metric.name}
    else:
        values = {"EndpointName": plan.endpoint_name, "VariantName": VARIANT}
        tracking["customized_metric_specification"] = {
            "metric_name": metric.name,
            "namespace": metric.namespace,
            "statistic": "Average",
            "dimensions": [{"name": d, "value": values[d]} for d in metric.dimensions],
        }
    policy = aws.appautoscaling.Policy(
        ctx.child("scaling-policy"),
        name=f"{plan.endpoint_name}-track-{metric.name}"[:255],
        policy_type="TargetTrackingScaling",
        service_namespace=target.service_namespace,
        scalable_dimension=target.scalable_dimension,
        resource_id=target.resource_id,
        target_tracking_scaling_policy_configuration=tracking,
        region=ctx.region,
        opts=ctx.opts(),
    )
    created: list[pulumi.Resource] = [target, policy]
    if plan.min_capacity == 0:
        created += _scale_out_from_zero(ctx, target)
    return created


def _scale_out_from_zero(ctx: Context, target: aws.appautoscaling.Target) -> list[pulumi.Resource]:
    """Target tracking cannot divide a backlog by zero instances; a step policy starts one."""
    plan = ctx.plan
    step = aws.appautoscaling.Policy(
        ctx.child("scale-from-zero"),
        name=f"{plan.endpoint_name}-scale-from-zero",
        policy_type="StepScaling",
        service_namespace=target.service_namespace,
        scalable_dimension=target.scalable_dimension,
        resource_id=target.resource_id,
        step_scaling_policy_configuration={
            "adjustment_type": "ChangeInCapacity",
            "cooldown": ctx.spec.scaling.scale_out_cooldown_seconds,
            "metric_aggregation_type": "Maximum",
            "step_adjustments": [{"metric_interval_lower_bound": "0", "scaling_adjustment": 1}],
        },
        region=ctx.region,
        opts=ctx.opts(),
    )
    alarm = aws.cloudwatch.MetricAlarm(
        ctx.child("backlog-without-capacity"),
        name=f"{plan.endpoint_name}-backlog-without-capacity",
        alarm_description="Requests wait while the endpoint has no instance: start one",
        namespace=SAGEMAKER_NAMESPACE,
        metric_name="HasBacklogWithoutCapacity",
        dimensions={"EndpointName": plan.endpoint_name},
        statistic="Average",
        comparison_operator="GreaterThanOrEqualToThreshold",
        threshold=1,
        period=60,
        evaluation_periods=2,
        datapoints_to_alarm=2,
        treat_missing_data="missing",
        alarm_actions=[step.arn],
        region=ctx.region,
        tags=ctx.tags(),
        opts=ctx.opts(),
    )
    return [step, alarm]

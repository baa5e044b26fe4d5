"""Azure Monitor autoscale on the online deployment (the deployment's own scale settings stay
``Default``: Azure ML hands instance counts to Monitor)."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import machinelearningservices as ml
from pulumi_azure_native import monitor

from inferstack.azureml.context import Context, iso_seconds


def autoscale(
    ctx: Context, endpoint: ml.OnlineEndpoint, deployment: ml.OnlineDeployment
) -> monitor.AutoscaleSetting:
    plan = ctx.plan
    rule = plan.scale
    source: pulumi.Input[str] = endpoint.id if rule.on_endpoint else deployment.id
    dimensions = (
        [
            monitor.ScaleRuleMetricDimensionArgs(
                dimension_name="deployment", operator="Equals", values=[plan.deployment_name]
            )
        ]
        if rule.on_endpoint
        else None
    )

    def trigger(operator: str, threshold: float, window: int) -> monitor.MetricTriggerArgs:
        return monitor.MetricTriggerArgs(
            metric_name=rule.metric,
            metric_namespace=rule.namespace,
            metric_resource_uri=source,
            operator=monitor.ComparisonOperationType(operator),
            statistic=monitor.MetricStatisticType(rule.statistic),
            threshold=threshold,
            time_aggregation=monitor.TimeAggregationType.AVERAGE,
            time_grain="PT1M",
            time_window=iso_seconds(window),
            dimensions=dimensions,
            divide_per_instance=rule.per_instance,
        )

    def step(
        trigger_args: monitor.MetricTriggerArgs, direction: monitor.ScaleDirection, cooldown: int
    ) -> monitor.ScaleRuleArgs:
        """One instance more or fewer when ``trigger_args`` fires, then ``cooldown`` seconds."""
        return monitor.ScaleRuleArgs(
            metric_trigger=trigger_args,
            scale_action=monitor.ScaleActionArgs(
                direction=direction,
                type=monitor.ScaleType.CHANGE_COUNT,
                value="1",
                cooldown=iso_seconds(cooldown),
            ),
        )

    # Out fast on five minutes of load, in slowly on a quiet quarter hour: a new GPU
    # instance takes many minutes to pull the image and load the model.
    scale_out = step(
        trigger("GreaterThan", rule.scale_out_above, 300),
        monitor.ScaleDirection.INCREASE,
        plan.scale_out_cooldown,
    )
    scale_in = step(
        trigger("LessThan", rule.scale_in_below, 900),
        monitor.ScaleDirection.DECREASE,
        plan.scale_in_cooldown,
    )
    return monitor.AutoscaleSetting(
        ctx.child("autoscale"),
        autoscale_setting_name=f"{ctx.name}-autoscale",
        resource_group_name=ctx.resource_group,
        location=ctx.region,
        target_resource_uri=deployment.id,
        enabled=True,
        profiles=[
            monitor.AutoscaleProfileArgs(
                name="load",
                capacity=monitor.ScaleCapacityArgs(
                    minimum=str(plan.min_capacity),
                    maximum=str(plan.max_capacity),
                    default=str(plan.instance_count),
                ),
                rules=[scale_out, scale_in],
            )
        ],
        tags=ctx.tags(),
        opts=ctx.opts(),
    )

"""Log Analytics, workspace-based Application Insights, diagnostic settings, alerts."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
from pulumi_azure_native import applicationinsights, monitor, operationalinsights

from inferstack.azureml.context import GLOBAL, Context
from inferstack.azureml.plan import Alert

ENDPOINT_LOGS = (
    "AmlOnlineEndpointTrafficLog",
    "AmlOnlineEndpointConsoleLog",
    "AmlOnlineEndpointEventLog",
)


def log_workspace(ctx: Context) -> operationalinsights.Workspace:
    plan = ctx.plan
    return operationalinsights.Workspace(
        ctx.child("log"),
        workspace_name=plan.log_workspace_name,
        resource_group_name=ctx.resource_group,
        location=ctx.region,
        sku=operationalinsights.WorkspaceSkuArgs(name=plan.log_analytics_sku),
        retention_in_days=plan.log_retention_days,
        # Queries and ingestion from the private network only, through Azure Monitor's
        # private link scope; the services here send through trusted Azure paths.
        public_network_access_for_query="Disabled",
        public_network_access_for_ingestion="Enabled",
        features=operationalinsights.WorkspaceFeaturesArgs(disable_local_auth=True),
        tags=ctx.tags(),
        opts=ctx.opts(),
    )


def app_insights(
    ctx: Context, logs: operationalinsights.Workspace
) -> applicationinsights.Component:
    return applicationinsights.Component(
        ctx.child("appi"),
        resource_name_=ctx.plan.app_insights_name,
        resource_group_name=ctx.resource_group,
        location=ctx.region,
        kind="web",
        application_type="web",
        ingestion_mode="LogAnalytics",
        workspace_resource_id=logs.id,
        disable_local_auth=True,
        disable_ip_masking=False,
        public_network_access_for_query="Disabled",
        # Retention is the Log Analytics workspace's: a workspace-based component keeps nothing.
        tags=ctx.tags(),
        opts=ctx.opts(),
    )


def diagnostics(
    ctx: Context,
    suffix: str,
    resource_id: pulumi.Input[str],
    logs: operationalinsights.Workspace,
    *,
    categories: Sequence[str] = (),
) -> monitor.DiagnosticSetting:
    """Logs of one resource to Log Analytics: the named categories, else every log."""
    entries = [
        monitor.DiagnosticsLogSettingsArgs(category=category, enabled=True)
        for category in categories
    ] or [monitor.DiagnosticsLogSettingsArgs(category_group="allLogs", enabled=True)]
    return monitor.DiagnosticSetting(
        ctx.child(f"diag-{suffix}"),
        name=f"{ctx.name}-{suffix}-to-log-analytics",
        resource_uri=resource_id,
        workspace_id=logs.id,
        log_analytics_destination_type="Dedicated",
        logs=entries,
        metrics=[monitor.DiagnosticsMetricSettingsArgs(category="AllMetrics", enabled=True)],
        opts=ctx.opts(),
    )


def action_group(ctx: Context) -> monitor.ActionGroup | None:
    email = ctx.plan.email
    if email is None:
        return None
    return monitor.ActionGroup(
        ctx.child("ag"),
        action_group_name=f"ag-{ctx.name}",
        resource_group_name=ctx.resource_group,
        location=GLOBAL,
        group_short_name=ctx.name.replace("-", "")[:12],
        enabled=True,
        email_receivers=[
            monitor.MicrosoftCommonEmailReceiverArgs(
                name="oncall", email_address=email, use_common_alert_schema=True
            )
        ],
        tags=ctx.tags(),
        opts=ctx.opts(),
    )


def metric_alerts(
    ctx: Context,
    *,
    endpoint_id: pulumi.Input[str],
    deployment_id: pulumi.Input[str],
    group: monitor.ActionGroup | None,
) -> list[monitor.MetricAlert]:
    actions = [monitor.MetricAlertActionArgs(action_group_id=group.id)] if group else []
    return [
        _alert(ctx, alert, endpoint_id if alert.on_endpoint else deployment_id, actions)
        for alert in ctx.plan.alerts
    ]


def _alert(
    ctx: Context,
    alert: Alert,
    scope: pulumi.Input[str],
    actions: list[monitor.MetricAlertActionArgs],
) -> monitor.MetricAlert:
    dimensions = []
    if alert.dimension is not None:
        name, value = alert.dimension
        dimensions.append(
            monitor.MetricDimensionArgs(name=name, operator="Include", values=[value])
        )
    return monitor.MetricAlert(
        ctx.child(f"alert-{alert.suffix}"),
        rule_name=f"{ctx.name}-{alert.suffix}",
        resource_group_name=ctx.resource_group,
        location=GLOBAL,
        description=alert.description,
        severity=alert.severity,
        enabled=True,
        scopes=[scope],
        evaluation_frequency="PT1M",
        window_size="PT5M",
        auto_mitigate=True,
        criteria=monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
            odata_type="Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
            all_of=[
                monitor.MetricCriteriaArgs(
                    criterion_type="StaticThresholdCriterion",
                    name=alert.suffix,
                    metric_name=alert.metric,
                    metric_namespace=alert.namespace,
                    operator=alert.operator,
                    threshold=alert.threshold,
                    time_aggregation=alert.aggregation,
                    dimensions=dimensions,
                )
            ],
        ),
        actions=actions,
        tags=ctx.tags(),
        opts=ctx.opts(),
    )

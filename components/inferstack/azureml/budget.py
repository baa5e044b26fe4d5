"""A monthly consumption budget on the resource group: 80% and 100% of forecast spend."""

from __future__ import annotations

import datetime

import pulumi
from pulumi_azure_native import consumption

from inferstack.azureml.context import Context


def budget(ctx: Context, group_id: pulumi.Input[str]) -> consumption.Budget | None:
    plan = ctx.plan
    if plan.budget_usd is None:
        return None
    emails = [plan.email] if plan.email else []
    start = datetime.date.today().replace(day=1).isoformat() + "T00:00:00Z"
    notifications = {
        f"forecast-{percent}": consumption.NotificationArgs(
            enabled=True,
            operator="GreaterThanOrEqualTo",
            threshold=percent,
            threshold_type="Forecasted",
            contact_emails=emails,
            contact_roles=[] if emails else ["Owner"],
        )
        for percent in (80, 100)
    }
    return consumption.Budget(
        ctx.child("budget"),
        budget_name=f"{ctx.name}-monthly",
        scope=group_id,
        amount=plan.budget_usd,
        category="Cost",
        time_grain="Monthly",
        time_period=consumption.BudgetTimePeriodArgs(start_date=start),
        notifications=notifications,
        # The start date is fixed at creation; Azure refuses to move it later.
        opts=ctx.opts(ignore_changes=["timePeriod"]),
    )

"""The Cloud Billing budget of ``cost.monthly_budget_usd``: alerts at 80% and 100%."""

from __future__ import annotations

from collections.abc import Callable

import pulumi
import pulumi_gcp as gcp

from inferstack.errors import SpecError
from inferstack.vertex.context import Context

THRESHOLDS = (0.8, 1.0)


def budget(ctx: Context, channel: gcp.monitoring.NotificationChannel | None) -> None:
    plan = ctx.plan
    if plan.budget_usd is None:
        return
    account: pulumi.Input[str]
    if plan.billing_account is not None:
        account = plan.billing_account
    elif ctx.project_billing_account is not None:
        account = ctx.project_billing_account.apply(_linked(ctx.project))
    else:  # pragma: no cover - the component always looks the project up
        return
    updates = None
    if channel is not None:
        updates = gcp.billing.BudgetAllUpdatesRuleArgs(
            monitoring_notification_channels=[channel.id]
        )
    gcp.billing.Budget(
        ctx.child("budget"),
        billing_account=account,
        display_name=f"{ctx.name} (inferstack)"[:60],
        amount=gcp.billing.BudgetAmountArgs(
            specified_amount=gcp.billing.BudgetAmountSpecifiedAmountArgs(
                currency_code="USD", units=str(round(plan.budget_usd))
            )
        ),
        threshold_rules=[
            gcp.billing.BudgetThresholdRuleArgs(threshold_percent=share) for share in THRESHOLDS
        ],
        # The whole project: Vertex AI bills the endpoint's machines to it.
        budget_filter=gcp.billing.BudgetBudgetFilterArgs(
            projects=[ctx.project_number.apply(lambda number: f"projects/{number}")],
        ),
        all_updates_rule=updates,
        opts=ctx.opts(depends_on=[channel] if channel is not None else None),
    )


def _linked(project: str) -> Callable[[str | None], str]:
    def check(account: str | None) -> str:
        if not account:
            raise SpecError(
                "inferstack:vertex.billing_account",
                f"project {project} has no billing account the deployer can read, so no budget "
                "can be created",
                "set it to the billing account id (XXXXXX-XXXXXX-XXXXXX) that pays for the project",
            )
        return account.removeprefix("billingAccounts/")

    return check

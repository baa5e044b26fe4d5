"""Cost guard: a stack that runs billable GPU inference in a cloud also defines an alerting budget.

An endpoint without a budget is the infrastructure face of unbounded consumption: a traffic spike
or a forgotten replica keeps burning GPU hours with nobody told.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from inferstack.compliance.model import Report, Rule, RuleConfig, Scope, Severity, StackResource
from inferstack.compliance.props import UNKNOWN, elements, get, keys
from inferstack.compliance.rules._common import OWASP_CONSUMPTION, unverifiable
from inferstack.compliance.rules._stack import of_type

BILLABLE: Final = {
    "aws": ("aws:sagemaker/endpoint:Endpoint",),
    "azure": (
        "azure-native:machinelearningservices:OnlineEndpoint",
        "azure-native:machinelearningservices:OnlineDeployment",
    ),
    "gcp": ("gcp:vertex/aiEndpoint:AiEndpoint",),
}
BUDGETS: Final = {
    "aws": "aws:budgets/budget:Budget",
    "azure": "azure-native:consumption:Budget",
    "gcp": "gcp:billing/budget:Budget",
}


def _alerts(budget: StackResource) -> Any:
    """Whether the budget notifies someone: True/False, or UNKNOWN."""
    props = budget.props
    field = "thresholdRules" if budget.resource_type == BUDGETS["gcp"] else "notifications"
    if get(props, field) is UNKNOWN:
        return UNKNOWN
    if budget.resource_type == BUDGETS["aws"]:
        field, found = "notifications", bool(elements(props, "notifications"))
    elif budget.resource_type == BUDGETS["azure"]:
        field, found = "notifications", bool(keys(props, "notifications"))
    else:
        field, found = "thresholdRules", bool(elements(props, "thresholdRules"))
    return found


def _check_budget(resources: Sequence[StackResource], report: Report, cfg: RuleConfig) -> None:
    for cloud, types in BILLABLE.items():
        billable = of_type(resources, *types)
        if not billable:
            continue
        verdicts = [_alerts(budget) for budget in of_type(resources, BUDGETS[cloud])]
        if True in verdicts:
            continue
        if UNKNOWN in verdicts:
            report(
                unverifiable("notifications", "the budget's alerts are known only after deploy"),
                billable[0].urn,
            )
            continue
        problem = (
            "has a budget without notifications"
            if verdicts
            else f"has no {BUDGETS[cloud].rsplit(':', 1)[-1]} ({BUDGETS[cloud]})"
        )
        for resource in billable[:1]:
            report(
                f"the stack runs billable inference ('{resource.name}') but {problem}; "
                "set cost.monthly_budget_usd",
                resource.urn,
            )


RULES: Final = (
    Rule(
        name="all-billing-budget-require-budget",
        description="Stacks with billable cloud inference endpoints define a budget that alerts.",
        severity=Severity.MEDIUM,
        resource_types=(*(t for types in BILLABLE.values() for t in types), *BUDGETS.values()),
        controls=(OWASP_CONSUMPTION,),
        frameworks=frozenset({"baseline"}),
        remediation="Set cost.monthly_budget_usd (and observability.alarms.email) so the "
        "component creates a budget with notifications.",
        check=_check_budget,
        reads=("notifications", "thresholdRules"),
        # An alert whose settings are computed still exists: only the list itself must be known.
        references=("notifications[*]", "notifications.*", "thresholdRules[*]"),
        scope=Scope.STACK,
    ),
)

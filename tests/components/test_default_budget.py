"""Every priced cloud deployment gets a budget alert by default: the cost of max_replicas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from inferstack.deployment import parse_deployment, validate_for_target
from inferstack.deployment.targets import budget_usd
from inferstack.testing import run_program

BASELINE = Path(__file__).resolve().parents[2] / "policy_packs" / "baseline"
SPEC = {"name": "bot", "model": {"id": "meta-llama/Llama-3.1-8B-Instruct"}}


def _sagemaker() -> Any:
    from inferstack.aws import SageMakerEndpoint

    return SageMakerEndpoint("bot", SPEC)


def _azureml() -> Any:
    from inferstack.azureml import OnlineEndpoint

    return OnlineEndpoint("bot", SPEC)


CASES = {
    "sagemaker": (_sagemaker, {"aws:region": "eu-central-1"}, "aws:budgets/budget:Budget"),
    "azureml": (
        _azureml,
        {"azure-native:location": "westeurope"},
        "azure-native:consumption:Budget",
    ),
}


@pytest.mark.parametrize("target", sorted(CASES))
def test_defaults_only_deployment_has_a_budget_and_passes_the_budget_rule(target: str) -> None:
    program, config, budget_type = CASES[target]
    region = next(iter(config.values()))
    expected = budget_usd(
        parse_deployment(SPEC), validate_for_target(parse_deployment(SPEC), target, region)
    )
    assert expected is not None and expected > 0

    result = run_program(program, packs=[BASELINE], config=config)

    budget = result.one(budget_type)
    amount = budget.inputs.get("limitAmount") or budget.inputs.get("amount")
    assert float(amount) == expected
    assert "all-billing-budget-require-budget" not in result.policies_hit()

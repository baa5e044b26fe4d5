"""Fixtures for the cross-cutting rules: residency, required tags, budgets."""

from __future__ import annotations

import json
from typing import Any, Final

from cases_aws import endpoint_config, model
from cases_azure import endpoint as azure_endpoint
from cases_azure import workspace
from cases_gcp import bucket as gcs_bucket
from cases_gcp import endpoint as vertex_endpoint
from cases_kubernetes import deployment
from policy_cases import Case, bad, ok
from policy_harness import DELETE, Computed, Res, patched

RESIDENCY: Final = "all-residency-resource-restrict-region"
TAGS: Final = "all-tags-resource-require-tags"
BUDGET: Final = "all-billing-budget-require-budget"


def aws_provider(region: str, **props: Any) -> Res:
    return Res("pulumi:providers:aws", "eu", {"region": region, **props})


def _residency_cases() -> list[Case]:
    gdpr: dict[str, Any] = {"framework": "gdpr"}
    no_region = (("region",), DELETE)
    config_without_region = endpoint_config(no_region)
    role = Res(
        "aws:iam/role:Role",
        "llm-endpoint",
        {"assumeRolePolicy": "{}"},
        provider=aws_provider("us-east-1"),
    )
    return [
        ok(RESIDENCY, "frankfurt", endpoint_config(), **gdpr),
        ok(
            RESIDENCY,
            "provider-in-ireland",
            Res(
                config_without_region.type,
                "llm",
                config_without_region.props,
                provider=aws_provider("eu-west-1"),
            ),
            **gdpr,
        ),
        ok(RESIDENCY, "iam-is-global", role, **gdpr),
        ok(RESIDENCY, "azure-display-name", workspace((("location",), "West Europe")), **gdpr),
        ok(RESIDENCY, "vertex-eu", vertex_endpoint(), **gdpr),
        ok(RESIDENCY, "gcs-eu-multi-region", gcs_bucket(), **gdpr),
        ok(RESIDENCY, "baseline-allows-all", endpoint_config((("region",), "us-east-1"))),
        ok(
            RESIDENCY,
            "configured-list",
            endpoint_config((("region",), "eu-west-2")),
            config={"allowedRegions": ["eu-west-2"]},
            **gdpr,
        ),
        bad(
            RESIDENCY, "virginia", endpoint_config((("region",), "us-east-1")), "us-east-1", **gdpr
        ),
        bad(
            RESIDENCY,
            "london-is-not-eu",
            endpoint_config((("region",), "eu-west-2")),
            "eu-west-2",
            **gdpr,
        ),
        bad(
            RESIDENCY,
            "provider-in-virginia",
            Res(
                config_without_region.type,
                "llm",
                config_without_region.props,
                provider=aws_provider("us-east-1"),
            ),
            "the provider's region 'us-east-1'",
            **gdpr,
        ),
        bad(RESIDENCY, "provider-resource", aws_provider("us-west-2"), "us-west-2", **gdpr),
        bad(RESIDENCY, "azure-us", workspace((("location",), "eastus")), "eastus", **gdpr),
        ok(
            RESIDENCY,
            "azure-dns-zone-is-global",
            Res(
                "azure-native:privatedns:PrivateZone",
                "zone",
                {"location": "global", "privateZoneName": "privatelink.api.azureml.ms"},
            ),
            **gdpr,
        ),
        bad(
            RESIDENCY,
            "azure-global-workspace",
            workspace((("location",), "global")),
            "global",
            **gdpr,
        ),
        bad(
            RESIDENCY,
            "vertex-us",
            vertex_endpoint((("location",), "us-central1"), (("region",), "us-central1")),
            "us-central1",
            **gdpr,
        ),
        bad(RESIDENCY, "gcs-us", gcs_bucket((("location",), "US")), "'US'", **gdpr),
        bad(
            RESIDENCY,
            "hipaa-us-only",
            workspace(),
            "westeurope",
            framework="hipaa",
            config={"allowedRegions": ["eastus", "eastus2"]},
        ),
    ]


def _tags_cases() -> list[Case]:
    required: dict[str, Any] = {"config": {"requiredTags": ["team", "cost-center"]}}
    tagged = {"team": "ml-platform", "cost-center": "cc-42"}
    default_tags = json.dumps({"tags": {"cost-center": "cc-42"}})
    return [
        ok(TAGS, "nothing-required", model()),
        ok(TAGS, "aws-tags", model((("tags",), tagged)), **required),
        ok(
            TAGS,
            "aws-provider-default-tags",
            Res(
                "aws:sagemaker/model:Model",
                "llm",
                patched(model().props, (("tags",), {"team": "ml-platform"})),
                provider=aws_provider("eu-central-1", defaultTags=default_tags),
            ),
            **required,
        ),
        ok(TAGS, "azure-tags", workspace((("tags",), tagged)), **required),
        ok(TAGS, "gcp-labels", gcs_bucket((("labels",), tagged)), **required),
        ok(TAGS, "k8s-labels", deployment((("metadata", "labels"), tagged)), **required),
        ok(
            TAGS,
            "untaggable-type",
            Res(
                "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                "x",
                {"role": Computed("r"), "policyArn": Computed("p")},
            ),
            **required,
        ),
        bad(
            TAGS,
            "aws-missing",
            model((("tags",), {"team": "ml-platform"})),
            "cost-center",
            **required,
        ),
        bad(TAGS, "aws-no-tags", model(), "['team', 'cost-center']", **required),
        bad(TAGS, "gcp-missing", gcs_bucket(), "cost-center", **required),
        bad(TAGS, "k8s-missing", deployment(), "team", **required),
    ]


def _budget_cases() -> list[Case]:
    endpoint = Res(
        "aws:sagemaker/endpoint:Endpoint",
        "llm",
        {"endpointConfigName": Computed("llm-cfg-1a2b"), "region": "eu-central-1"},
    )
    aws_budget = Res(
        "aws:budgets/budget:Budget",
        "llm-monthly",
        {
            "budgetType": "COST",
            "limitAmount": "5000",
            "limitUnit": "USD",
            "timeUnit": "MONTHLY",
            "notifications": [
                {
                    "comparisonOperator": "GREATER_THAN",
                    "threshold": 80,
                    "thresholdType": "PERCENTAGE",
                    "notificationType": "FORECASTED",
                    "subscriberEmailAddresses": ["ops@example.com"],
                }
            ],
        },
    )
    silent_budget = Res(
        aws_budget.type, aws_budget.name, patched(aws_budget.props, (("notifications",), DELETE))
    )
    azure_budget = Res(
        "azure-native:consumption:Budget",
        "llm-monthly",
        {
            "scope": Computed("/subscriptions/0000/resourceGroups/llm"),
            "amount": 5000,
            "category": "Cost",
            "timeGrain": "Monthly",
            "timePeriod": {"startDate": "2025-01-01T00:00:00Z"},
            "notifications": {
                "actual80": {
                    "enabled": True,
                    "operator": "GreaterThan",
                    "threshold": 80,
                    "contactEmails": ["ops@example.com"],
                }
            },
        },
    )
    gcp_budget = Res(
        "gcp:billing/budget:Budget",
        "llm-monthly",
        {
            "billingAccount": "000000-000000-000000",
            "amount": {"specifiedAmount": {"currencyCode": "EUR", "units": "5000"}},
            "thresholdRules": [{"thresholdPercent": 0.8}],
        },
    )
    return [
        ok(BUDGET, "aws-budget", (endpoint, aws_budget)),
        ok(BUDGET, "azure-budget", (azure_endpoint(), azure_budget)),
        ok(BUDGET, "gcp-budget", (vertex_endpoint(), gcp_budget)),
        ok(BUDGET, "onprem-needs-none", (deployment(),)),
        bad(BUDGET, "aws-none", (endpoint,), "has no Budget"),
        bad(BUDGET, "aws-silent", (endpoint, silent_budget), "without notifications"),
        bad(
            BUDGET,
            "budget-of-another-cloud",
            (vertex_endpoint(), aws_budget),
            "gcp:billing/budget:Budget",
        ),
        bad(BUDGET, "azure-none", (azure_endpoint(),), "azure-native:consumption:Budget"),
    ]


CASES: Final = [*_residency_cases(), *_tags_cases(), *_budget_cases()]

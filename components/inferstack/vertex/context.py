"""What every child-building module shares: the spec, the plan, names, labels and options."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from inferstack.deployment import DeploymentSpec
from inferstack.vertex.plan import VertexPlan


@dataclass(frozen=True)
class Context:
    name: str
    spec: DeploymentSpec
    plan: VertexPlan
    project_number: pulumi.Output[str]
    parent: pulumi.Resource
    project_billing_account: pulumi.Output[str] | None = None
    """The billing account the project is linked to (from the project lookup)."""

    @property
    def project(self) -> str:
        return self.plan.project

    @property
    def region(self) -> str:
        return self.plan.region

    def opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self.parent, **kwargs)

    def child(self, suffix: str) -> str:
        return f"{self.name}-{suffix}"

    def labels(self, **extra: str) -> dict[str, str]:
        return {**self.plan.labels, **extra}

    def service_agent(self, domain: str, prefix: str = "service-") -> pulumi.Output[str]:
        """A Google-managed service agent of this project, as an IAM member."""
        return self.project_number.apply(
            lambda number: f"serviceAccount:{prefix}{number}@{domain}.iam.gserviceaccount.com"
        )

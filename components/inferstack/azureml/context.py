"""What every child-building module shares: the spec, the plan, names, tags and options."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pulumi

from inferstack.azureml.plan import AzureMLPlan
from inferstack.deployment import DeploymentSpec

# Built-in role definitions (the same GUID in every tenant).
ROLES = {
    # Key Vault Crypto Service Encryption User
    "crypto_user": "e147488a-f6f5-4113-8e2d-b22465e65bf6",
    "acr_pull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",  # AcrPull
    "blob_reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",  # Storage Blob Data Reader
    "blob_contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",  # Storage Blob Data Contributor
    "cognitive_user": "a97b65f3-24c7-4388-baec-2e87135dc908",  # Cognitive Services User
}
GLOBAL = "global"


@dataclass(frozen=True)
class Context:
    name: str
    spec: DeploymentSpec
    plan: AzureMLPlan
    region: str
    subscription_id: pulumi.Output[str]
    tenant_id: pulumi.Output[str]
    resource_group: pulumi.Input[str]
    parent: pulumi.Resource

    def opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self.parent, **kwargs)

    def child(self, suffix: str) -> str:
        return f"{self.name}-{suffix}"

    def tags(self) -> dict[str, str]:
        return self.spec.merged_tags()

    def role_definition(self, role: str) -> pulumi.Output[str]:
        return self.subscription_id.apply(
            lambda sub: (
                f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/"
                f"{ROLES[role]}"
            )
        )

    def guid(self, *parts: str) -> str:
        """A stable GUID for names Azure requires to be GUIDs (role assignments)."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join((self.name, *parts))))


def iso_seconds(seconds: float) -> str:
    return f"PT{int(seconds)}S"

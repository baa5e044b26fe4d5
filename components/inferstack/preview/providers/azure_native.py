"""pulumi-azure-native imitated: ARM resource ids and names, and the client config invoke."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inferstack.preview.providers.common import ProviderMocks, _token_parts

SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000000"
TENANT_ID = "00000000-0000-0000-0000-000000000001"


class AzureNativeMocks(ProviderMocks):
    def _azure(self, token: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        module, kind = _token_parts(token)
        physical = str(_azure_name(kind, inputs) or name)
        base = f"/subscriptions/{SUBSCRIPTION_ID}"
        if module == "resources" and kind == "ResourceGroup":
            resource_id = f"{base}/resourceGroups/{physical}"
        else:
            group = inputs.get("resourceGroupName", "rg")
            plural = kind[0].lower() + kind[1:] + "s"
            resource_id = (
                f"{base}/resourceGroups/{group}/providers/Microsoft.{module}/{plural}/{physical}"
            )
        inputs.setdefault("id", resource_id)
        inputs.setdefault("name", physical)
        return resource_id, inputs

    new_resource = _azure

    def call(self, token: str, args: Mapping[str, Any]) -> dict[str, Any] | None:
        if token == "azure-native:authorization:getClientConfig":
            return {
                "clientId": "00000000-0000-0000-0000-000000000002",
                "objectId": "00000000-0000-0000-0000-000000000003",
                "subscriptionId": SUBSCRIPTION_ID,
                "tenantId": TENANT_ID,
            }
        return None


def _azure_name(kind: str, inputs: Mapping[str, Any]) -> Any:
    own = kind[0].lower() + kind[1:] + "Name"
    if own in inputs:
        return inputs[own]
    if "name" in inputs:
        return inputs["name"]
    for key, value in inputs.items():
        if key.endswith("Name") and key != "resourceGroupName" and isinstance(value, str):
            return value
    return None

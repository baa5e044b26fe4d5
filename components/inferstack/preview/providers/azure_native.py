"""pulumi-azure-native imitated: ARM resource ids and names, and the client config invoke."""

from __future__ import annotations

import collections
from collections.abc import Mapping
from typing import Any

from inferstack.preview.providers.common import ProviderMocks, _token_parts, _uuid
from inferstack.preview.values import UNKNOWN_SENTINEL

SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000000"
TENANT_ID = "00000000-0000-0000-0000-000000000001"


class AzureNativeMocks(ProviderMocks):
    def _azure(self, token: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        module, kind = _token_parts(token)
        physical = str(_azure_name(kind, inputs) or name)
        base = f"/subscriptions/{SUBSCRIPTION_ID}"
        group = f"{base}/resourceGroups/{inputs.get('resourceGroupName', 'rg')}"
        plural = kind[0].lower() + kind[1:] + "s"
        path = _AZURE_PATHS.get((module, kind), f"Microsoft.{module}/{plural}/{{name}}")
        fields = {k: str(v) for k, v in inputs.items() if isinstance(v, str | int | float)}
        known = collections.defaultdict(lambda: "unknown", {**fields, "name": physical})
        resource_id = f"{group}/providers/" + path.format_map(known)
        inputs = _azure_identities(inputs)
        properties = dict(inputs.get("properties") or {})
        if module == "resources" and kind == "ResourceGroup":
            resource_id = f"{base}/resourceGroups/{physical}"
        elif module == "keyvault" and kind == "Key":
            vault = inputs.get("vaultName", "vault")
            resource_id = f"{group}/providers/Microsoft.KeyVault/vaults/{vault}/keys/{physical}"
            uri = f"https://{vault}.vault.azure.net/keys/{physical}"
            inputs.setdefault("keyUri", uri)
            inputs.setdefault("keyUriWithVersion", f"{uri}/{_uuid(token, name).replace('-', '')}")
        elif module == "keyvault" and kind == "Vault":
            inputs["properties"] = {
                "vaultUri": f"https://{physical}.vault.azure.net/",
                **properties,
            }
        elif module == "containerregistry" and kind == "Registry":
            inputs.setdefault("loginServer", f"{physical}.azurecr.io")
        elif module == "machinelearningservices" and kind == "OnlineEndpoint":
            host = f"{physical}.{inputs.get('location', 'westeurope')}.inference.ml.azure.com"
            inputs["properties"] = {"scoringUri": f"https://{host}/score", **properties}
        elif module == "machinelearningservices" and kind == "Workspace":
            inputs.setdefault("workspaceId", _uuid(resource_id, "workspace"))
        elif module == "app" and kind == "ManagedEnvironment":
            # An internal environment answers on a private IP of its subnet, under its own domain.
            inputs.setdefault(
                "defaultDomain", f"{physical}.{inputs.get('location', 'x')}.azurecontainerapps.io"
            )
            inputs.setdefault("staticIp", "10.42.3.30")
        elif module == "managedidentity" and kind == "UserAssignedIdentity":
            inputs.setdefault("principalId", _uuid(resource_id, "principal"))
            inputs.setdefault("clientId", _uuid(resource_id, "client"))
            inputs.setdefault("tenantId", TENANT_ID)
        inputs.setdefault("id", resource_id)
        inputs.setdefault("name", physical)
        return resource_id, inputs

    new_resource = _azure

    def normalized(self, token: str, state: dict[str, Any]) -> dict[str, Any]:
        return _azure_identities(state)

    def call(self, token: str, args: Mapping[str, Any]) -> dict[str, Any] | None:
        if token == "azure-native:authorization:getClientConfig":
            return {
                "clientId": "00000000-0000-0000-0000-000000000002",
                "objectId": "00000000-0000-0000-0000-000000000003",
                "subscriptionId": SUBSCRIPTION_ID,
                "tenantId": TENANT_ID,
            }
        return None


# ARM paths of the azure-native resources inferstack registers, for plausible mock ids.
_AZURE_PATHS: dict[tuple[str, str], str] = {
    ("containerregistry", "Registry"): "Microsoft.ContainerRegistry/registries/{name}",
    ("storage", "StorageAccount"): "Microsoft.Storage/storageAccounts/{name}",
    ("storage", "BlobContainer"): (
        "Microsoft.Storage/storageAccounts/{accountName}/blobServices/default/containers/{name}"
    ),
    ("keyvault", "Vault"): "Microsoft.KeyVault/vaults/{name}",
    ("managedidentity", "UserAssignedIdentity"): (
        "Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
    ),
    ("operationalinsights", "Workspace"): "Microsoft.OperationalInsights/workspaces/{name}",
    ("applicationinsights", "Component"): "Microsoft.Insights/components/{name}",
    ("machinelearningservices", "Workspace"): "Microsoft.MachineLearningServices/workspaces/{name}",
    ("machinelearningservices", "OnlineEndpoint"): (
        "Microsoft.MachineLearningServices/workspaces/{workspaceName}/onlineEndpoints/{name}"
    ),
    ("machinelearningservices", "OnlineDeployment"): (
        "Microsoft.MachineLearningServices/workspaces/{workspaceName}/onlineEndpoints/"
        "{endpointName}/deployments/{name}"
    ),
    ("machinelearningservices", "ModelVersion"): (
        "Microsoft.MachineLearningServices/workspaces/{workspaceName}/models/{name}/versions/"
        "{version}"
    ),
    ("machinelearningservices", "EnvironmentVersion"): (
        "Microsoft.MachineLearningServices/workspaces/{workspaceName}/environments/{name}/"
        "versions/{version}"
    ),
    ("network", "VirtualNetwork"): "Microsoft.Network/virtualNetworks/{name}",
    ("network", "Subnet"): "Microsoft.Network/virtualNetworks/{virtualNetworkName}/subnets/{name}",
    ("network", "PrivateEndpoint"): "Microsoft.Network/privateEndpoints/{name}",
    ("privatedns", "PrivateZone"): "Microsoft.Network/privateDnsZones/{name}",
    ("monitor", "ActionGroup"): "Microsoft.Insights/actionGroups/{name}",
    ("app", "ManagedEnvironment"): "Microsoft.App/managedEnvironments/{name}",
    ("app", "Job"): "Microsoft.App/jobs/{name}",
    ("storage", "ManagementPolicy"): (
        "Microsoft.Storage/storageAccounts/{accountName}/managementPolicies/{name}"
    ),
}


def _azure_identities(state: dict[str, Any]) -> dict[str, Any]:
    """azure-native takes user-assigned identities as a list of ids and returns a map of
    id -> {principalId, clientId}; an unknown id stays unknown."""
    identity = state.get("identity")
    if not isinstance(identity, dict) or not isinstance(
        identity.get("userAssignedIdentities"), list
    ):
        return state
    ids = identity["userAssignedIdentities"]
    if any(not isinstance(uai, str) or uai == UNKNOWN_SENTINEL for uai in ids):
        mapped: Any = UNKNOWN_SENTINEL
    else:
        mapped = {
            uai: {"principalId": _uuid(uai, "principal"), "clientId": _uuid(uai, "client")}
            for uai in ids
        }
    return {**state, "identity": {**identity, "userAssignedIdentities": mapped}}


def _azure_name(kind: str, inputs: Mapping[str, Any]) -> Any:
    own = kind[0].lower() + kind[1:] + "Name"
    if own in inputs:
        return inputs[own]
    if "name" in inputs:
        return inputs["name"]
    for key, value in inputs.items():  # BlobContainer -> containerName
        if key.endswith("Name") and kind.lower().endswith(key[:-4].lower()) and key[:-4]:
            return value
    for key, value in inputs.items():
        if key.endswith("Name") and key != "resourceGroupName" and isinstance(value, str):
            return value
    return None

"""The captured Azure inputs, as ARM request bodies, validate against Microsoft's own SDK models.

The ``azure-mgmt-*`` packages carry Microsoft's machine-readable definition of each API: field
names on the wire, read-only and required fields, types, closed enums, and (msrest models)
patterns, lengths and ranges. Turning what the component hands azure-native (camelCase, with
the ARM envelope flattened for some resources) back into the request body and walking it
against those models is an offline oracle: a misnamed field, a read-only one, a missing required
one or a mistyped value fails here instead of at ``pulumi up``.

azure-mgmt-machinelearningservices speaks API 2023-04-01, older than azure-native's 2025-12-01;
the few workspace and deployment fields added since must be listed in NEWER_ML_FIELDS, and each
of them must exist in azure-native's own input types.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from azure.mgmt.containerregistry import models as acr
from azure.mgmt.keyvault import models as keyvault
from azure.mgmt.machinelearningservices import models as ml
from azure.mgmt.storage import models as storage
from azure_sdk_oracle import check

from inferstack.azureml import OnlineEndpoint
from inferstack.azureml.args import AzureMLArgs
from inferstack.preview import CapturedResource, run_stack

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "policy"))
from sdk_schema import declares

Recording = Callable[..., list[CapturedResource]]

ROOT = Path(__file__).resolve().parents[2]
REGION = "westeurope"
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
SPECS: dict[str, dict[str, Any]] = {
    "defaults": {"name": "bot", "model": {"id": LLAMA}},
    "full": {
        "name": "support-bot",
        "environment": "prod",
        "model": {"id": LLAMA, "source": f"hf://{LLAMA}@0e9e39f249a1", "max_context": 8192},
        "compute": {"instance_type": "Standard_NC24ads_A100_v4"},
        "scaling": {"min_replicas": 2, "max_replicas": 6},
        "security": {"auth": "api_key"},
        "observability": {"alarms": {"email": "oncall@example.com"}},
        "compliance": {"frameworks": ["hipaa"], "data_capture": {"enabled": True}},
        "cost": {"monthly_budget_usd": 20000},
    },
}
ML = "azure-native:machinelearningservices"
# token -> (model, inputs that name the resource in the URL, whether azure-native flattens
# `properties` into the top level)
REQUESTS: dict[str, tuple[type[Any], frozenset[str], bool]] = {
    f"{ML}:Workspace": (ml.Workspace, frozenset({"resourceGroupName", "workspaceName"}), True),
    f"{ML}:OnlineEndpoint": (
        ml.OnlineEndpoint,
        frozenset({"resourceGroupName", "workspaceName", "endpointName"}),
        False,
    ),
    f"{ML}:OnlineDeployment": (
        ml.OnlineDeployment,
        frozenset({"resourceGroupName", "workspaceName", "endpointName", "deploymentName"}),
        False,
    ),
    "azure-native:keyvault:Vault": (
        keyvault.VaultCreateOrUpdateParameters,
        frozenset({"resourceGroupName", "vaultName"}),
        False,
    ),
    "azure-native:keyvault:Key": (
        keyvault.KeyCreateParameters,
        frozenset({"resourceGroupName", "vaultName", "keyName"}),
        False,
    ),
    "azure-native:storage:StorageAccount": (
        storage.StorageAccountCreateParameters,
        frozenset({"resourceGroupName", "accountName"}),
        True,
    ),
    "azure-native:containerregistry:Registry": (
        acr.Registry,
        frozenset({"resourceGroupName", "registryName"}),
        True,
    ),
}
ENVELOPE = frozenset({"location", "tags", "identity", "sku", "kind"})
# Where azure-native names a field by the REST spec's client name (x-ms-client-name), the wire
# name differs: path in the body -> name on the wire.
WIRE_NAMES: dict[str, dict[tuple[str, ...], str]] = {
    "azure-native:storage:StorageAccount": {
        ("properties", "networkRuleSet"): "networkAcls",
        ("properties", "enableHttpsTrafficOnly"): "supportsHttpsTrafficOnly",
        ("properties", "encryption", "keyVaultProperties"): "keyvaultproperties",
        ("properties", "encryption", "encryptionIdentity"): "identity",
        ("properties", "encryption", "keyVaultProperties", "keyName"): "keyname",
        ("properties", "encryption", "keyVaultProperties", "keyVaultUri"): "keyvaulturi",
        (
            "properties",
            "encryption",
            "encryptionIdentity",
            "encryptionUserAssignedIdentity",
        ): "userAssignedIdentity",
    },
}
# Fields of API 2025-12-01 (azure-native) that 2023-04-01 (the SDK) does not have yet.
NEWER_ML_FIELDS = {
    f"{ML}:Workspace": {"kind", "properties.managedNetwork", "properties.systemDatastoresAuthMode"},
    f"{ML}:OnlineDeployment": {"properties.dataCollector"},
}


def arm_body(resource: CapturedResource) -> dict[str, Any]:
    """The ARM request body azure-native sends for the captured inputs."""
    _, url_names, flattened = REQUESTS[resource.type]
    body = {k: copy.deepcopy(v) for k, v in resource.inputs.items() if k not in url_names}
    if flattened:
        properties = {k: v for k, v in body.items() if k not in ENVELOPE}
        body = {k: v for k, v in body.items() if k in ENVELOPE}
        body["properties"] = properties
    renames = WIRE_NAMES.get(resource.type, {})
    for path, wire in sorted(renames.items(), key=lambda item: -len(item[0])):  # deepest first
        parent = body
        for key in path[:-1]:
            parent = parent.get(key, {})
        if path[-1] in parent:
            parent[wire] = parent.pop(path[-1])
    identity = body.get("identity")
    if isinstance(identity, dict) and isinstance(identity.get("userAssignedIdentities"), list):
        # azure-native takes a list of identity ids; the API takes a map id -> {}.
        identity["userAssignedIdentities"] = {i: {} for i in identity["userAssignedIdentities"]}
    return body


def problems(resource: CapturedResource) -> list[str]:
    model = REQUESTS[resource.type][0]
    newer = {f"$.{path}" for path in NEWER_ML_FIELDS.get(resource.type, set())}
    return [
        p
        for p in check(model, arm_body(resource))
        if not any(p == f"{field}: not a field of {p.split(' of ')[-1]}" for field in newer)
    ]


def captured_component(spec: dict[str, Any]) -> list[CapturedResource]:
    from inferstack.preview import record

    return record(
        lambda: OnlineEndpoint(spec["name"], spec, args=AzureMLArgs()),
        preview=False,
        config={"azure-native:location": REGION},
    )


@pytest.fixture(
    scope="module", params=["defaults", "full", "stack:azureml-dev", "stack:azureml-prod"]
)
def captured(request: pytest.FixtureRequest) -> list[CapturedResource]:
    name: str = request.param
    if name.startswith("stack:"):
        path = ROOT / "stacks" / f"Pulumi.{name.removeprefix('stack:')}.yaml"
        return run_stack(path, preview=False).resources
    return captured_component(SPECS[name])


def test_every_request_is_valid_for_microsofts_models(captured: list[CapturedResource]) -> None:
    checked = [r for r in captured if r.type in REQUESTS]
    assert {r.type for r in checked} == set(REQUESTS)
    for resource in checked:
        assert problems(resource) == [], resource.name


def test_newer_fields_are_real_azure_native_inputs() -> None:
    for token, paths in NEWER_ML_FIELDS.items():
        for path in paths:
            parts = path.split(".")
            # The workspace's properties are top-level inputs in azure-native.
            if token.endswith(":Workspace") and parts[0] == "properties":
                parts = parts[1:]
            assert declares(token, *parts), (token, path)


def test_the_newer_fields_really_are_unknown_to_the_sdk(
    captured: list[CapturedResource],
) -> None:
    """The allowance is no wider than the gap between the two API versions."""
    workspace = next(r for r in captured if r.type == f"{ML}:Workspace")
    found = check(ml.Workspace, arm_body(workspace))
    assert {p.split(":")[0] for p in found} == {
        f"$.{p}" for p in NEWER_ML_FIELDS[f"{ML}:Workspace"]
    }


# -- the oracle catches what it should -------------------------------------------------------


@pytest.fixture(scope="module")
def full() -> dict[str, CapturedResource]:
    return {r.type: r for r in captured_component(SPECS["full"]) if r.type in REQUESTS}


def _broken(resource: CapturedResource, change: Callable[[dict[str, Any]], None]) -> list[str]:
    inputs = copy.deepcopy(resource.inputs)
    change(inputs)
    broken = CapturedResource(
        urn=resource.urn,
        type=resource.type,
        name=resource.name,
        parent=resource.parent,
        custom=True,
        dependencies=(),
        property_dependencies={},
        inputs=inputs,
        struct=resource.struct,
    )
    return problems(broken)


@pytest.mark.parametrize(
    ("token", "change", "fragment"),
    [
        (
            "azure-native:keyvault:Vault",
            lambda i: i["properties"].pop("sku"),
            "properties.sku: required",
        ),
        (
            "azure-native:keyvault:Vault",
            lambda i: i["properties"].update(enablePurgeProtecton=True),
            "enablePurgeProtecton: not a field",
        ),
        (
            "azure-native:keyvault:Key",
            lambda i: i["properties"].update(keySize="3072"),
            "keySize: expected int",
        ),
        (
            "azure-native:containerregistry:Registry",
            lambda i: i.update(loginServer="cr.azurecr.io"),
            "loginServer: read-only",
        ),
        (
            "azure-native:storage:StorageAccount",
            lambda i: i.update(provisioningState="Succeeded"),
            "provisioningState: not a field",
        ),
        (
            "azure-native:storage:StorageAccount",
            lambda i: i.update(allowBlobPublicAccess="false"),
            "allowBlobPublicAccess: expected bool",
        ),
        (
            "azure-native:containerregistry:Registry",
            lambda i: i.pop("sku"),
            "sku: required",
        ),
        (
            f"{ML}:OnlineDeployment",
            lambda i: i["properties"]["livenessProbe"].update(initialDelay="600"),
            "initialDelay: '600' is not an ISO 8601 duration",
        ),
        (
            f"{ML}:OnlineDeployment",
            lambda i: i["properties"].pop("endpointComputeType"),
            "endpointComputeType: required",
        ),
        (
            f"{ML}:OnlineEndpoint",
            lambda i: i["properties"].update(authmode="Key"),
            "authmode: not a field",
        ),
        (
            f"{ML}:Workspace",
            lambda i: i.update(hbiWorkspace="yes"),
            "hbiWorkspace: expected a boolean",
        ),
    ],
)
def test_the_oracle_rejects_invalid_requests(
    full: dict[str, CapturedResource],
    token: str,
    change: Callable[[dict[str, Any]], None],
    fragment: str,
) -> None:
    assert problems(full[token]) == []
    assert any(fragment in p for p in _broken(full[token], change)), _broken(full[token], change)

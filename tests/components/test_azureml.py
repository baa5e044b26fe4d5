"""OnlineEndpoint: the inputs every child gets, with a defaults-only spec and a full spec."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest
from captured import Captured

from inferstack import targets
from inferstack.azureml import OnlineEndpoint
from inferstack.azureml.args import AzureMLArgs
from inferstack.azureml.context import ROLES
from inferstack.deployment import parse_deployment, validate_for_target
from inferstack.deployment.targets import budget_usd
from inferstack.errors import SpecError
from inferstack.preview import CapturedResource

Recording = Callable[..., list[CapturedResource]]

REGION = "westeurope"
COMPONENT = "inferstack:azureml:OnlineEndpoint"
STACK = "pulumi:pulumi:Stack"
ML = "azure-native:machinelearningservices"
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
REVISION = "0e9e39f249a16976918f6564b8830bc894c89659"
DEFAULTS: dict[str, Any] = {"name": "bot", "model": {"id": LLAMA}}
FULL: dict[str, Any] = {
    "name": "support-bot",
    "environment": "prod",
    "model": {"id": LLAMA, "source": f"hf://{LLAMA}@{REVISION}", "max_context": 8192},
    "serving": {
        "runtime": "vllm",
        "max_concurrency": 24,
        "extra_args": ["--enable-prefix-caching"],
    },
    "compute": {"instance_type": "Standard_NC40ads_H100_v5"},
    "scaling": {
        "min_replicas": 3,
        "max_replicas": 6,
        "target": {"metric": "gpu_utilization", "value": 75},
        "scale_out_cooldown_seconds": 120,
        "scale_in_cooldown_seconds": 1200,
    },
    "observability": {"log_retention_days": 545, "alarms": {"email": "oncall@example.com"}},
    "compliance": {
        "frameworks": ["hipaa", "gdpr"],
        "phi": True,
        "data_capture": {"enabled": True, "sampling_percentage": 15, "retention_days": 45},
    },
    "cost": {"monthly_budget_usd": 25000},
    "tags": {"team": "ml-platform", "cost-center": "4711"},
}
TAGGABLE = {
    "azure-native:resources:ResourceGroup",
    "azure-native:keyvault:Vault",
    "azure-native:managedidentity:UserAssignedIdentity",
    "azure-native:storage:StorageAccount",
    "azure-native:containerregistry:Registry",
    "azure-native:operationalinsights:Workspace",
    "azure-native:applicationinsights:Component",
    f"{ML}:Workspace",
    f"{ML}:OnlineEndpoint",
    f"{ML}:OnlineDeployment",
    "azure-native:network:PrivateEndpoint",
    "azure-native:monitor:AutoscaleSetting",
    "azure-native:monitor:MetricAlert",
}
_RUNS: dict[str, list[CapturedResource]] = {}


class Stack(Captured):
    def children(self) -> list[CapturedResource]:
        return [r for r in self.resources if r.type not in (STACK, COMPONENT)]


def run(recording: Recording, spec: dict[str, Any], *, preview: bool = False) -> Stack:
    key = json.dumps([spec, preview], sort_keys=True)
    if key not in _RUNS:
        _RUNS[key] = recording(
            lambda: OnlineEndpoint(spec["name"], spec, args=AzureMLArgs()),
            preview=preview,
            config={"azure-native:location": REGION},
        )
    return Stack(_RUNS[key])


@pytest.fixture(params=["defaults", "full"])
def stack(request: pytest.FixtureRequest, recording: Recording) -> Stack:
    return run(recording, DEFAULTS if request.param == "defaults" else FULL)


def test_every_child_is_parented_to_the_component(stack: Stack) -> None:
    (component,) = stack.all(COMPONENT)
    assert all(child.parent == component.urn for child in stack.children())
    assert all(child.custom for child in stack.children())


def test_vault_and_key(stack: Stack) -> None:
    vault = stack.one("azure-native:keyvault:Vault")["properties"]
    assert vault["enablePurgeProtection"] is True and vault["enableSoftDelete"] is True
    assert vault["enableRbacAuthorization"] is True
    assert vault["publicNetworkAccess"] == "Disabled"
    assert vault["networkAcls"]["defaultAction"] == "Deny"
    key = stack.one("azure-native:keyvault:Key")["properties"]
    actions = {a["action"]["type"]: a["trigger"] for a in key["rotationPolicy"]["lifetimeActions"]}
    assert actions["rotate"] == {"timeAfterCreate": "P90D"}
    assert key["kty"] == "RSA-HSM" and key["keySize"] >= 3072


def test_identity_roles_are_scoped_to_one_resource_each(stack: Stack) -> None:
    identity = stack.all("azure-native:managedidentity:UserAssignedIdentity")
    assert len(identity) == 1
    # The gateway's own grants (score, screening services) are tested with the gateway.
    assignments = [
        r.inputs
        for r in stack.all("azure-native:authorization:RoleAssignment")
        if "-ra-apim-" not in r.name
    ]
    roles = {a["roleDefinitionId"].rsplit("/", 1)[1]: a["scope"] for a in assignments}
    # Blob write access belongs to the red-team scans' identity (test_azureml_redteam.py).
    assert set(roles) == set(ROLES.values()) - {ROLES["cognitive_user"], ROLES["blob_contributor"]}
    key = stack.all("azure-native:keyvault:Key")[0]
    assert "/vaults/" in roles[ROLES["crypto_user"]]
    assert roles[ROLES["crypto_user"]].endswith(f"/keys/{key.inputs['keyName']}")
    assert "/registries/" in roles[ROLES["acr_pull"]]
    assert roles[ROLES["blob_reader"]].endswith("/blobServices/default/containers/models")
    for scope in roles.values():
        assert "/resourceGroups/" in scope and "/providers/" in scope  # never subscription scope


def test_storage_account(stack: Stack) -> None:
    account = stack.one("azure-native:storage:StorageAccount")
    encryption = account["encryption"]
    assert encryption["keySource"] == "Microsoft.Keyvault"
    assert encryption["keyVaultProperties"]["keyName"]
    assert encryption["keyVaultProperties"]["keyVaultUri"].startswith("https://")
    assert encryption["requireInfrastructureEncryption"] is True
    uai = stack.all("azure-native:managedidentity:UserAssignedIdentity")[0]
    assert encryption["encryptionIdentity"]["encryptionUserAssignedIdentity"].endswith(
        f"/{uai.inputs['resourceName']}"
    )
    assert account["minimumTlsVersion"] == "TLS1_2"
    assert account["enableHttpsTrafficOnly"] is True
    assert account["allowBlobPublicAccess"] is False
    assert account["allowSharedKeyAccess"] is False
    assert account["publicNetworkAccess"] == "Disabled"


def test_registry(stack: Stack) -> None:
    registry = stack.one("azure-native:containerregistry:Registry")
    assert registry["sku"]["name"] == "Premium"
    assert registry["adminUserEnabled"] is False
    assert registry["publicNetworkAccess"] == "Disabled"
    assert registry["encryption"]["status"] == "enabled"
    key_id = registry["encryption"]["keyVaultProperties"]["keyIdentifier"]
    assert key_id.count("/") == 4  # https://<vault>/keys/<name>: follows rotations


def test_workspace(stack: Stack) -> None:
    workspace = stack.one(f"{ML}:Workspace")
    assert workspace["encryption"]["status"] == "Enabled"
    assert workspace["encryption"]["keyVaultProperties"]["keyVaultArmId"]
    assert workspace["encryption"]["keyVaultProperties"]["keyIdentifier"].startswith("https://")
    assert workspace["encryption"]["identity"]["userAssignedIdentity"]
    assert workspace["publicNetworkAccess"] == "Disabled"
    assert workspace["allowPublicAccessWhenBehindVnet"] is False
    assert workspace["systemDatastoresAuthMode"] == "identity"
    network = workspace["managedNetwork"]
    assert network["isolationMode"] == "AllowOnlyApprovedOutbound"
    assert {rule["type"] for rule in network["outboundRules"].values()} == {"PrivateEndpoint"}


def test_hbi_is_always_on(recording: Recording) -> None:
    # It cannot be turned on after the workspace exists, and it costs nothing: PHI or not.
    assert run(recording, FULL).one(f"{ML}:Workspace")["hbiWorkspace"] is True
    assert run(recording, DEFAULTS).one(f"{ML}:Workspace")["hbiWorkspace"] is True


def test_private_endpoints_have_dns_zone_groups(stack: Stack) -> None:
    endpoints = stack.all("azure-native:network:PrivateEndpoint")
    groups = {e.inputs["privateLinkServiceConnections"][0]["groupIds"][0] for e in endpoints}
    # "account": the gateway's Content Safety and Language accounts.
    assert groups == {"amlworkspace", "vault", "blob", "file", "registry", "account"}
    zone_groups = stack.all("azure-native:network:PrivateDnsZoneGroup")
    assert {g.inputs["privateEndpointName"] for g in zone_groups} == {
        e.inputs["privateEndpointName"] for e in endpoints
    }
    zones = {z.inputs["privateZoneName"] for z in stack.all("azure-native:privatedns:PrivateZone")}
    assert {"privatelink.api.azureml.ms", "privatelink.vaultcore.azure.net"} <= zones
    links = stack.all("azure-native:privatedns:VirtualNetworkLink")
    assert len(links) == len(zones)
    assert all(link.inputs["registrationEnabled"] is False for link in links)


def test_model_and_environment_are_pinned(recording: Recording) -> None:
    stack = run(recording, FULL)
    model = stack.one(f"{ML}:ModelVersion")
    assert model["version"] == REVISION[:12]
    assert model["properties"]["modelUri"].startswith("azureml://datastores/models/paths/")
    store = stack.one(f"{ML}:Datastore")["properties"]
    assert store["containerName"] == "models"
    assert store["credentials"] == {"credentialsType": "None"}  # the identity, no stored key
    assert REVISION in model["properties"]["modelUri"]
    env = stack.one(f"{ML}:EnvironmentVersion")["properties"]
    assert ".azurecr.io/vllm/vllm-openai:v0.11.0@sha256:" in env["image"]
    # The workspace's own registry, spelt out so that preview knows the digest.
    registry = stack.one("azure-native:containerregistry:Registry")["registryName"]
    assert env["image"].startswith(f"{registry}.azurecr.io/")
    assert env["inferenceConfig"]["livenessRoute"] == {"path": "/health", "port": 8000}


def test_endpoint_and_deployment(recording: Recording) -> None:
    stack = run(recording, FULL)
    endpoint = stack.one(f"{ML}:OnlineEndpoint")
    assert endpoint["properties"]["authMode"] == "AADToken"
    assert endpoint["properties"]["publicNetworkAccess"] == "Disabled"
    deployment = stack.one(f"{ML}:OnlineDeployment")
    props = deployment["properties"]
    assert props["endpointComputeType"] == "Managed"
    assert props["instanceType"] == "Standard_NC40ads_H100_v5"
    assert deployment["sku"]["capacity"] == 3
    assert props["egressPublicNetworkAccess"] == "Disabled"
    assert props["requestSettings"]["maxConcurrentRequestsPerInstance"] == 24
    assert props["livenessProbe"]["initialDelay"] not in ("PT10S", None)
    assert int(props["livenessProbe"]["initialDelay"][2:-1]) >= 600
    assert props["dataCollector"]["collections"]["model_inputs"]["samplingRate"] == 0.15
    assert "--enable-prefix-caching" in props["environmentVariables"]["VLLM_ARGS"]


def test_captured_payloads_expire(recording: Recording) -> None:
    stack = run(recording, FULL)
    (rule,) = stack.one("azure-native:storage:ManagementPolicy")["policy"]["rules"]
    definition = rule["definition"]
    assert definition["actions"]["baseBlob"]["delete"] == {"daysAfterModificationGreaterThan": 45}
    (prefix,) = definition["filters"]["prefixMatch"]
    endpoint = stack.one(f"{ML}:OnlineEndpoint")["endpointName"]
    assert prefix.startswith("azureml-blobstore-")
    assert prefix.endswith(f"/modelDataCollector/{endpoint}/")


def test_defaults_capture_nothing(recording: Recording) -> None:
    props = run(recording, DEFAULTS).one(f"{ML}:OnlineDeployment")["properties"]
    assert "dataCollector" not in props
    assert props["egressPublicNetworkAccess"] == "Disabled"
    assert not run(recording, DEFAULTS).all("azure-native:storage:ManagementPolicy")


def test_autoscale_tracks_llm_load_on_the_deployment(stack: Stack) -> None:
    setting = stack.one("azure-native:monitor:AutoscaleSetting")
    deployment = stack.all(f"{ML}:OnlineDeployment")[0]
    assert setting["targetResourceUri"].endswith(f"/{deployment.inputs['deploymentName']}")
    (profile,) = setting["profiles"]
    metrics = {rule["metricTrigger"]["metricName"] for rule in profile["rules"]}
    assert metrics <= {"RequestsPerMinute", "GpuUtilizationPercentage"}
    assert not any("Cpu" in metric for metric in metrics)
    directions = {rule["scaleAction"]["direction"] for rule in profile["rules"]}
    assert directions == {"Increase", "Decrease"}


def test_autoscale_bounds_come_from_the_spec(recording: Recording) -> None:
    (profile,) = run(recording, FULL).one("azure-native:monitor:AutoscaleSetting")["profiles"]
    assert profile["capacity"] == {"minimum": "3", "maximum": "6", "default": "3"}
    (rule,) = [r for r in profile["rules"] if r["scaleAction"]["direction"] == "Increase"]
    assert rule["metricTrigger"]["metricName"] == "GpuUtilizationPercentage"
    assert rule["metricTrigger"]["threshold"] == 75
    assert rule["scaleAction"]["cooldown"] == "PT120S"


def test_diagnostic_settings_send_endpoint_and_workspace_logs(stack: Stack) -> None:
    settings = [r.inputs for r in stack.all("azure-native:monitor:DiagnosticSetting")]
    assert len(settings) == 4  # endpoint, workspace, vault, gateway
    log_workspace = stack.all("azure-native:operationalinsights:Workspace")[0]
    assert all(s["workspaceId"].endswith(log_workspace.inputs["workspaceName"]) for s in settings)
    endpoint = next(s for s in settings if "/onlineEndpoints/" in s["resourceUri"])
    assert {entry["category"] for entry in endpoint["logs"]} == {
        "AmlOnlineEndpointTrafficLog",
        "AmlOnlineEndpointConsoleLog",
        "AmlOnlineEndpointEventLog",
    }


def test_logs_and_app_insights(recording: Recording) -> None:
    stack = run(recording, FULL)
    logs = stack.one("azure-native:operationalinsights:Workspace")
    assert logs["retentionInDays"] == 545
    insights = stack.one("azure-native:applicationinsights:Component")
    assert insights["ingestionMode"] == "LogAnalytics"
    assert insights["workspaceResourceId"].endswith(logs["workspaceName"])
    assert insights["disableLocalAuth"] is True


def test_alerts_go_to_the_action_group(recording: Recording) -> None:
    stack = run(recording, FULL)
    group = stack.one("azure-native:monitor:ActionGroup")
    assert group["emailReceivers"][0]["emailAddress"] == "oncall@example.com"
    alerts = [r.inputs for r in stack.all("azure-native:monitor:MetricAlert")]
    assert len(alerts) >= 3
    names = {a["criteria"]["allOf"][0]["metricName"] for a in alerts}
    assert {"RequestsPerMinute", "RequestLatency_P99", "DeploymentCapacity"} <= names
    assert all(a["actions"][0]["actionGroupId"].endswith(group["actionGroupName"]) for a in alerts)


def test_budget_notifies_at_80_and_100_percent_of_forecast(recording: Recording) -> None:
    stack = run(recording, FULL)
    budget = stack.one("azure-native:consumption:Budget")
    group = stack.one("azure-native:resources:ResourceGroup")
    assert budget["scope"].endswith(f"/resourceGroups/{group['resourceGroupName']}")
    assert budget["amount"] == 25000
    notifications = budget["notifications"].values()
    assert sorted(n["threshold"] for n in notifications) == [80, 100]
    assert {n["thresholdType"] for n in notifications} == {"Forecasted"}
    assert all(n["contactEmails"] == ["oncall@example.com"] for n in notifications)


def test_defaults_register_a_budget_but_no_alerts(recording: Recording) -> None:
    stack = run(recording, DEFAULTS)
    # Without cost.monthly_budget_usd the budget is the on-demand cost of max_replicas.
    spec = parse_deployment(DEFAULTS)
    expected = budget_usd(spec, validate_for_target(spec, "azureml", REGION))
    assert expected is not None
    assert stack.one("azure-native:consumption:Budget")["amount"] == expected
    assert not stack.all("azure-native:monitor:MetricAlert")


def test_tags_are_merged_onto_every_taggable_child(recording: Recording) -> None:
    stack = run(recording, FULL)
    tagged = [r for r in stack.children() if r.type in TAGGABLE]
    assert {r.type for r in tagged} == TAGGABLE
    for resource in tagged:
        tags = resource.inputs["tags"]
        assert tags["team"] == "ml-platform", resource.name
        assert tags["cost-center"] == "4711", resource.name
        assert tags["inferstack/environment"] == FULL["environment"]
        assert tags["app.kubernetes.io/managed-by"] == "inferstack"


def test_preview_mode_registers_the_same_children(recording: Recording) -> None:
    update = run(recording, FULL)
    preview = run(recording, FULL, preview=True)
    assert sorted(r.urn for r in preview.resources) == sorted(r.urn for r in update.resources)


def test_existing_resource_group_key_and_subnet(recording: Recording) -> None:
    key = "https://kv-acme.vault.azure.net/keys/llm/0123456789abcdef"
    subnet = (
        "/subscriptions/0000/resourceGroups/net/providers/Microsoft.Network/"
        "virtualNetworks/hub/subnets/pe"
    )
    spec = {**FULL, "security": {"encryption": {"kms_key": key}}}
    gateway_subnet = subnet.replace("/subnets/pe", "/subnets/apim")
    args = AzureMLArgs(
        resource_group="rg-shared", subnet_id=subnet, gateway_subnet_id=gateway_subnet
    )
    resources = recording(
        lambda: OnlineEndpoint("support-bot", spec, args=args),
        preview=False,
        config={"azure-native:location": REGION},
    )
    stack = Stack(resources)
    for token in (
        "azure-native:resources:ResourceGroup",
        "azure-native:keyvault:Vault",
        "azure-native:keyvault:Key",
        "azure-native:network:VirtualNetwork",
        "azure-native:network:Subnet",
    ):
        assert not stack.all(token), token
    workspace = stack.one(f"{ML}:Workspace")
    assert workspace["resourceGroupName"] == "rg-shared"
    assert workspace["encryption"]["keyVaultProperties"]["keyIdentifier"] == key
    assert all(
        e.inputs["subnet"]["id"] == subnet
        for e in stack.all("azure-native:network:PrivateEndpoint")
    )
    gateway = stack.one("azure-native:apimanagement:ApiManagementService")
    assert gateway["virtualNetworkConfiguration"]["subnetResourceId"] == gateway_subnet
    links = stack.all("azure-native:privatedns:VirtualNetworkLink")
    assert all(
        link.inputs["virtualNetwork"]["id"] == subnet.split("/subnets/")[0] for link in links
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"compute": {"spot": True}}, "compute.spot"),
        ({"scaling": {"min_replicas": 0, "scale_to_zero": True}}, "scaling.scale_to_zero"),
        ({"compute": {"instance_type": "Standard_NC24ads_A100"}}, "compute.instance_type"),
        ({"security": {"auth": "iam"}}, "security.auth"),
    ],
)
def test_bad_input_fails_before_any_resource(
    recording: Recording, change: dict[str, Any], field: str
) -> None:
    spec = {**DEFAULTS, **change}
    registered: list[CapturedResource] = []
    with pytest.raises(SpecError) as caught:
        registered = recording(
            lambda: OnlineEndpoint("bot", spec, args=AzureMLArgs()),
            config={"azure-native:location": REGION},
        )
    assert caught.value.path == field
    assert registered == []


def test_region_is_required(recording: Recording) -> None:
    with pytest.raises(SpecError) as caught:
        recording(lambda: OnlineEndpoint("bot", DEFAULTS, args=AzureMLArgs()))
    assert caught.value.path == "azure-native:location"


def test_unknown_sku_names_the_nearest_valid_one(recording: Recording) -> None:
    spec = {**DEFAULTS, "compute": {"instance_type": "Standard_NC24ads_A100"}}
    with pytest.raises(SpecError) as caught:
        recording(
            lambda: OnlineEndpoint("bot", spec, args=AzureMLArgs()),
            config={"azure-native:location": REGION},
        )
    assert "Standard_NC24ads_A100_v4" in str(caught.value)


def test_the_registry_descriptor_names_the_component_and_batch_endpoints() -> None:
    target = targets.get("azureml")
    assert target.component_class() is OnlineEndpoint
    assert OnlineEndpoint.type_token == f"inferstack:{target.token_module}:OnlineEndpoint"
    assert target.no_spot is not None and "batch endpoints" in target.no_spot.fix
    assert target.no_scale_to_zero is not None
    assert "batch endpoints" in target.no_scale_to_zero.fix


def test_gateway_is_internal_and_the_only_scorer(stack: Stack) -> None:
    gateway = stack.one("azure-native:apimanagement:ApiManagementService")
    assert gateway["virtualNetworkType"] == "Internal"
    assert gateway["identity"] == {"type": "SystemAssigned"}
    prod = gateway["tags"]["inferstack/environment"] == "prod"
    assert gateway["sku"] == {"name": "Premium" if prod else "Developer", "capacity": 1}
    (role,) = stack.all("azure-native:authorization:RoleDefinition")
    permissions = role.inputs["permissions"]
    assert permissions == [
        {
            "actions": [],
            "dataActions": [
                "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/score/action"
            ],
        }
    ]
    scorers = [
        r
        for r in stack.all("azure-native:authorization:RoleAssignment")
        if r.inputs["roleDefinitionId"] not in ROLES.values()
        and not any(r.inputs["roleDefinitionId"].endswith(v) for v in ROLES.values())
    ]
    assert [r.name for r in scorers] == [f"{role.name.removesuffix('-role-scorer')}-ra-apim-score"]
    endpoint = stack.all(f"{ML}:OnlineEndpoint")[0]
    assert endpoint.urn in scorers[0].property_dependencies["scope"]
    gateway_urn = stack.all("azure-native:apimanagement:ApiManagementService")[0].urn
    assert gateway_urn in scorers[0].property_dependencies["principalId"]


def test_screening_accounts_take_no_keys_and_no_public_traffic(stack: Stack) -> None:
    accounts = {
        r.inputs["kind"]: r.inputs for r in stack.all("azure-native:cognitiveservices:Account")
    }
    assert set(accounts) == {"ContentSafety", "TextAnalytics"}
    for account in accounts.values():
        properties = account["properties"]
        assert properties["disableLocalAuth"] is True
        assert properties["publicNetworkAccess"] == "Disabled"
        assert properties["encryption"]["keySource"] == "Microsoft.KeyVault"
        assert properties["customSubDomainName"]


def test_gateway_policy_screens_with_prompt_shields(stack: Stack) -> None:
    policy = ET.fromstring(stack.one("azure-native:apimanagement:ApiPolicy")["value"])
    safety = policy.find("inbound/llm-content-safety")
    assert safety is not None and safety.get("shield-prompt") == "true"
    backends = {
        r.inputs["backendId"]: r.inputs for r in stack.all("azure-native:apimanagement:Backend")
    }
    endpoint = stack.one(f"{ML}:OnlineEndpoint")
    assert (
        f"//{endpoint['endpointName']}.westeurope.inference.ml.azure.com/"
        in backends["ml-endpoint"]["url"]
    )

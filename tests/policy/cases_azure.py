"""Fixtures for the Azure rules, with azure-native v3 type tokens and property names."""

from __future__ import annotations

from typing import Any, Final

from cases_guard_azure import CASES as GUARD_CASES
from policy_cases import Case, bad, ok
from policy_harness import DELETE, Computed, Res, patched

SUB: Final = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/llm"
ML: Final = "azure-native:machinelearningservices:"
WORKSPACE_ID: Final = Computed(f"{SUB}/providers/Microsoft.MachineLearningServices/workspaces/llm")
VAULT_ID: Final = Computed(f"{SUB}/providers/Microsoft.KeyVault/vaults/llm-kv")
KEY_ID: Final = Computed("https://llm-kv.vault.azure.net/keys/cmk/0123456789abcdef")

WORKSPACE_PROPS: Final = {
    "resourceGroupName": Computed("llm-rg"),
    "location": "westeurope",
    "identity": {"type": "SystemAssigned"},
    "keyVault": VAULT_ID,
    "storageAccount": Computed(f"{SUB}/providers/Microsoft.Storage/storageAccounts/llmsa"),
    "applicationInsights": Computed(f"{SUB}/providers/Microsoft.Insights/components/llm"),
    "encryption": {
        "status": "Enabled",
        "keyVaultProperties": {"keyVaultArmId": VAULT_ID, "keyIdentifier": KEY_ID},
    },
    "publicNetworkAccess": "Disabled",
    "hbiWorkspace": True,
    "managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound"},
    "tags": {"team": "ml-platform"},
}


def workspace(*changes: tuple[tuple[str | int, ...], Any]) -> Res:
    return Res(f"{ML}Workspace", "llm", patched(WORKSPACE_PROPS, *changes))


ENDPOINT_PROPS: Final = {
    "resourceGroupName": Computed("llm-rg"),
    "workspaceName": Computed("llm-ws"),
    "location": "westeurope",
    "identity": {"type": "SystemAssigned"},
    "properties": {"authMode": "AADToken", "publicNetworkAccess": "Disabled"},
}


def endpoint(*changes: tuple[tuple[str | int, ...], Any]) -> Res:
    return Res(f"{ML}OnlineEndpoint", "llm", patched(ENDPOINT_PROPS, *changes))


DEPLOYMENT_PROPS: Final = {
    "resourceGroupName": Computed("llm-rg"),
    "workspaceName": Computed("llm-ws"),
    "endpointName": Computed("llm-ep"),
    "location": "westeurope",
    "sku": {"name": "Default", "capacity": 2},
    "properties": {
        "endpointComputeType": "Managed",
        "instanceType": "Standard_NC24ads_A100_v4",
        "model": Computed(
            f"{SUB}/providers/Microsoft.MachineLearningServices/registries/r/models/llama/versions/1"
        ),
        "egressPublicNetworkAccess": "Disabled",
        "requestSettings": {"maxConcurrentRequestsPerInstance": 16, "requestTimeout": "PT90S"},
    },
}


def online_deployment(*changes: tuple[tuple[str | int, ...], Any]) -> Res:
    return Res(f"{ML}OnlineDeployment", "blue", patched(DEPLOYMENT_PROPS, *changes))


VAULT_PROPS: Final = {
    "resourceGroupName": Computed("llm-rg"),
    "location": "westeurope",
    "properties": {
        "tenantId": Computed("11111111-2222-3333-4444-555555555555"),
        "sku": {"family": "A", "name": "premium"},
        "enablePurgeProtection": True,
        "enableSoftDelete": True,
        "softDeleteRetentionInDays": 90,
        "enableRbacAuthorization": True,
        "publicNetworkAccess": "Disabled",
        "networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices"},
    },
}


def vault(*changes: tuple[tuple[str | int, ...], Any]) -> Res:
    return Res("azure-native:keyvault:Vault", "llm-kv", patched(VAULT_PROPS, *changes))


STORAGE_PROPS: Final = {
    "resourceGroupName": Computed("llm-rg"),
    "location": "westeurope",
    "kind": "StorageV2",
    "sku": {"name": "Standard_ZRS"},
    "identity": {"type": "SystemAssigned"},
    "minimumTlsVersion": "TLS1_2",
    "enableHttpsTrafficOnly": True,
    "allowBlobPublicAccess": False,
    "encryption": {
        "keySource": "Microsoft.Keyvault",
        "keyVaultProperties": {
            "keyVaultUri": Computed("https://llm-kv.vault.azure.net/"),
            "keyName": "cmk",
        },
        "services": {"blob": {"enabled": True, "keyType": "Account"}},
    },
}


def storage(*changes: tuple[tuple[str | int, ...], Any]) -> Res:
    return Res("azure-native:storage:StorageAccount", "llmsa", patched(STORAGE_PROPS, *changes))


def _ml_cases() -> list[Case]:
    cmk = "azure-ml-workspace-require-cmk"
    public = "azure-ml-workspace-disallow-public-network"
    hbi = "azure-ml-workspace-require-hbi"
    auth = "azure-ml-onlineendpoint-restrict-auth-mode"
    ep_public = "azure-ml-onlineendpoint-disallow-public-network"
    egress = "azure-ml-onlinedeployment-disallow-public-egress"
    return [
        ok(cmk, "cmk", workspace()),
        bad(cmk, "no-encryption", workspace((("encryption",), DELETE)), "encryption.status"),
        bad(cmk, "disabled", workspace((("encryption", "status"), "Disabled")), "customer-managed"),
        bad(
            cmk,
            "no-key",
            workspace((("encryption", "keyVaultProperties", "keyIdentifier"), DELETE)),
            "keyIdentifier",
        ),
        ok(public, "private", workspace()),
        bad(
            public,
            "default-enabled",
            workspace((("publicNetworkAccess",), DELETE)),
            "public networks",
        ),
        bad(
            public,
            "behind-vnet-reopened",
            workspace((("allowPublicAccessWhenBehindVnet",), True)),
            "allowPublicAccessWhenBehindVnet",
        ),
        ok(hbi, "hbi", workspace(), framework="hipaa"),
        bad(
            hbi,
            "not-hbi",
            workspace((("hbiWorkspace",), False)),
            "high business impact",
            framework="hipaa",
        ),
        ok(auth, "entra", endpoint()),
        ok(auth, "aml-token", endpoint((("properties", "authMode"), "AMLToken"))),
        bad(auth, "key", endpoint((("properties", "authMode"), "Key")), "'Key'"),
        ok(
            auth,
            "key-allowed-by-config",
            endpoint((("properties", "authMode"), "Key")),
            config={"allowedAuthModes": ["Key", "AADToken"]},
        ),
        ok(ep_public, "private", endpoint()),
        bad(
            ep_public,
            "enabled",
            endpoint((("properties", "publicNetworkAccess"), "Enabled")),
            "public networks",
        ),
        bad(
            ep_public,
            "default",
            endpoint((("properties", "publicNetworkAccess"), DELETE)),
            "public networks",
        ),
        ok(egress, "disabled", online_deployment(), framework="gdpr"),
        bad(
            egress,
            "enabled",
            online_deployment((("properties", "egressPublicNetworkAccess"), "Enabled")),
            "reach the internet",
            framework="gdpr",
        ),
        bad(
            egress,
            "default",
            online_deployment((("properties", "egressPublicNetworkAccess"), DELETE)),
            "reach the internet",
            framework="hipaa",
        ),
    ]


def _vault_and_storage_cases() -> list[Case]:
    purge = "azure-keyvault-vault-require-purge-protection"
    rbac = "azure-keyvault-vault-require-rbac"
    kv_public = "azure-keyvault-vault-disallow-public-network"
    tls = "azure-storage-account-require-tls12"
    https = "azure-storage-account-require-https"
    blob = "azure-storage-account-disallow-blob-public-access"
    cmk = "azure-storage-account-require-cmk"
    return [
        ok(purge, "protected", vault()),
        ok(purge, "soft-delete-default", vault((("properties", "enableSoftDelete"), DELETE))),
        bad(
            purge,
            "no-purge-protection",
            vault((("properties", "enablePurgeProtection"), DELETE)),
            "purge protection",
        ),
        bad(
            purge,
            "soft-delete-off",
            vault((("properties", "enableSoftDelete"), False)),
            "soft delete",
        ),
        ok(rbac, "rbac", vault()),
        bad(
            rbac,
            "access-policies",
            vault((("properties", "enableRbacAuthorization"), False)),
            "access policies",
        ),
        ok(kv_public, "disabled", vault()),
        ok(kv_public, "firewall-deny", vault((("properties", "publicNetworkAccess"), "Enabled"))),
        bad(
            kv_public,
            "open",
            vault(
                (("properties", "publicNetworkAccess"), "Enabled"),
                (("properties", "networkAcls", "defaultAction"), "Allow"),
            ),
            "every network",
        ),
        ok(tls, "tls12", storage()),
        bad(tls, "tls10", storage((("minimumTlsVersion",), "TLS1_0")), "TLS1_2"),
        bad(tls, "unset", storage((("minimumTlsVersion",), DELETE)), "TLS1_2"),
        ok(https, "https", storage()),
        bad(https, "http", storage((("enableHttpsTrafficOnly",), False)), "plain HTTP"),
        ok(blob, "off", storage()),
        bad(blob, "on", storage((("allowBlobPublicAccess",), True)), "anonymous blob"),
        bad(blob, "unset", storage((("allowBlobPublicAccess",), DELETE)), "anonymous blob"),
        ok(cmk, "cmk", storage()),
        bad(
            cmk,
            "microsoft-managed",
            storage((("encryption",), {"keySource": "Microsoft.Storage"})),
            "Microsoft-managed",
        ),
        bad(
            cmk,
            "no-key-name",
            storage((("encryption", "keyVaultProperties", "keyName"), DELETE)),
            "keyName",
        ),
    ]


def _monitor_cases() -> list[Case]:
    diag = "azure-monitor-resource-require-diagnostic-settings"
    low = "azure-monitor-loganalytics-require-min-retention"
    high = "azure-monitor-loganalytics-limit-max-retention"
    setting = Res(
        "azure-native:monitor:DiagnosticSetting",
        "llm-diagnostics",
        {
            "resourceUri": WORKSPACE_ID,
            "workspaceId": Computed(
                f"{SUB}/providers/Microsoft.OperationalInsights/workspaces/llm"
            ),
            "logs": [{"categoryGroup": "allLogs", "enabled": True}],
            "metrics": [{"category": "AllMetrics", "enabled": True}],
        },
        deps={"resourceUri": ["llm"]},
    )
    ws = workspace()

    def diag_with(*changes: tuple[tuple[str | int, ...], Any], deps: Any = None) -> Res:
        return Res(
            setting.type,
            setting.name,
            patched(setting.props, *changes),
            deps=setting.deps if deps is None else deps,
        )

    law = "azure-native:operationalinsights:Workspace"
    base = {
        "resourceGroupName": Computed("llm-rg"),
        "location": "westeurope",
        "sku": {"name": "PerGB2018"},
    }
    hipaa: dict[str, Any] = {"framework": "hipaa"}
    gdpr: dict[str, Any] = {"framework": "gdpr"}
    return [
        ok(diag, "workspace-logged", (ws, setting), **hipaa),
        bad(diag, "none", (ws,), "no diagnostic setting", **hipaa),
        bad(
            diag,
            "logs-disabled",
            (ws, diag_with((("logs", 0, "enabled"), False))),
            "no enabled log category",
            **hipaa,
        ),
        bad(
            diag,
            "no-destination",
            (ws, diag_with((("workspaceId",), DELETE))),
            "no enabled log category",
            **hipaa,
        ),
        bad(
            diag,
            "setting-for-vault-only",
            (ws, vault(), diag_with(deps={"resourceUri": ["llm-kv"]})),
            "'llm' has no diagnostic setting",
            **hipaa,
        ),
        ok(low, "one-year", Res(law, "logs", {**base, "retentionInDays": 365}), **hipaa),
        bad(low, "default", Res(law, "logs", base), "platform's short default", **hipaa),
        bad(
            low,
            "thirty",
            Res(law, "logs", {**base, "retentionInDays": 30}),
            "below the 365",
            **hipaa,
        ),
        ok(high, "one-year", Res(law, "logs", {**base, "retentionInDays": 365}), **gdpr),
        bad(high, "unset", Res(law, "logs", base), "not set", **gdpr),
        bad(
            high,
            "too-long",
            Res(law, "logs", {**base, "retentionInDays": 4383}),
            "above the 2192",
            **gdpr,
        ),
    ]


CASES: Final = [*_ml_cases(), *_vault_and_storage_cases(), *_monitor_cases(), *GUARD_CASES]

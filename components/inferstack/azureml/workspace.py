"""The Azure ML workspace: CMK through the identity, private, managed network, HBI for PHI."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from inferstack.azureml.context import Context
from inferstack.azureml.encryption import Key


def workspace(
    ctx: Context,
    *,
    key: Key,
    identity_id: pulumi.Input[str],
    storage_id: pulumi.Input[str],
    registry_id: pulumi.Input[str],
    app_insights_id: pulumi.Input[str],
    depends_on: list[pulumi.Resource],
) -> ml.Workspace:
    plan = ctx.plan
    return ml.Workspace(
        ctx.child("mlw"),
        workspace_name=plan.workspace_name,
        resource_group_name=ctx.resource_group,
        location=ctx.region,
        kind="Default",
        sku=ml.SkuArgs(name="Basic", tier=ml.SkuTier.BASIC),
        identity=ml.ManagedServiceIdentityArgs(
            type="UserAssigned", user_assigned_identities=[identity_id]
        ),
        primary_user_assigned_identity=identity_id,
        encryption=ml.EncryptionPropertyArgs(
            status="Enabled",
            identity=ml.IdentityForCmkArgs(user_assigned_identity=identity_id),
            key_vault_properties=ml.KeyVaultPropertiesArgs(
                key_vault_arm_id=key.vault_id, key_identifier=key.key_uri
            ),
        ),
        # High-business-impact mode (less diagnostic data leaves the workspace) costs nothing and
        # cannot be turned on after creation: always on, PHI or not.
        hbi_workspace=True,
        public_network_access="Disabled",
        allow_public_access_when_behind_vnet=False,
        managed_network=ml.ManagedNetworkSettingsArgs(
            isolation_mode="AllowOnlyApprovedOutbound",
            outbound_rules=outbound_rules(storage_id, registry_id, key.vault_id),
        ),
        system_datastores_auth_mode="identity",
        storage_account=storage_id,
        container_registry=registry_id,
        key_vault=key.vault_id,
        application_insights=app_insights_id,
        tags=ctx.tags(),
        opts=ctx.opts(depends_on=depends_on),
    )


def outbound_rules(
    storage_id: pulumi.Input[str], registry_id: pulumi.Input[str], vault_id: pulumi.Input[str]
) -> dict[str, ml.PrivateEndpointOutboundRuleArgs]:
    """Private endpoints from the managed network to the workspace's own resources; nothing
    reaches the internet (the weights and the image are already inside)."""

    def rule(target: pulumi.Input[str], group: str) -> ml.PrivateEndpointOutboundRuleArgs:
        return ml.PrivateEndpointOutboundRuleArgs(
            type="PrivateEndpoint",
            category="UserDefined",
            destination=ml.PrivateEndpointDestinationArgs(
                service_resource_id=target, subresource_target=group
            ),
        )

    return {
        "storage-blob": rule(storage_id, "blob"),
        "storage-file": rule(storage_id, "file"),
        "registry": rule(registry_id, "registry"),
        "vault": rule(vault_id, "vault"),
    }

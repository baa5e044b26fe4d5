"""Key Vault and the customer-managed key: purge-protected, RBAC-only, private, rotating."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import keyvault

from inferstack.azureml.context import Context


@dataclass(frozen=True)
class Key:
    vault_id: pulumi.Output[str]
    vault_uri: pulumi.Output[str]
    key_name: pulumi.Output[str]
    key_id: pulumi.Output[str]
    """ARM id of the key (the scope of its role assignment)."""
    key_uri: pulumi.Output[str]
    """The versioned key identifier the workspace encrypts with."""
    vault: keyvault.Vault | None


def vault(ctx: Context) -> keyvault.Vault:
    plan = ctx.plan
    return keyvault.Vault(
        ctx.child("kv"),
        vault_name=plan.vault_name,
        resource_group_name=ctx.resource_group,
        location=ctx.region,
        properties=keyvault.VaultPropertiesArgs(
            tenant_id=ctx.tenant_id,
            sku=keyvault.SkuArgs(family="A", name=keyvault.SkuName.PREMIUM),
            enable_rbac_authorization=True,
            enable_soft_delete=True,
            soft_delete_retention_in_days=plan.soft_delete_days,
            enable_purge_protection=True,
            public_network_access="Disabled",
            network_acls=keyvault.NetworkRuleSetArgs(default_action="Deny", bypass="AzureServices"),
            enabled_for_deployment=False,
            enabled_for_disk_encryption=False,
            enabled_for_template_deployment=False,
        ),
        tags=ctx.tags(),
        opts=ctx.opts(),
    )


def deployment_key(ctx: Context) -> Key:
    """A created vault and HSM key with a rotation policy, or the existing key of the spec."""
    plan = ctx.plan
    if not plan.create_key:
        assert plan.key_id is not None
        return existing_key(ctx, plan.key_id)
    created = vault(ctx)
    rotate = f"P{plan.key_rotation_days}D"
    key = keyvault.Key(
        ctx.child("cmk"),
        key_name=plan.key_name,
        vault_name=created.name,
        resource_group_name=ctx.resource_group,
        properties=keyvault.KeyPropertiesArgs(
            kty="RSA-HSM",
            key_size=3072,
            key_ops=["wrapKey", "unwrapKey"],
            attributes=keyvault.KeyAttributesArgs(enabled=True, exportable=False),
            rotation_policy=keyvault.RotationPolicyArgs(
                attributes=keyvault.KeyRotationPolicyAttributesArgs(
                    expiry_time=f"P{2 * plan.key_rotation_days}D"
                ),
                lifetime_actions=[
                    keyvault.LifetimeActionArgs(
                        trigger=keyvault.TriggerArgs(time_after_create=rotate),
                        action=keyvault.ActionArgs(
                            type=keyvault.KeyRotationPolicyActionType.ROTATE
                        ),
                    ),
                    keyvault.LifetimeActionArgs(
                        trigger=keyvault.TriggerArgs(time_before_expiry="P30D"),
                        action=keyvault.ActionArgs(
                            type=keyvault.KeyRotationPolicyActionType.NOTIFY
                        ),
                    ),
                ],
            ),
        ),
        tags=ctx.tags(),
        opts=ctx.opts(),
    )
    return Key(
        vault_id=created.id,
        # Known before deploy, so checks and the storage account can read it.
        vault_uri=pulumi.Output.from_input(f"https://{plan.vault_name}.vault.azure.net/"),
        key_name=key.name,
        key_id=key.id,
        key_uri=key.key_uri_with_version,
        vault=created,
    )


def existing_key(ctx: Context, key_uri: str) -> Key:
    """``https://<vault>.vault.azure.net/keys/<name>/<version>``: the vault is in this group."""
    host, _, path = key_uri.removeprefix("https://").partition("/")
    vault_name = host.split(".", 1)[0]
    key_name = path.split("/")[1] if path.startswith("keys/") else path
    vault_id = ctx.subscription_id.apply(
        lambda sub: (
            f"/subscriptions/{sub}/resourceGroups/{ctx.plan.resource_group}/providers/"
            f"Microsoft.KeyVault/vaults/{vault_name}"
        )
    )
    return Key(
        vault_id=vault_id,
        vault_uri=pulumi.Output.from_input(f"https://{host}/"),
        key_name=pulumi.Output.from_input(key_name),
        key_id=vault_id.apply(lambda v: f"{v}/keys/{key_name}"),
        key_uri=pulumi.Output.from_input(key_uri),
        vault=None,
    )

"""The container registry holding the serving image: Premium, private, CMK, no admin user."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import containerregistry as acr

from inferstack.azureml.context import Context
from inferstack.azureml.encryption import Key


def registry(
    ctx: Context,
    key: Key,
    identity_id: pulumi.Input[str],
    client_id: pulumi.Input[str],
    depends_on: list[pulumi.Resource],
) -> acr.Registry:
    return acr.Registry(
        ctx.child("cr"),
        registry_name=ctx.plan.registry_name,
        resource_group_name=ctx.resource_group,
        location=ctx.region,
        sku=acr.SkuArgs(name="Premium"),
        admin_user_enabled=False,
        public_network_access="Disabled",
        network_rule_bypass_options="AzureServices",
        anonymous_pull_enabled=False,
        data_endpoint_enabled=False,
        identity=acr.IdentityPropertiesArgs(
            type=acr.ResourceIdentityType.USER_ASSIGNED,
            user_assigned_identities=pulumi.Output.from_input(identity_id).apply(
                lambda uai: {uai: acr.UserIdentityPropertiesArgs()}
            ),
        ),
        encryption=acr.EncryptionPropertyArgs(
            status="enabled",
            key_vault_properties=acr.KeyVaultPropertiesArgs(
                key_identifier=key.key_uri.apply(_versionless), identity=client_id
            ),
        ),
        tags=ctx.tags(),
        opts=ctx.opts(depends_on=depends_on),
    )


def _versionless(key_uri: str) -> str:
    """A key id without its version, so the registry follows the key's rotations."""
    base, _, path = key_uri.removeprefix("https://").partition("/")
    parts = path.strip("/").split("/")
    return f"https://{base}/{'/'.join(parts[:2])}"

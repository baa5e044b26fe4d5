"""The workspace's storage account: CMK through the identity, private, no shared keys."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
from pulumi_azure_native import storage

from inferstack.azureml.context import Context
from inferstack.azureml.encryption import Key

MODELS_CONTAINER = "models"


def account(
    ctx: Context,
    key: Key,
    identity_id: pulumi.Input[str],
    depends_on: list[pulumi.Resource],
    *,
    suffix: str = "st",
    name: str | None = None,
    tags: dict[str, str] | None = None,
) -> storage.StorageAccount:
    """A StorageV2 account encrypted with ``key`` through ``identity_id``: private (a private
    endpoint is its only way in), TLS 1.2, no shared keys, no anonymous access.

    Default: the workspace's; ``suffix``, ``name`` and ``tags`` make another one alike.
    """
    encrypted = storage.EncryptionServiceArgs(enabled=True, key_type="Account")
    return storage.StorageAccount(
        ctx.child(suffix),
        account_name=name or ctx.plan.storage_name,
        resource_group_name=ctx.resource_group,
        location=ctx.region,
        kind="StorageV2",
        sku=storage.SkuArgs(name="Standard_ZRS"),
        identity=storage.IdentityArgs(type="UserAssigned", user_assigned_identities=[identity_id]),
        encryption=storage.EncryptionArgs(
            key_source="Microsoft.Keyvault",
            key_vault_properties=storage.KeyVaultPropertiesArgs(
                key_name=key.key_name, key_vault_uri=key.vault_uri
            ),
            encryption_identity=storage.EncryptionIdentityArgs(
                encryption_user_assigned_identity=identity_id
            ),
            require_infrastructure_encryption=True,
            services=storage.EncryptionServicesArgs(blob=encrypted, file=encrypted),
        ),
        minimum_tls_version="TLS1_2",
        enable_https_traffic_only=True,
        allow_blob_public_access=False,
        allow_shared_key_access=False,
        public_network_access="Disabled",
        network_rule_set=storage.NetworkRuleSetArgs(
            default_action=storage.DefaultAction.DENY, bypass="AzureServices"
        ),
        tags=tags if tags is not None else ctx.tags(),
        opts=ctx.opts(depends_on=depends_on),
    )


def models_container(ctx: Context, account: storage.StorageAccount) -> storage.BlobContainer:
    """Where staged weights live; the identity reads this container and nothing else."""
    return storage.BlobContainer(
        ctx.child("models"),
        container_name=MODELS_CONTAINER,
        account_name=account.name,
        resource_group_name=ctx.resource_group,
        public_access=storage.PublicAccess.NONE,
        opts=ctx.opts(),
    )


def capture_retention(
    ctx: Context, account: storage.StorageAccount, workspace_guid: pulumi.Input[str]
) -> storage.ManagementPolicy:
    """Delete captured requests and responses after ``data_capture.retention_days``.

    Azure ML's data collector writes to the workspace's default blob store, the container
    ``azureml-blobstore-<workspace id>``, under ``modelDataCollector/<endpoint>/``.
    """
    plan = ctx.plan
    prefix = pulumi.Output.from_input(workspace_guid).apply(
        lambda guid: f"azureml-blobstore-{guid}/modelDataCollector/{plan.endpoint_name}/"
    )
    # Captured payloads may be block or append blobs: both expire.
    return expire_blobs(
        ctx,
        "capture-retention",
        account,
        prefix,
        plan.capture_retention_days,
        rule="captured-payloads",
        blob_types=("blockBlob", "appendBlob"),
    )


def expire_blobs(
    ctx: Context,
    suffix: str,
    account: storage.StorageAccount,
    prefix: pulumi.Input[str],
    days: int,
    *,
    rule: str | None = None,
    blob_types: Sequence[str] = ("blockBlob",),
) -> storage.ManagementPolicy:
    """The account's lifecycle policy (an account has one, named default): delete every blob of
    ``blob_types`` under ``prefix`` ``days`` after its last change, in a rule named ``rule``
    (default: ``suffix``).

    Shapes: Azure Storage "Configure a lifecycle management policy" (``baseBlob.delete`` with
    ``daysAfterModificationGreaterThan``, ``prefixMatch`` starting with the container name).
    """
    return storage.ManagementPolicy(
        ctx.child(suffix),
        management_policy_name="default",
        account_name=account.name,
        resource_group_name=ctx.resource_group,
        policy=storage.ManagementPolicySchemaArgs(
            rules=[
                storage.ManagementPolicyRuleArgs(
                    name=rule or suffix,
                    enabled=True,
                    type="Lifecycle",
                    definition=storage.ManagementPolicyDefinitionArgs(
                        filters=storage.ManagementPolicyFilterArgs(
                            blob_types=list(blob_types), prefix_match=[prefix]
                        ),
                        actions=storage.ManagementPolicyActionArgs(
                            base_blob=storage.ManagementPolicyBaseBlobArgs(
                                delete=storage.DateAfterModificationArgs(
                                    days_after_modification_greater_than=days
                                )
                            )
                        ),
                    ),
                )
            ]
        ),
        opts=ctx.opts(),
    )

"""The screening services the gateway calls: Azure AI Content Safety and Azure AI Language.

Each is a Cognitive Services account with local (key) authentication off, so only Entra
identities granted a role can call it; public network access off with a private endpoint in the
deployment's network; outbound access restricted; and the deployment's customer-managed key.
Content Safety screens prompts (Prompt Shields, harm categories, blocklists) and completions;
Language recognizes personal data and credentials, which Content Safety does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import cognitiveservices as cs

from inferstack.azureml import network
from inferstack.azureml.context import Context
from inferstack.azureml.encryption import Key
from inferstack.azureml.gateway_plan import CONTENT_SAFETY_SKU, LANGUAGE_SKU


@dataclass(frozen=True)
class Screening:
    content_safety: cs.Account | None
    language: cs.Account | None


def screening(
    ctx: Context,
    net: network.Network,
    key: Key,
    identity_id: pulumi.Input[str],
    identity_client_id: pulumi.Input[str],
    depends_on: list[pulumi.Resource],
) -> Screening:
    gateway = ctx.plan.gateway
    safety = language = None
    if gateway.content_safety:
        safety = account(
            ctx,
            "cs",
            gateway.content_safety_name,
            "ContentSafety",
            CONTENT_SAFETY_SKU,
            key,
            identity_id,
            identity_client_id,
            depends_on,
        )
        network.private_endpoint(ctx, net, "cs", safety.id, "account")
    if gateway.language:
        language = account(
            ctx,
            "lang",
            gateway.language_name,
            "TextAnalytics",
            LANGUAGE_SKU,
            key,
            identity_id,
            identity_client_id,
            depends_on,
        )
        network.private_endpoint(ctx, net, "lang", language.id, "account")
    return Screening(content_safety=safety, language=language)


def account(
    ctx: Context,
    suffix: str,
    name: str,
    kind: str,
    sku: str,
    key: Key,
    identity_id: pulumi.Input[str],
    identity_client_id: pulumi.Input[str],
    depends_on: list[pulumi.Resource],
) -> cs.Account:
    return cs.Account(
        ctx.child(suffix),
        account_name=name,
        resource_group_name=ctx.resource_group,
        location=ctx.region,
        kind=kind,
        sku=cs.SkuArgs(name=sku),
        identity=cs.IdentityArgs(
            type=cs.ResourceIdentityType.USER_ASSIGNED,
            user_assigned_identities=[identity_id],
        ),
        properties=cs.AccountPropertiesArgs(
            # The subdomain is what Entra authentication and the private endpoint resolve.
            custom_sub_domain_name=name,
            disable_local_auth=True,
            public_network_access="Disabled",
            network_acls=cs.NetworkRuleSetArgs(default_action="Deny"),
            restrict_outbound_network_access=True,
            allowed_fqdn_list=[],
            encryption=cs.EncryptionArgs(
                key_source="Microsoft.KeyVault",
                key_vault_properties=cs.KeyVaultPropertiesArgs(
                    key_name=key.key_name,
                    key_vault_uri=key.vault_uri,
                    identity_client_id=identity_client_id,
                ),
            ),
        ),
        tags=ctx.tags(),
        opts=ctx.opts(depends_on=depends_on),
    )

"""API Management in front of the online endpoint: the only principal that may score it.

The instance is injected into its own subnet in internal mode (no public gateway), resolves in a
private ``azure-api.net`` zone, and calls the endpoint with its system-assigned identity, which
holds a custom role with the single data action ``onlineEndpoints/score/action`` on that endpoint
alone. The policy (gateway_policy.py) authenticates callers, applies the limits and screens.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
from pulumi_azure_native import apimanagement as apim
from pulumi_azure_native import authorization, network, privatedns

from inferstack.azureml import gateway_policy, identity
from inferstack.azureml.context import GLOBAL, Context
from inferstack.azureml.gateway_policy import CONTENT_SAFETY_BACKEND, ENDPOINT_BACKEND, Endpoints
from inferstack.azureml.guard import Screening
from inferstack.azureml.network import Network

SCORE_ACTION = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/score/action"
API_PATH = "v1"
OPERATIONS = (
    ("chat-completions", "POST", "/chat/completions"),
    ("completions", "POST", "/completions"),
)
# Classic VNet injection needs management traffic in and the platform's dependencies out.
_NSG_RULES = (
    ("Inbound", "ApiManagement", "VirtualNetwork", "3443", 100, "management endpoint"),
    ("Inbound", "AzureLoadBalancer", "VirtualNetwork", "6390", 110, "infrastructure load balancer"),
    ("Inbound", "VirtualNetwork", "VirtualNetwork", "443", 120, "callers inside the network"),
    ("Outbound", "VirtualNetwork", "Storage", "443", 100, "platform storage"),
    ("Outbound", "VirtualNetwork", "Sql", "1433", 110, "platform configuration"),
    ("Outbound", "VirtualNetwork", "AzureKeyVault", "443", 120, "platform key vault"),
    ("Outbound", "VirtualNetwork", "AzureMonitor", "443", 130, "diagnostics and metrics"),
)
# Legacy protocols and ciphers off on the gateway and towards backends.
_HARDENING = {
    f"Microsoft.WindowsAzure.ApiManagement.Gateway.Security.{side}.{proto}": "False"
    for side in ("Protocols", "Backend.Protocols")
    for proto in ("Tls10", "Tls11", "Ssl30")
} | {"Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Ciphers.TripleDes168": "False"}


def gateway_subnet(ctx: Context, net: Network) -> pulumi.Input[str]:
    plan = ctx.plan.gateway
    if plan.subnet_id is not None:
        return plan.subnet_id
    assert net.vnet is not None and plan.subnet_prefix is not None
    nsg = network.NetworkSecurityGroup(
        ctx.child("nsg-apim"),
        network_security_group_name=f"nsg-{ctx.name}-apim",
        resource_group_name=ctx.resource_group,
        location=ctx.region,
        security_rules=[
            network.SecurityRuleArgs(
                name=f"{direction.lower()}-{port}-{source.lower()}-{target.lower()}",
                description=why,
                direction=direction,
                access="Allow",
                protocol="Tcp",
                source_address_prefix=source,
                source_port_range="*",
                destination_address_prefix=target,
                destination_port_range=port,
                priority=priority,
            )
            for direction, source, target, port, priority, why in _NSG_RULES
        ],
        tags=ctx.tags(),
        opts=ctx.opts(),
    )
    subnet = network.Subnet(
        ctx.child("snet-apim"),
        subnet_name="api-management",
        virtual_network_name=net.vnet.name,
        resource_group_name=ctx.resource_group,
        address_prefix=plan.subnet_prefix,
        network_security_group=network.NetworkSecurityGroupArgs(id=nsg.id),
        default_outbound_access=False,
        # Subnets of one VNet are changed one at a time.
        opts=ctx.opts(depends_on=[net.subnet] if net.subnet is not None else []),
    )
    return subnet.id


def service(ctx: Context, subnet_id: pulumi.Input[str]) -> apim.ApiManagementService:
    plan = ctx.plan.gateway
    return apim.ApiManagementService(
        ctx.child("apim"),
        service_name=plan.service_name,
        resource_group_name=ctx.resource_group,
        location=ctx.region,
        sku=apim.ApiManagementServiceSkuPropertiesArgs(name=plan.sku, capacity=plan.capacity),
        identity=apim.ApiManagementServiceIdentityArgs(type="SystemAssigned"),
        publisher_email=plan.publisher_email,
        publisher_name=ctx.name,
        virtual_network_type="Internal",
        virtual_network_configuration=apim.VirtualNetworkConfigurationArgs(
            subnet_resource_id=subnet_id
        ),
        custom_properties=_HARDENING,
        tags=ctx.tags(),
        opts=ctx.opts(),
    )


def private_dns(ctx: Context, net: Network, gateway: apim.ApiManagementService) -> None:
    """Internal mode publishes no DNS: the gateway's name resolves in a private zone."""
    zone = privatedns.PrivateZone(
        ctx.child("dns-apim"),
        private_zone_name="azure-api.net",
        resource_group_name=ctx.resource_group,
        location=GLOBAL,
        tags=ctx.tags(),
        opts=ctx.opts(),
    )
    privatedns.VirtualNetworkLink(
        ctx.child("dns-apim-link"),
        virtual_network_link_name=f"{ctx.name}-apim",
        private_zone_name=zone.name,
        resource_group_name=ctx.resource_group,
        location=GLOBAL,
        registration_enabled=False,
        virtual_network=privatedns.SubResourceArgs(id=net.vnet_id),
        opts=ctx.opts(),
    )
    privatedns.PrivateRecordSet(
        ctx.child("dns-apim-a"),
        private_zone_name=zone.name,
        resource_group_name=ctx.resource_group,
        record_type="A",
        relative_record_set_name=ctx.plan.gateway.service_name,
        ttl=300,
        a_records=gateway.private_ip_addresses.apply(
            lambda ips: [privatedns.ARecordArgs(ipv4_address=ip) for ip in ips or []]
        ),
        opts=ctx.opts(),
    )


def principal_id(gateway: apim.ApiManagementService) -> pulumi.Output[str]:
    return gateway.identity.apply(lambda i: (i.principal_id if i else None) or "")


def api(
    ctx: Context,
    gateway: apim.ApiManagementService,
    screening: Screening,
    depends_on: list[pulumi.Resource],
    scanners: Sequence[pulumi.Input[str]] = (),
) -> apim.ApiPolicy:
    """The OpenAI-compatible API, its backends, and the policy that guards it.

    ``scanners``: client ids of the red-team scans' identities. Without
    ``gateway_client_ids`` the policy admits any application of the tenant, theirs included;
    with them, it names the scanners too (their ids are known after deploy only).
    """
    plan = ctx.plan
    backends: list[pulumi.Resource] = [
        apim.Backend(
            ctx.child("apim-backend-endpoint"),
            backend_id=ENDPOINT_BACKEND,
            service_name=gateway.name,
            resource_group_name=ctx.resource_group,
            protocol="http",
            url=f"https://{plan.endpoint_name}.{ctx.region}.inference.ml.azure.com/{API_PATH}",
            description="The Azure ML online endpoint (vLLM's OpenAI-compatible API)",
            tls=apim.BackendTlsPropertiesArgs(
                validate_certificate_chain=True, validate_certificate_name=True
            ),
            opts=ctx.opts(),
        )
    ]
    if screening.content_safety is not None:
        backends.append(
            apim.Backend(
                ctx.child("apim-backend-cs"),
                backend_id=CONTENT_SAFETY_BACKEND,
                service_name=gateway.name,
                resource_group_name=ctx.resource_group,
                protocol="http",
                url=_cognitive_url(plan.gateway.content_safety_name),
                description="Azure AI Content Safety (llm-content-safety)",
                tls=apim.BackendTlsPropertiesArgs(
                    validate_certificate_chain=True, validate_certificate_name=True
                ),
                opts=ctx.opts(),
            )
        )
    llm = apim.Api(
        ctx.child("apim-api"),
        api_id="llm",
        service_name=gateway.name,
        resource_group_name=ctx.resource_group,
        path=API_PATH,
        display_name=f"{ctx.spec.model.id} ({ctx.name})",
        protocols=["https"],
        subscription_required=False,
        api_type="http",
        opts=ctx.opts(),
    )
    for operation_id, method, template in OPERATIONS:
        apim.ApiOperation(
            ctx.child(f"apim-op-{operation_id}"),
            operation_id=operation_id,
            api_id=llm.name,
            service_name=gateway.name,
            resource_group_name=ctx.resource_group,
            display_name=operation_id,
            method=method,
            url_template=template,
            opts=ctx.opts(),
        )
    admitted = scanners if plan.gateway.client_application_ids else ()
    endpoints = pulumi.Output.all(ctx.tenant_id, *admitted).apply(
        lambda values: gateway_policy.render(
            plan.gateway,
            Endpoints(
                tenant_id=values[0],
                content_safety_url=_cognitive_url(plan.gateway.content_safety_name),
                language_url=_cognitive_url(plan.gateway.language_name),
                scanner_client_ids=tuple(values[1:]),
            ),
        )
    )
    return apim.ApiPolicy(
        ctx.child("apim-policy"),
        policy_id="policy",
        api_id=llm.name,
        service_name=gateway.name,
        resource_group_name=ctx.resource_group,
        format="xml",
        value=endpoints,
        opts=ctx.opts(depends_on=[*backends, *depends_on]),
    )


def grant_scoring(
    ctx: Context,
    group_id: pulumi.Input[str],
    endpoint_id: pulumi.Input[str],
    gateway: apim.ApiManagementService,
) -> authorization.RoleAssignment:
    """A role with the score data action only, held by the gateway on this endpoint only."""
    role = authorization.RoleDefinition(
        ctx.child("role-scorer"),
        role_definition_id=ctx.guid("role-definition", "scorer"),
        role_name=f"{ctx.name} online endpoint scorer ({ctx.plan.gateway.service_name})",
        description="Score one Azure ML online endpoint; held by its API Management gateway",
        scope=group_id,
        assignable_scopes=[group_id],
        permissions=[authorization.PermissionArgs(actions=[], data_actions=[SCORE_ACTION])],
        opts=ctx.opts(),
    )
    return authorization.RoleAssignment(
        ctx.child("ra-apim-score"),
        role_assignment_name=ctx.guid("role", "apim-score"),
        principal_id=principal_id(gateway),
        principal_type="ServicePrincipal",
        role_definition_id=role.id,
        scope=endpoint_id,
        opts=ctx.opts(),
    )


def grant_screening(
    ctx: Context, gateway: apim.ApiManagementService, screening: Screening
) -> list[pulumi.Resource]:
    grants: list[pulumi.Resource] = []
    for suffix, account in (("cs", screening.content_safety), ("lang", screening.language)):
        if account is not None:
            grants.append(
                identity.grant(
                    ctx,
                    f"apim-{suffix}",
                    "cognitive_user",
                    principal_id=principal_id(gateway),
                    scope=account.id,
                )
            )
    return grants


def gateway_url(ctx: Context) -> str:
    """Where callers send OpenAI-style requests (resolvable inside the network)."""
    return f"https://{ctx.plan.gateway.service_name}.azure-api.net/{API_PATH}"


def _cognitive_url(name: str) -> str:
    return f"https://{name}.cognitiveservices.azure.com"

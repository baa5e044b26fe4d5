"""Private endpoints with private DNS zones and zone groups, in a created or given VNet."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import network, privatedns

from inferstack.azureml.context import GLOBAL, Context

# Private DNS zones per private-link sub-resource (Azure's documented zone names).
ZONES = {
    "amlworkspace": ("privatelink.api.azureml.ms", "privatelink.notebooks.azure.net"),
    "vault": ("privatelink.vaultcore.azure.net",),
    "blob": ("privatelink.blob.core.windows.net",),
    "file": ("privatelink.file.core.windows.net",),
    "registry": ("privatelink.azurecr.io",),
    "account": ("privatelink.cognitiveservices.azure.com",),
}


@dataclass(frozen=True)
class Network:
    vnet_id: pulumi.Input[str]
    subnet_id: pulumi.Input[str]
    zones: dict[str, privatedns.PrivateZone]
    vnet: network.VirtualNetwork | None = None
    """The created VNet (None in a given subnet's VNet)."""
    subnet: network.Subnet | None = None


def private_network(ctx: Context) -> Network:
    plan = ctx.plan
    vnet: network.VirtualNetwork | None = None
    subnet: network.Subnet | None = None
    if plan.subnet_id is not None:
        vnet_id: pulumi.Input[str] = plan.subnet_id.split("/subnets/")[0]
        subnet_id: pulumi.Input[str] = plan.subnet_id
    else:
        vnet = network.VirtualNetwork(
            ctx.child("vnet"),
            virtual_network_name=plan.vnet_name,
            resource_group_name=ctx.resource_group,
            location=ctx.region,
            address_space=network.AddressSpaceArgs(address_prefixes=[plan.address_space]),
            tags=ctx.tags(),
            opts=ctx.opts(ignore_changes=["subnets"]),
        )
        subnet = network.Subnet(
            ctx.child("snet-pe"),
            subnet_name="private-endpoints",
            virtual_network_name=vnet.name,
            resource_group_name=ctx.resource_group,
            address_prefix=plan.endpoint_prefix,
            private_endpoint_network_policies="Enabled",
            default_outbound_access=False,
            opts=ctx.opts(),
        )
        vnet_id, subnet_id = vnet.id, subnet.id
    zones: dict[str, privatedns.PrivateZone] = {}
    for zone_name in sorted({z for names in ZONES.values() for z in names}):
        label = zone_name.split(".")[1]
        zone = privatedns.PrivateZone(
            ctx.child(f"dns-{label}"),
            private_zone_name=zone_name,
            resource_group_name=ctx.resource_group,
            location=GLOBAL,
            tags=ctx.tags(),
            opts=ctx.opts(),
        )
        privatedns.VirtualNetworkLink(
            ctx.child(f"dns-{label}-link"),
            virtual_network_link_name=f"{ctx.name}-{label}",
            private_zone_name=zone.name,
            resource_group_name=ctx.resource_group,
            location=GLOBAL,
            registration_enabled=False,
            virtual_network=privatedns.SubResourceArgs(id=vnet_id),
            opts=ctx.opts(),
        )
        zones[zone_name] = zone
    return Network(vnet_id=vnet_id, subnet_id=subnet_id, zones=zones, vnet=vnet, subnet=subnet)


def private_endpoint(
    ctx: Context,
    net: Network,
    suffix: str,
    target_id: pulumi.Input[str],
    group: str,
) -> network.PrivateEndpoint:
    """A private endpoint to one sub-resource, registered in its private DNS zones."""
    name = f"pe-{ctx.name}-{suffix}"
    endpoint = network.PrivateEndpoint(
        ctx.child(f"pe-{suffix}"),
        private_endpoint_name=name,
        resource_group_name=ctx.resource_group,
        location=ctx.region,
        subnet=network.SubnetArgs(id=net.subnet_id),
        private_link_service_connections=[
            network.PrivateLinkServiceConnectionArgs(
                name=name, private_link_service_id=target_id, group_ids=[group]
            )
        ],
        tags=ctx.tags(),
        opts=ctx.opts(),
    )
    network.PrivateDnsZoneGroup(
        ctx.child(f"pe-{suffix}-dns"),
        private_dns_zone_group_name="default",
        private_endpoint_name=endpoint.name,
        resource_group_name=ctx.resource_group,
        private_dns_zone_configs=[
            network.PrivateDnsZoneConfigArgs(
                name=zone_name.replace(".", "-"), private_dns_zone_id=net.zones[zone_name].id
            )
            for zone_name in ZONES[group]
        ],
        opts=ctx.opts(),
    )
    return endpoint


# Container Apps: a workload profiles environment's subnet is dedicated to it, delegated to this
# service and /27 or larger (a Consumption-only one: /23, undelegated). Microsoft Learn,
# "Virtual network configuration", learn.microsoft.com/azure/container-apps/custom-virtual-networks.
CONTAINER_APPS_DELEGATION = "Microsoft.App/environments"


def container_apps_subnet(
    ctx: Context,
    net: Network,
    prefix: pulumi.Input[str],
) -> network.Subnet:
    """A subnet of the created VNet delegated to a Container Apps environment (nothing else)."""
    assert net.vnet is not None
    return network.Subnet(
        ctx.child("snet-red-team"),
        subnet_name="red-team",
        virtual_network_name=net.vnet.name,
        resource_group_name=ctx.resource_group,
        address_prefix=prefix,
        delegations=[
            network.DelegationArgs(name="container-apps", service_name=CONTAINER_APPS_DELEGATION)
        ],
        opts=ctx.opts(),
    )

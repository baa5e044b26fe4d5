"""The private network path to the endpoint: Private Service Connect or VPC peering.

A created VPC has no auto-mode subnets, one regional subnet with Private Google Access and flow
logs, and nothing else. With Private Service Connect, Vertex AI creates the endpoint's address
in that network itself (PSC automation); with peering, Service Networking gets a reserved range.
An endpoint is served on a public address only when ``security.network.public`` is true.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_gcp as gcp

from inferstack.vertex.context import Context


@dataclass(frozen=True)
class EndpointNetwork:
    peered_network: pulumi.Output[str] | None = None
    """projects/<number>/global/networks/<name> for a peered endpoint."""
    psc_network: pulumi.Output[str] | None = None
    """projects/<id>/global/networks/<name> where PSC automation creates the address."""
    ready: list[pulumi.Resource] = field(default_factory=list)


def endpoint_network(ctx: Context) -> EndpointNetwork:
    plan = ctx.plan.network
    if plan.mode == "public":
        return EndpointNetwork()
    ready: list[pulumi.Resource] = []
    if plan.create:
        network = gcp.compute.Network(
            ctx.child("vpc"),
            name=plan.network,
            project=ctx.project,
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            description=f"Private network of {ctx.name}",
            opts=ctx.opts(),
        )
        subnet = gcp.compute.Subnetwork(
            ctx.child("subnet"),
            name=f"{ctx.name}-{ctx.region}",
            project=ctx.project,
            region=ctx.region,
            network=network.id,
            ip_cidr_range=plan.subnet_cidr,
            private_ip_google_access=True,
            log_config=gcp.compute.SubnetworkLogConfigArgs(
                aggregation_interval="INTERVAL_5_SEC",
                flow_sampling=0.5,
                metadata="INCLUDE_ALL_METADATA",
            ),
            opts=ctx.opts(),
        )
        ready += [network, subnet]
        network_id: pulumi.Input[str] = network.id
    else:
        network_id = _full(ctx.project, plan.network)
    short = plan.network.rsplit("/", 1)[-1]
    if plan.mode == "peering":
        if plan.create:
            address = gcp.compute.GlobalAddress(
                ctx.child("peering-range"),
                name=f"{ctx.name}-vertex-peering",
                project=ctx.project,
                network=network_id,
                purpose="VPC_PEERING",
                address_type="INTERNAL",
                prefix_length=plan.peering_prefix_length,
                opts=ctx.opts(),
            )
            peering = gcp.servicenetworking.Connection(
                ctx.child("peering"),
                network=network_id,
                service="servicenetworking.googleapis.com",
                reserved_peering_ranges=[address.name],
                opts=ctx.opts(),
            )
            ready += [address, peering]
        # Vertex AI names a peered network by project number.
        peered = ctx.project_number.apply(lambda n: f"projects/{n}/global/networks/{short}")
        return EndpointNetwork(peered_network=peered, ready=ready)
    psc = pulumi.Output.from_input(network_id).apply(lambda _: _full(ctx.project, plan.network))
    return EndpointNetwork(psc_network=psc, ready=ready)


def direct_vpc_egress(ctx: Context) -> dict[str, Any] | None:
    """Direct VPC egress of a Cloud Run service or job into the endpoint's network, all traffic
    routed there (so an internal-ingress service is reached as internal); None for a public
    endpoint. Services and jobs take the same shape (``vpc_access``); without a subnet, Cloud
    Run uses the network's subnet of the same name.
    """
    network = ctx.plan.network
    if network.mode == "public":
        return None
    interface: dict[str, str] = {"network": network.network}
    subnet = network.subnet or (f"{ctx.name}-{ctx.region}" if network.create else None)
    if subnet is not None:
        interface["subnetwork"] = subnet
    return {"network_interfaces": [interface], "egress": "ALL_TRAFFIC"}


def _full(project: str, network: str) -> str:
    return (
        network
        if network.startswith("projects/")
        else (f"projects/{project}/global/networks/{network}")
    )

"""Where the endpoint's instances attach: your private subnets, or a small private VPC.

The VPC created when no subnets are given has private subnets in two availability zones, a
locked-down default security group, and an S3 gateway endpoint for the model download. A
Hub download needs the internet, so only then does it get one NAT gateway (and the public
subnet and internet gateway a NAT gateway needs). Nothing can connect in: SageMaker's
invocation path does not go through these interfaces, so the security group has no ingress.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from inferstack.aws.context import Context

VPC_CIDR = "10.80.0.0/16"
PRIVATE_CIDRS = ("10.80.0.0/20", "10.80.16.0/20")
PUBLIC_CIDR = "10.80.32.0/24"
ZONES = ("a", "b")
ANYWHERE = "0.0.0.0/0"


@dataclass(frozen=True)
class Network:
    subnet_ids: list[pulumi.Input[str]]
    security_group_ids: list[pulumi.Input[str]]
    ready: list[pulumi.Resource]  # routes and endpoints the model download depends on
    vpc_id: pulumi.Input[str] | None = None  # the VPC the stack created, known after deploy
    s3_prefix_list_id: pulumi.Input[str] | None = None  # its S3 gateway endpoint's prefix list


def endpoint_network(ctx: Context) -> Network:
    plan = ctx.plan
    if not plan.create_network:
        groups: list[pulumi.Input[str]] = list(plan.security_group_ids)
        if not groups:
            assert plan.vpc_id is not None
            egress = [https_egress("HTTPS to S3 and the image registry", cidr_blocks=[ANYWHERE])]
            groups = [_endpoint_group(ctx, plan.vpc_id, egress).id]
        return Network(list(plan.subnet_ids), groups, [])
    return _private_vpc(ctx)


def _private_vpc(ctx: Context) -> Network:
    vpc = aws.ec2.Vpc(
        ctx.child("vpc"),
        cidr_block=VPC_CIDR,
        enable_dns_support=True,
        enable_dns_hostnames=True,
        region=ctx.region,
        tags=ctx.tags(Name=ctx.child("vpc")),
        opts=ctx.opts(),
    )
    # Adopt the default security group and strip its rules, so nothing lands in it by mistake.
    aws.ec2.DefaultSecurityGroup(
        ctx.child("default-sg"),
        vpc_id=vpc.id,
        ingress=[],
        egress=[],
        region=ctx.region,
        tags=ctx.tags(Name=ctx.child("default-sg-unused")),
        opts=ctx.opts(),
    )
    routes: list[Any] = []
    ready: list[pulumi.Resource] = []
    if ctx.plan.needs_internet:
        nat = _nat_gateway(ctx, vpc)
        routes.append({"cidr_block": ANYWHERE, "nat_gateway_id": nat.id})
        ready.append(nat)
    table = aws.ec2.RouteTable(
        ctx.child("private-routes"),
        vpc_id=vpc.id,
        routes=routes,
        region=ctx.region,
        tags=ctx.tags(Name=ctx.child("private")),
        opts=ctx.opts(),
    )
    subnets = []
    for zone, cidr in zip(ZONES, PRIVATE_CIDRS, strict=True):
        subnet = aws.ec2.Subnet(
            ctx.child(f"private-{zone}"),
            vpc_id=vpc.id,
            cidr_block=cidr,
            availability_zone=f"{ctx.region}{zone}",
            map_public_ip_on_launch=False,
            region=ctx.region,
            tags=ctx.tags(Name=ctx.child(f"private-{zone}"), tier="private"),
            opts=ctx.opts(),
        )
        ready.append(
            aws.ec2.RouteTableAssociation(
                ctx.child(f"private-{zone}-routes"),
                subnet_id=subnet.id,
                route_table_id=table.id,
                region=ctx.region,
                opts=ctx.opts(),
            )
        )
        subnets.append(subnet)
    s3 = aws.ec2.VpcEndpoint(
        ctx.child("s3-endpoint"),
        vpc_id=vpc.id,
        service_name=f"com.amazonaws.{ctx.region}.s3",
        vpc_endpoint_type="Gateway",
        route_table_ids=[table.id],
        region=ctx.region,
        tags=ctx.tags(Name=ctx.child("s3")),
        opts=ctx.opts(),
    )
    ready.append(s3)
    if ctx.plan.needs_internet:
        egress = [https_egress("HTTPS to the model hub through the NAT gateway", [ANYWHERE])]
    else:
        egress = [
            https_egress(
                "HTTPS to S3 through the gateway endpoint", prefix_list_ids=[s3.prefix_list_id]
            )
        ]
    group = _endpoint_group(ctx, vpc.id, egress)
    return Network(
        [subnet.id for subnet in subnets],
        [group.id],
        ready,
        vpc_id=vpc.id,
        s3_prefix_list_id=s3.prefix_list_id,
    )


def _nat_gateway(ctx: Context, vpc: aws.ec2.Vpc) -> aws.ec2.NatGateway:
    gateway = aws.ec2.InternetGateway(
        ctx.child("igw"),
        vpc_id=vpc.id,
        region=ctx.region,
        tags=ctx.tags(Name=ctx.child("igw")),
        opts=ctx.opts(),
    )
    public = aws.ec2.Subnet(
        ctx.child("nat-subnet"),
        vpc_id=vpc.id,
        cidr_block=PUBLIC_CIDR,
        availability_zone=f"{ctx.region}{ZONES[0]}",
        map_public_ip_on_launch=False,
        region=ctx.region,
        tags=ctx.tags(Name=ctx.child("nat"), tier="nat"),
        opts=ctx.opts(),
    )
    public_routes = aws.ec2.RouteTable(
        ctx.child("nat-routes"),
        vpc_id=vpc.id,
        routes=[{"cidr_block": ANYWHERE, "gateway_id": gateway.id}],
        region=ctx.region,
        tags=ctx.tags(Name=ctx.child("nat")),
        opts=ctx.opts(),
    )
    aws.ec2.RouteTableAssociation(
        ctx.child("nat-subnet-routes"),
        subnet_id=public.id,
        route_table_id=public_routes.id,
        region=ctx.region,
        opts=ctx.opts(),
    )
    address = aws.ec2.Eip(
        ctx.child("nat-ip"),
        domain="vpc",
        region=ctx.region,
        tags=ctx.tags(Name=ctx.child("nat")),
        opts=ctx.opts(),
    )
    return aws.ec2.NatGateway(
        ctx.child("nat"),
        allocation_id=address.id,
        subnet_id=public.id,
        region=ctx.region,
        tags=ctx.tags(Name=ctx.child("nat")),
        opts=ctx.opts(depends_on=[gateway]),
    )


def https_egress(
    description: str,
    cidr_blocks: list[str] | None = None,
    prefix_list_ids: list[pulumi.Input[str]] | None = None,
) -> Any:
    """An egress rule: HTTPS (tcp 443) to ``cidr_blocks`` and/or ``prefix_list_ids``."""
    rule: dict[str, Any] = {
        "description": description,
        "protocol": "tcp",
        "from_port": 443,
        "to_port": 443,
    }
    if cidr_blocks:
        rule["cidr_blocks"] = cidr_blocks
    if prefix_list_ids:
        rule["prefix_list_ids"] = prefix_list_ids
    return rule


def outbound_group(
    ctx: Context, name: str, vpc_id: pulumi.Input[str], egress: list[Any], *, description: str
) -> aws.ec2.SecurityGroup:
    """A security group of ``description``'s clients: ``egress`` out, no inbound traffic.

    Its Pulumi name is ``<name>-sg``, its ``Name`` tag the child name of ``name``.
    """
    return aws.ec2.SecurityGroup(
        ctx.child(f"{name}-sg"),
        description=f"inferstack {ctx.name}: {description}; no inbound traffic",
        vpc_id=vpc_id,
        ingress=[],
        egress=egress,
        region=ctx.region,
        tags=ctx.tags(Name=ctx.child(name)),
        opts=ctx.opts(),
    )


def _endpoint_group(
    ctx: Context, vpc_id: pulumi.Input[str], egress: list[Any]
) -> aws.ec2.SecurityGroup:
    return outbound_group(
        ctx, "endpoint", vpc_id, egress, description="SageMaker endpoint instances"
    )


# What a Fargate task in the created VPC calls: ECR (the image's manifest and layers, which S3
# serves through the gateway endpoint), CloudWatch Logs (the awslogs driver), Lambda (the
# guard gateway). Task credentials come from the ECS agent, not STS. AWS: "Amazon ECR interface
# VPC endpoints" (ecr.api, ecr.dkr, logs and the S3 gateway endpoint for Fargate tasks).
TASK_ENDPOINT_SERVICES = ("ecr.api", "ecr.dkr", "logs", "lambda")


def task_security_groups(ctx: Context, net: Network, purpose: str) -> list[pulumi.Input[str]]:
    """Security groups of a Fargate task in the endpoint's subnets; no inbound traffic.

    In the VPC the stack creates: HTTPS to the interface endpoints of
    :data:`TASK_ENDPOINT_SERVICES` (created here, admitting HTTPS from this group only) and to
    S3 through the gateway endpoint, nothing else. In subnets you bring: HTTPS out, your
    routing takes it to the APIs; with only ``security_group_ids`` given, those groups.
    """
    plan = ctx.plan
    if plan.create_network:
        assert net.vpc_id is not None and net.s3_prefix_list_id is not None
        egress = [
            https_egress("HTTPS to the interface endpoints", cidr_blocks=[VPC_CIDR]),
            https_egress(
                "HTTPS to S3 through the gateway endpoint",
                prefix_list_ids=[net.s3_prefix_list_id],
            ),
        ]
        group = outbound_group(ctx, purpose, net.vpc_id, egress, description=f"{purpose} task")
        interface_endpoints(
            ctx,
            net,
            group,
            group=purpose,
            services=TASK_ENDPOINT_SERVICES,
            client_name="the task",
            rule=f"HTTPS from the {purpose} task",
        )
        return [group.id]
    if plan.security_group_ids or plan.vpc_id is None:
        return list(plan.security_group_ids)
    egress = [https_egress("HTTPS to the AWS APIs", cidr_blocks=[ANYWHERE])]
    return [outbound_group(ctx, purpose, plan.vpc_id, egress, description=f"{purpose} task").id]


def interface_endpoints(
    ctx: Context,
    net: Network,
    client: aws.ec2.SecurityGroup,
    *,
    group: str,
    services: Sequence[str],
    client_name: str,
    rule: str,
) -> None:
    """Interface VPC endpoints (private DNS) for ``services`` in the created VPC, behind a group
    of their own, ``<group>-endpoints-sg``, that admits HTTPS from ``client`` and nothing else."""
    assert net.vpc_id is not None
    admitted = aws.ec2.SecurityGroup(
        ctx.child(f"{group}-endpoints-sg"),
        description=f"inferstack {ctx.name}: {group} API endpoints; HTTPS from {client_name} only",
        vpc_id=net.vpc_id,
        ingress=[
            {
                "description": rule,
                "protocol": "tcp",
                "from_port": 443,
                "to_port": 443,
                "security_groups": [client.id],
            }
        ],
        egress=[],
        region=ctx.region,
        tags=ctx.tags(Name=ctx.child(f"{group}-endpoints")),
        opts=ctx.opts(),
    )
    for service in services:
        aws.ec2.VpcEndpoint(
            ctx.child(f"{service.replace('.', '-')}-endpoint"),
            vpc_id=net.vpc_id,
            service_name=f"com.amazonaws.{ctx.region}.{service}",
            vpc_endpoint_type="Interface",
            private_dns_enabled=True,
            subnet_ids=net.subnet_ids,
            security_group_ids=[admitted.id],
            region=ctx.region,
            tags=ctx.tags(Name=ctx.child(service)),
            opts=ctx.opts(),
        )

"""Where the gateway Lambda runs: the endpoint's private subnets, with a way to the runtime APIs.

The Lambda calls two AWS APIs, the SageMaker runtime and the Bedrock runtime, and with
``observability.tracing.headers_secret`` a third, Secrets Manager (once per cold start, for the
trace exporter's headers). In the private VPC the stack creates (no internet unless the weights
come from the Hub), it reaches them through interface VPC endpoints with private DNS, which
admit HTTPS from the gateway's security group only; the gateway's group sends HTTPS into the
VPC and nowhere else. In subnets you bring, the gateway's group allows HTTPS out, and your
routing (NAT or your own endpoints) takes it to the APIs; with only ``security_group_ids``
given, those groups are used.

The traces' OTLP endpoint (``observability.tracing.endpoint``) is not an AWS API: in the VPC
the stack creates, the gateway's group sends HTTPS into the VPC only (even when a Hub download
gives the model a NAT gateway), so the endpoint must be reachable inside the VPC, on port 443,
under a name that resolves there: a collector or Langfuse behind an internal load balancer, an
interface endpoint to a PrivateLink service, or a peered network. The spec check refuses an
endpoint on another port wherever the stack makes the gateway's group
(``inferstack.aws.plan``); an endpoint the Lambda cannot reach costs a sampled request at most
the export timeout and one log line, never the request.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from inferstack.aws.context import Context
from inferstack.aws.network import (
    ANYWHERE,
    VPC_CIDR,
    Network,
    https_egress,
    interface_endpoints,
    outbound_group,
)

RUNTIME_SERVICES = ("sagemaker.runtime", "bedrock-runtime")
# The trace exporter's headers secret, read at a cold start.
SECRETS_SERVICE = "secretsmanager"


def endpoint_services(ctx: Context) -> tuple[str, ...]:
    """The AWS APIs the gateway calls, as interface endpoint service names."""
    tracing = ctx.spec.observability.tracing
    if tracing is not None and tracing.headers_secret is not None:
        return (*RUNTIME_SERVICES, SECRETS_SERVICE)
    return RUNTIME_SERVICES


def gateway_security_groups(ctx: Context, net: Network) -> list[pulumi.Input[str]]:
    plan = ctx.plan
    if plan.create_network:
        assert net.vpc_id is not None
        egress = [https_egress("HTTPS to the runtime API endpoints", [VPC_CIDR])]
        group = _group(ctx, net.vpc_id, egress)
        _runtime_endpoints(ctx, net, group)
        return [group.id]
    if plan.security_group_ids or plan.vpc_id is None:
        return list(plan.security_group_ids)
    return [_group(ctx, plan.vpc_id, [https_egress("HTTPS to the runtime APIs", [ANYWHERE])]).id]


def _group(ctx: Context, vpc_id: pulumi.Input[str], egress: list[Any]) -> aws.ec2.SecurityGroup:
    return outbound_group(ctx, "gateway", vpc_id, egress, description="the guard gateway Lambda")


def _runtime_endpoints(ctx: Context, net: Network, gateway: aws.ec2.SecurityGroup) -> None:
    interface_endpoints(
        ctx,
        net,
        gateway,
        group="runtime",
        services=endpoint_services(ctx),
        client_name="the gateway",
        rule="HTTPS from the guard gateway",
    )

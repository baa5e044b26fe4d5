"""Vertex AI settings beside the DeploymentSpec: the optional ``inferstack:vertex`` config object.

The spec says what to serve and how securely (key, network, replicas); these say where in
Google Cloud it lands: the project, the billing account the budget watches, how the private
endpoint is reached and how much traffic the on-demand fallback of a spot deployment takes.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import Field, field_validator

from inferstack.args import ComponentArgs


class VertexArgs(ComponentArgs):
    config_key = "inferstack:vertex"

    project: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")] | None = None
    """Project id; default: the ``gcp:project`` config value."""
    billing_account: (
        Annotated[str, Field(pattern=r"^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$")] | None
    ) = None
    """Billing account id (``XXXXXX-XXXXXX-XXXXXX``) the budget is created on; required with
    ``cost.monthly_budget_usd``."""
    private_endpoint: Literal["psc", "peering"] = "psc"
    """How callers reach the endpoint privately: Private Service Connect (an endpoint in the
    network, created by Vertex AI) or VPC peering through Service Networking."""
    subnet_cidr: str = "10.64.0.0/24"
    """Range of the subnet created when ``security.network.vpc_id`` is not given."""
    peering_prefix_length: Annotated[int, Field(ge=8, le=24)] = 16
    """Size of the range reserved for Service Networking (``private_endpoint: peering``)."""
    fallback_share: Annotated[int, Field(ge=0, le=50)] = 20
    """With ``compute.spot``: percent of traffic served by an on-demand deployment on the same
    endpoint; 0 serves spot only."""
    fallback_replicas: Annotated[int, Field(ge=1, le=100)] = 1
    """With ``compute.spot``: replicas of the on-demand fallback deployment."""
    latency_threshold_ms: Annotated[int, Field(ge=100, le=600_000)] = 30_000
    """p99 prediction latency that raises the latency alert."""
    error_rate_threshold: Annotated[float, Field(gt=0, le=100)] = 1.0
    """Failed predictions per second that raise the error alert."""
    force_destroy: bool = False
    """Let ``pulumi destroy`` delete buckets and datasets that still hold data (dev only)."""
    gateway_image: Annotated[str, Field(min_length=1, max_length=512)] | None = None
    """The LiteLLM proxy image of the gateway, by digest (``<image>@sha256:<digest>``);
    default: the release pinned in inferstack (docs/targets/vertex.md). A mirror in Artifact
    Registry is pulled as given; any other registry through a CMEK remote repository."""

    @field_validator("subnet_cidr")
    @classmethod
    def _private_range(cls, value: str) -> str:
        try:
            network = ipaddress.ip_network(value, strict=True)
        except ValueError:
            raise ValueError(f"'{value}' is not a CIDR block such as 10.64.0.0/24") from None
        if not network.is_private or network.version != 4:
            raise ValueError(f"'{value}' is not a private IPv4 range")
        return value

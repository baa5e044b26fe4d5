"""Azure ML settings beside the DeploymentSpec: the optional ``inferstack:azureml`` config object.

The spec says what to serve and how securely; these say where in the subscription it lives.
Every default is the secure one: a new resource group, VNet, vault and key, all private.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator

from inferstack.args import ComponentArgs

_RESOURCE_GROUP = re.compile(r"^[-\w.()]{1,89}[-\w()]$")
_SUBNET_ID = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Network/"
    r"virtualNetworks/[^/]+/subnets/[^/]+$",
    re.IGNORECASE,
)


class AzureMLArgs(ComponentArgs):
    config_key = "inferstack:azureml"

    resource_group: str | None = None
    """An existing resource group to deploy into; default: create ``rg-<name>``."""
    subnet_id: str | None = None
    """An existing subnet for the private endpoints (full ARM id); default: a VNet is created.
    Private DNS zones are still created and linked to that subnet's VNet."""
    address_space: str = "10.42.0.0/16"
    """Address space of the created VNet (ignored with subnet_id)."""
    private_endpoint_prefix: str = "10.42.1.0/24"
    """Subnet of the created VNet that holds the private endpoints."""
    key_rotation_days: Annotated[int, Field(ge=7, le=730)] = 90
    """Days after which a created key rotates (and expiry is twice that)."""
    soft_delete_retention_days: Annotated[int, Field(ge=7, le=90)] = 90
    """Days a deleted vault or its keys stay recoverable."""
    log_analytics_sku: str = "PerGB2018"
    """Pricing tier of the Log Analytics workspace."""
    expected_request_seconds: Annotated[float, Field(gt=0, le=180)] = 10.0
    """Typical seconds per request, converting scaling.target (concurrency) into the requests
    per minute Azure Monitor publishes (Little's law: rate = concurrency / latency)."""
    request_timeout_seconds: Annotated[int, Field(ge=1, le=180)] = 120
    """Scoring request timeout; managed online endpoints allow at most 180 seconds."""
    deployment_name: str = "blue"
    """Name of the online deployment behind the endpoint (blue/green by name)."""
    gateway_sku: Literal["Developer", "Premium"] | None = None
    """API Management tier of the gateway (classic, internal VNet); default: Premium in prod,
    Developer (no SLA) elsewhere."""
    gateway_capacity: Annotated[int, Field(ge=1, le=12)] = 1
    """Premium scale units of the gateway (each priced; Developer has one)."""
    gateway_prefix: str = "10.42.2.0/27"
    """Subnet of the created VNet that API Management is injected into."""
    gateway_subnet_id: str | None = None
    """An existing dedicated subnet for API Management (required with subnet_id)."""
    red_team_prefix: str = "10.42.3.0/27"
    """Subnet of the created VNet for the red-team scans' Container Apps environment
    (workload profiles: /27 or larger, delegated to Microsoft.App/environments)."""
    red_team_subnet_id: str | None = None
    """An existing empty subnet for that environment (required with subnet_id and
    security.red_team), delegated to Microsoft.App/environments, /27 or larger."""
    gateway_audience: str = "https://ml.azure.com"
    """Audience of the Entra tokens callers present to the gateway; default: the one Azure ML
    endpoints accept, so callers keep their token and change only the URL."""
    gateway_client_ids: list[str] = Field(default_factory=list)
    """Entra application (client) ids admitted by the gateway; default: any in the tenant."""
    gateway_tokens_per_minute: Annotated[int, Field(ge=100, le=100_000_000)] = 100_000
    """LLM tokens (prompt and completion) one caller may use per minute (llm-token-limit)."""
    publisher_email: str | None = None
    """API Management's publisher email; default: observability.alarms.email."""

    @field_validator("resource_group")
    @classmethod
    def _group(cls, value: str | None) -> str | None:
        if value is not None and not _RESOURCE_GROUP.match(value):
            raise ValueError(f"'{value}' is not a resource group name")
        return value

    @field_validator("subnet_id", "gateway_subnet_id", "red_team_subnet_id")
    @classmethod
    def _subnet(cls, value: str | None) -> str | None:
        if value is not None and not _SUBNET_ID.match(value):
            raise ValueError(
                f"'{value}' is not a subnet id; use /subscriptions/<id>/resourceGroups/<rg>/"
                "providers/Microsoft.Network/virtualNetworks/<vnet>/subnets/<subnet>"
            )
        return value

    @field_validator("deployment_name")
    @classmethod
    def _deployment(cls, value: str) -> str:
        if not re.match(r"^[a-zA-Z0-9][a-zA-Z0-9-]{0,31}$", value):
            raise ValueError(f"'{value}' is not a deployment name (letters, digits, '-', <= 32)")
        return value

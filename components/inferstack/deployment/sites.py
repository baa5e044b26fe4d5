"""Where a Jetson fleet runs: sites with their own k3s cluster, registry mirror and telemetry.

Pure pydantic, like :mod:`inferstack.deployment.fleet`, which holds the device groups, cohorts
and variants that run at these sites; the field checks both use live here.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_REGISTRY = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?$")
_CONFIG_KEY = re.compile(r"^([A-Za-z][\w-]*:)?[A-Za-z][\w.-]*$")
Name = Annotated[str, Field(min_length=1, max_length=30)]


class Section(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, use_attribute_docstrings=True
    )


def dns_label(value: str) -> str:
    if not _DNS_LABEL.match(value):
        raise ValueError(
            f"'{value}' must be a DNS label: lowercase letters, digits and '-', starting with a "
            "letter"
        )
    return value


def _cidr(value: str) -> str:
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f"'{value}' is not a CIDR block (e.g. 10.20.0.5/32)") from None
    if net.prefixlen == 0:
        raise ValueError(f"'{value}' admits the whole internet; give the host's own network")
    return value


def _url_port(url: str) -> int:
    parts = urlsplit(url)
    if parts.port is not None:
        return parts.port
    return 443 if parts.scheme == "https" else 80


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"'{value}' is not an http(s) URL")
    return value.rstrip("/")


class MirrorSpec(Section):
    """A registry (and optionally a model server) on the site's own network."""

    registry: Annotated[str, Field(min_length=1, max_length=253)]
    """Registry host[:port] serving the fleet's images; image references are rewritten to it."""
    models_url: str | None = None
    """Hugging Face compatible endpoint on the site serving model files (sets HF_ENDPOINT)."""
    cidr: str
    """Network of the mirror; the only private address workloads may reach besides telemetry."""

    @field_validator("registry")
    @classmethod
    def _registry(cls, value: str) -> str:
        if not _REGISTRY.match(value):
            raise ValueError(f"'{value}' is not a registry host[:port] (no scheme, no path)")
        return value

    @field_validator("models_url")
    @classmethod
    def _models_url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)

    @field_validator("cidr")
    @classmethod
    def _network(cls, value: str) -> str:
        return _cidr(value)

    @property
    def ports(self) -> list[int]:
        """Ports workloads reach on the mirror: the registry's and the model server's."""
        registry_port = int(self.registry.rsplit(":", 1)[1]) if ":" in self.registry else 443
        ports = {registry_port}
        if self.models_url is not None:
            ports.add(_url_port(self.models_url))
        return sorted(ports)


class TelemetrySpec(Section):
    """Where the sites send metrics; the only internet address workloads may reach."""

    endpoint: str
    """URL of the telemetry receiver (Prometheus remote-write or OTLP)."""
    cidr: str
    """Network of the receiver, allowed in the egress policy."""

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        return _http_url(value)

    @field_validator("cidr")
    @classmethod
    def _network(cls, value: str) -> str:
        return _cidr(value)

    @property
    def port(self) -> int:
        return _url_port(self.endpoint)


class SiteSpec(Section):
    """One location with its own k3s cluster: a clinic, a plant, a line."""

    name: Name
    """DNS label naming the site; resources and rendered folders carry it."""
    context: str | None = None
    """kubeconfig context that reaches the site's k3s API (from the operator's kubeconfig)."""
    kubeconfig_secret: str | None = None
    """Pulumi secret config key holding the site's kubeconfig (`kubeconfig-clinic-a`, or
    `namespace:key`); set with `pulumi config set --secret`."""
    link_mbps: Annotated[float, Field(gt=0, le=100_000)] = 100
    """Bandwidth in Mbit/s between the devices and where weights come from (the mirror when
    given); sizes the startup probe budget."""
    mirror: MirrorSpec | None = None
    """Registry and model mirror on the site's network; images are pulled from it when given."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return dns_label(value)

    @field_validator("kubeconfig_secret")
    @classmethod
    def _config_key(cls, value: str | None) -> str | None:
        if value is not None and not _CONFIG_KEY.match(value):
            raise ValueError(f"'{value}' is not a Pulumi config key (key or namespace:key)")
        return value

    @model_validator(mode="after")
    def _one_way_in(self) -> SiteSpec:
        if (self.context is None) == (self.kubeconfig_secret is None):
            raise ValueError(
                "give exactly one of context (a kubeconfig context) or kubeconfig_secret "
                "(a Pulumi secret config key holding the kubeconfig)"
            )
        return self

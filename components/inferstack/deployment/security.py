"""Encryption, network exposure, authentication and abuse limits."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from inferstack.deployment.base import (
    PRIVATE_NETWORKS,
    Section,
    is_digest_pinned,
)
from inferstack.deployment.types import (
    Auth,
    GuardProvider,
    OutputScreening,
    OwaspRisk,
    PiiAction,
    RedTeamTarget,
)


class EncryptionSpec(Section):
    kms_key: Annotated[str, Field(min_length=1)] = "create"
    """'create' a customer-managed key with rotation, or an existing key id/ARN/URI."""

    @property
    def create_key(self) -> bool:
        return self.kms_key == "create"


class NetworkSpec(Section):
    public: bool = False
    """Admit callers outside private networks (needs allowed_cidrs naming them; Vertex AI
    filters no addresses, so there IAM is the only gate and the baseline pack flags it)."""
    allowed_cidrs: list[str] = Field(default_factory=list)
    """Caller networks admitted; default: the private ranges (RFC 1918, fc00::/7).
    Public ranges need public: true; 0.0.0.0/0 is refused; refused on Vertex AI (no IP
    filter)."""
    vpc_id: str | None = None
    """Existing VPC/VNet/network for cloud targets."""
    subnet_ids: list[str] = Field(default_factory=list)
    """Private subnets the endpoint runs in."""
    security_group_ids: list[str] = Field(default_factory=list)
    """Extra security groups (AWS)."""
    hostname: str | None = None
    """DNS name of the endpoint (Kubernetes ingress host)."""
    tls_secret_name: str | None = None
    """Kubernetes TLS secret for the ingress; default <name>-tls."""
    ingress_class_name: str = "nginx"
    """Kubernetes IngressClass of the gateway."""

    @field_validator("allowed_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                net = ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"'{cidr}' is not a CIDR block (e.g. 10.0.0.0/16)") from None
            if net.prefixlen == 0:
                raise ValueError(
                    f"'{cidr}' admits the whole internet; list the callers' networks instead"
                )
        return value

    @model_validator(mode="after")
    def _private_unless_public(self) -> NetworkSpec:
        if not self.public:
            for cidr in self.allowed_cidrs:
                if not ipaddress.ip_network(cidr, strict=False).is_private:
                    raise ValueError(
                        f"'{cidr}' is a public network, but public is false; "
                        "set public: true to admit it"
                    )
        return self

    @property
    def admitted_cidrs(self) -> list[str]:
        """Who may call the endpoint: the allowed networks, else the private ranges."""
        return list(self.allowed_cidrs) or list(PRIVATE_NETWORKS)


class RateLimitSpec(Section):
    requests_per_second: Annotated[int, Field(ge=1, le=100_000)] = 20
    """Sustained requests per second per client."""
    burst: Annotated[int, Field(ge=1, le=200_000)] = 40
    """Requests allowed in a burst above the rate."""

    @model_validator(mode="after")
    def _burst_covers_rate(self) -> RateLimitSpec:
        if self.burst < self.requests_per_second:
            raise ValueError("burst must be at least requests_per_second")
        return self


class GuardChecksSpec(Section):
    prompt_injection: bool = True
    """Screen prompts for injection and jailbreak attempts (OWASP prompt injection)."""
    pii: PiiAction = "block"
    """Personal data in prompts and responses: block the request, anonymize it, or off."""
    secrets: bool = True
    """Block credentials and keys in prompts and responses."""
    denied_topics: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list
    )
    """Topics the guard refuses, in plain words (e.g. 'medical diagnosis')."""
    max_input_tokens: Annotated[int, Field(ge=16, le=1_000_000)] | None = 4096
    """Longest prompt the guard admits, in tokens; None: the model's context alone limits it."""


class GuardSpec(Section):
    input: bool = True
    """Screen every prompt before it reaches the model (on by default in every environment;
    off only for throwaway stacks, and the owasp-llm pack refuses it)."""
    output: OutputScreening = "non_streaming"
    """Screen responses: on (streams are buffered), non_streaming (streamed responses pass
    unscreened), or off."""
    checks: GuardChecksSpec = Field(default_factory=GuardChecksSpec)
    """What the guard screens for."""
    provider: GuardProvider = "auto"
    """auto: the target's own (onprem llm-guard, sagemaker bedrock, azureml content-safety,
    vertex model-armor, jetson llama-guard where the module fits it, else none)."""
    max_output_tokens: Annotated[int, Field(ge=1, le=1_000_000)] = 2048
    """Cap on max_tokens the gateway enforces on every request."""
    blocked_message: Annotated[str, Field(min_length=1, max_length=500)] = (
        "This request was blocked by the content policy."
    )
    """What callers receive when the guard blocks a prompt or response."""

    @property
    def enabled(self) -> bool:
        return self.input or self.output != "off"


DEFAULT_SCAN_RISKS: tuple[OwaspRisk, ...] = ("prompt_injection", "sensitive_information_disclosure")
DEFAULT_SCAN_TARGETS: tuple[RedTeamTarget, ...] = ("gateway",)


class RedTeamSpec(Section):
    image: Annotated[str, Field(min_length=1)]
    """The garak image, by digest (build it from docker/garak/Dockerfile and mirror it)."""
    schedule: Annotated[str, Field(min_length=9)] = "0 3 * * *"
    """Cron schedule of the nightly scan (UTC)."""
    weekly_schedule: str | None = None
    """Cron schedule of an optional weekly scan with the broader probe set."""
    risks: list[OwaspRisk] = Field(default_factory=lambda: list(DEFAULT_SCAN_RISKS))
    """OWASP risks whose garak probes the nightly scan runs."""
    probes: list[Annotated[str, Field(pattern=r"^[a-z_]+(\.[A-Za-z0-9_]+)?$")]] = Field(
        default_factory=list
    )
    """Extra garak probes or probe modules (e.g. dan.DanInTheWild) beyond the risks' set."""
    generations: Annotated[int, Field(ge=1, le=20)] = 1
    """Generations per prompt."""
    targets: list[RedTeamTarget] = Field(default_factory=lambda: list(DEFAULT_SCAN_TARGETS))
    """What a scan hits: the gateway (tests the guard) and optionally the model directly."""
    report_retention_days: Annotated[int, Field(ge=1, le=3653)] = 90
    """Days scan reports are kept in the encrypted report store."""

    @field_validator("image")
    @classmethod
    def _pinned(cls, value: str) -> str:
        if not is_digest_pinned(value):
            raise ValueError(
                f"'{value}' is not pinned by digest; use <image>@sha256:<digest> "
                "(build and mirror docker/garak/Dockerfile)"
            )
        return value

    @field_validator("targets")
    @classmethod
    def _gateway_first(cls, value: list[RedTeamTarget]) -> list[RedTeamTarget]:
        if not value:
            raise ValueError("name at least one target: gateway, model")
        return list(dict.fromkeys(value))


class SecuritySpec(Section):
    encryption: EncryptionSpec = Field(default_factory=EncryptionSpec)
    """Customer-managed encryption key."""
    network: NetworkSpec = Field(default_factory=NetworkSpec)
    """Private networking and ingress."""
    auth: Auth | None = None
    """Caller authentication; default per target (onprem oidc, sagemaker iam, azureml entra,
    vertex iam, jetson mtls)."""
    oidc_auth_url: str | None = None
    """oauth2-proxy auth URL for auth: oidc on Kubernetes."""
    oidc_signin_url: str | None = None
    """oauth2-proxy sign-in URL for auth: oidc on Kubernetes."""
    client_ca_secret_name: str | None = None
    """Secret with the client CA for auth: mtls; default <name>-client-ca."""
    rate_limit: RateLimitSpec = Field(default_factory=RateLimitSpec)
    """Per-client rate limit at the front door (OWASP LLM10)."""
    max_request_bytes: Annotated[int, Field(ge=1024, le=10 * 1024 * 1024)] = 65536
    """Largest request body accepted at the front door."""
    guard: GuardSpec = Field(default_factory=GuardSpec)
    """Prompt and response screening in a gateway the model is reachable only through."""
    red_team: RedTeamSpec | None = None
    """Scheduled garak scans of the gateway (and optionally the model); off unless set."""
    allow_insecure: bool = False
    """Switches hardening off for throwaway local clusters; refused in prod and flagged by the
    packs."""

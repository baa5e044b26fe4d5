"""Cluster-side settings of an LLMService that the DeploymentSpec does not describe.

The DeploymentSpec says what to serve and how securely; these say where the cluster keeps
things (namespaces of the ingress controller and of Prometheus, the storage class of the model
cache). Every field has a default that works on a cluster set up as docs/targets/kubernetes.md
describes. Stacks override them with the optional ``inferstack:kubernetes`` config object.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from inferstack.args import ComponentArgs
from inferstack.deployment import SecretRef
from inferstack.kubernetes.patches import CONFIG_KEY, ObjectPatch

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


def _dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise ValueError(f"'{value}' must be a DNS label (lowercase letters, digits, '-')")
    return value


class _Args(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ModelCacheArgs(_Args):
    """Where downloaded weights live.

    ``shared``: one ReadWriteMany PVC for every replica, so the weights are downloaded once
    (needs an RWX storage class: NFS, CephFS, Longhorn RWX...). ``per_pod``: each pod gets its
    own cache on its node (a generic ephemeral volume of ``storage_class_name``, or an
    ``emptyDir`` when no class is given); no RWX storage needed, but every new pod downloads.
    A hostPath cache is not offered: Pod Security ``restricted`` forbids hostPath volumes.
    """

    kind: Literal["shared", "per_pod"] = "shared"
    storage_class_name: str | None = None
    # None: sized from the weights (1.3x + 10 GiB for tokenizer, config and partial files).
    size_gi: Annotated[int, Field(ge=1, le=100_000)] | None = None


# LiteLLM proxy v1.103.0 by its index digest (the same on ghcr.io and docker.io/litellm). Never
# 1.82.7 or 1.82.8: those PyPI releases were compromised (BerriAI/litellm#24518).
GATEWAY_IMAGE = (
    "ghcr.io/berriai/litellm:v1.103.0"
    "@sha256:bd089afdcd35b894b14a93f9743cdc8b591f82da1a38dd43a010a7b0c9de5fd7"
)
# LLM Guard API's last release. Its publisher lists no digest inferstack can pin, so prod (and
# staging with owasp-llm) needs guard_image: the operator's mirror of it, by digest.
GUARD_IMAGE_TAG = "laiyer/llm-guard-api:0.3.16"


class RedTeamArgs(_Args):
    """Where the scheduled garak scans (``security.red_team``) keep their reports.

    Reports name the probes that got through and quote the prompts and answers: the storage
    class must encrypt at rest (an encrypted Ceph RBD pool, LUKS-backed local volumes, a CSI
    driver with encryption on). Naming one is required; the cluster's default class is not
    assumed to encrypt.
    """

    storage_class_name: str | None = None
    size_gi: Annotated[int, Field(ge=1, le=10_000)] = 5
    # Secret with the key the scans present to the gateway (key ``api-key``); None:
    # <name>-red-team/api-key.
    api_key_secret: SecretRef | None = None


class LLMServiceArgs(ComponentArgs):
    """Cluster-side knobs of :class:`inferstack.kubernetes.LLMService`."""

    config_key = CONFIG_KEY

    namespace: str | None = None  # None: the component name
    create_namespace: bool = True
    model_cache: ModelCacheArgs = Field(default_factory=ModelCacheArgs)
    # Default ingress host when security.network.hostname is unset: <name>.<domain>.
    domain: str = "inferstack.internal"
    ingress_namespace: str = "ingress-nginx"
    monitoring_namespace: str = "monitoring"
    prometheus_url: str = "http://prometheus-operated.monitoring.svc.cluster.local:9090"
    # kube-prometheus-stack selects ServiceMonitors and rules by its Helm release label.
    monitoring_labels: dict[str, str] = Field(
        default_factory=lambda: {"release": "kube-prometheus-stack"}
    )
    # Where the model download may go (HTTPS only). 0.0.0.0/0 excludes private ranges.
    download_egress_cidrs: list[str] = Field(default_factory=lambda: ["0.0.0.0/0"])
    # Where the trace collector may export to, on the endpoint's port only (the backend is often
    # on an internal network, so private ranges are not excluded). An in-cluster endpoint
    # (<service>.<namespace>.svc) is reached by its namespace instead.
    trace_export_cidrs: list[str] = Field(default_factory=lambda: ["0.0.0.0/0"])
    # Startup budget assumptions: registry/Hub download and disk-to-GPU load throughput.
    download_mb_per_s: Annotated[float, Field(gt=0, le=100_000)] = 50.0
    load_mb_per_s: Annotated[float, Field(gt=0, le=100_000)] = 400.0
    image_pull_seconds: Annotated[int, Field(ge=0, le=7200)] = 600
    # Key checked by the server when security.auth is api_key; None: <name>-api-key/api-key.
    api_key_secret: SecretRef | None = None
    cluster_issuer: str | None = None  # cert-manager ClusterIssuer for the TLS certificate
    image_pull_secrets: list[str] = Field(default_factory=list)
    priority_class_name: str | None = None
    termination_grace_period_seconds: Annotated[int, Field(ge=30, le=3600)] = 120
    # The gateway (LiteLLM proxy) every request goes through, and the guard it calls.
    gateway_image: Annotated[str, Field(min_length=1, max_length=512)] = GATEWAY_IMAGE
    # None: laiyer/llm-guard-api:0.3.16 where no pack requires digests (see .digests); prod,
    # and staging with owasp-llm, need a mirror by digest.
    guard_image: Annotated[str, Field(min_length=1, max_length=512)] | None = None
    # The key callers give the gateway; None: the api_key secret (auth: api_key), else
    # <name>-gateway-key/master-key.
    gateway_key_secret: SecretRef | None = None
    # The bearer token between the gateway and the guard; None: <name>-guard-token/token.
    guard_token_secret: SecretRef | None = None
    red_team: RedTeamArgs = Field(default_factory=RedTeamArgs)
    # JSON Patch overrides of the children, applied before registration and checked by the
    # policy packs like the rest (docs/targets/kubernetes.md, "Overriding children").
    patches: list[ObjectPatch] = Field(default_factory=list)

    @field_validator("namespace", "ingress_namespace", "monitoring_namespace")
    @classmethod
    def _namespaces(cls, value: str | None) -> str | None:
        return None if value is None else _dns_label(value)

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        if len(value) > 200 or not _DNS_SUBDOMAIN.match(value):
            raise ValueError(f"'{value}' is not a DNS domain")
        return value

    @field_validator("download_egress_cidrs", "trace_export_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=True)
            except ValueError:
                raise ValueError(f"'{cidr}' is not a CIDR block (e.g. 0.0.0.0/0)") from None
        return value

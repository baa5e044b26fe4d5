"""The DeploymentSpec: one typed description of an LLM deployment for every target.

Every section is frozen and rejects unknown keys. Defaults are the secure choice; ``environment:
prod`` tightens them (two replicas, alarms on, images pinned by digest). Rules that need the
target (instance types, memory fit, spot, residency) live in :mod:`inferstack.deployment.targets`.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from inferstack.deployment.fleet import FleetSpec
from inferstack.deployment.types import Auth, DType, Environment, Framework, Runtime, ScalingMetric

# Where callers of a private endpoint come from (RFC 1918 and IPv6 unique local addresses).
PRIVATE_NETWORKS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SOURCE = re.compile(
    r"^(hf://[^@\s]+(@[\w.\-]+)?|s3://[a-z0-9.\-]+(/\S*)?|pvc://[a-z0-9\-]+(/\S*)?)$"
)
_CLOUDWATCH_RETENTION = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip


def is_digest_pinned(image: str) -> bool:
    return bool(_DIGEST.search(image))


class Section(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, use_attribute_docstrings=True
    )


class SecretRef(Section):
    """A secret that already exists: a Kubernetes Secret, or a Secrets Manager name or ARN."""

    name: Annotated[str, Field(min_length=1, max_length=2048)]
    """Kubernetes Secret name, or Secrets Manager secret name or ARN."""
    key: Annotated[str, Field(min_length=1, max_length=253)] = "token"
    """Key inside the secret that holds the value."""


class ModelSpec(Section):
    id: Annotated[str, Field(min_length=1, max_length=200)]
    """Catalog model id (e.g. meta-llama/Llama-3.1-8B-Instruct) or any id described in full
    below."""
    source: str | None = None
    """Where weights come from: hf://org/name@revision, s3://bucket/prefix or pvc://claim/path;
    default hf://<id>."""
    dtype: DType = "bf16"
    """Weight precision or quantization; sizes memory and selects runtime flags."""
    max_context: Annotated[int, Field(ge=256, le=1_048_576)] | None = None
    """Context length served; default: the model's own (capped by Jetson family limits)."""
    hf_token_secret: SecretRef | None = None
    """Existing secret holding a Hugging Face token for gated models; never a literal."""
    parameters_b: Annotated[float, Field(gt=0, le=2000)] | None = None
    """Parameters in billions, for a model outside the catalog."""
    layers: Annotated[int, Field(gt=0, le=1000)] | None = None
    """Transformer layers, for a model outside the catalog."""
    kv_heads: Annotated[int, Field(gt=0, le=1024)] | None = None
    """Key/value heads (GQA), for a model outside the catalog."""
    head_dim: Annotated[int, Field(gt=0, le=4096)] | None = None
    """Attention head dimension, for a model outside the catalog."""

    @model_validator(mode="before")
    @classmethod
    def _no_literal_token(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in ("hf_token", "token", "huggingface_token"):
                if key in data:
                    raise _FieldError(
                        f"model.{key}",
                        "would store the token in plain text",
                        "reference an existing secret with model.hf_token_secret: "
                        "{name: <secret>, key: token}",
                    )
        return data

    @field_validator("source")
    @classmethod
    def _source_scheme(cls, value: str | None) -> str | None:
        if value is not None and not _SOURCE.match(value):
            raise ValueError(
                f"'{value}' is not a model source; use hf://<org>/<name>@<revision>, "
                "s3://<bucket>/<prefix> or pvc://<claim>/<path>"
            )
        return value

    @model_validator(mode="after")
    def _custom_shape_complete(self) -> ModelSpec:
        custom = [self.parameters_b, self.layers, self.kv_heads, self.head_dim]
        if any(v is not None for v in custom) and not all(v is not None for v in custom):
            raise ValueError(
                "a model described in full needs all of parameters_b, layers, kv_heads and head_dim"
            )
        return self

    @property
    def described_in_full(self) -> bool:
        return self.parameters_b is not None

    @property
    def revision(self) -> str | None:
        if self.source and self.source.startswith("hf://") and "@" in self.source:
            return self.source.rsplit("@", 1)[1]
        return None


class ServingSpec(Section):
    runtime: Runtime = "vllm"
    """Serving engine: vllm, tgi, lmi (SageMaker), ollama, llamacpp or mlc."""
    image: Annotated[str, Field(min_length=1, max_length=512)] | None = None
    """Container image; default: the catalog image of the runtime. prod requires @sha256 digest."""
    max_concurrency: Annotated[int, Field(ge=1, le=4096)] = 16
    """Sequences in flight per replica; the KV cache is sized for it."""
    mode: Literal["realtime", "async"] = "realtime"
    """realtime, or async (SageMaker only: queued requests, can scale to zero)."""
    port: Annotated[int, Field(ge=1024, le=65535)] = 8000
    """Port the server listens on inside the container."""
    gpu_memory_utilization: Annotated[float, Field(gt=0.1, le=0.98)] | None = None
    """Fraction of GPU memory the runtime may use; default from the runtime catalog."""
    extra_args: list[str] = Field(default_factory=list)
    """Extra command-line flags passed to the runtime as-is."""

    @field_validator("image")
    @classmethod
    def _no_latest(cls, value: str | None) -> str | None:
        if value is None or is_digest_pinned(value):
            return value
        # A tag is a ':' in the last path segment (a registry port sits before a '/').
        tagged = ":" in value.rsplit("/", 1)[-1]
        if value.endswith(":latest") or not tagged:
            what = "floats with every push" if tagged else "has no tag, so it pulls :latest"
            raise ValueError(
                f"'{value}' {what}; pin a version tag and a digest (<image>:<tag>@sha256:<digest>)"
            )
        return value


class Toleration(Section):
    key: str
    """Taint key to tolerate."""
    operator: Literal["Exists", "Equal"] = "Exists"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None


class ComputeSpec(Section):
    instance_type: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    """Cloud SKU (ml.g5.2xlarge, Standard_NC24ads_A100_v4, g2-standard-8) or Jetson module;
    default: cheapest that fits."""
    gpu_type: str | None = None
    """On-prem only: GPU model from the catalog (L4, A100-80GB, ...); default L4."""
    gpu_count: Annotated[int, Field(ge=1, le=16)] | None = None
    """On-prem only: GPUs per replica; default: the tensor-parallel degree the model needs."""
    spot: bool = False
    """Use spot/preemptible capacity (Vertex AI only; refused where the platform has none)."""
    node_selector: dict[str, str] = Field(default_factory=dict)
    """Kubernetes node selector for the serving pods."""
    tolerations: list[Toleration] = Field(default_factory=list)
    """Kubernetes tolerations; default tolerates the nvidia.com/gpu taint."""
    runtime_class_name: str | None = "nvidia"
    """RuntimeClass that exposes the GPU (k3s and the GPU operator install 'nvidia')."""
    fleet: FleetSpec | None = None
    """Jetson only: sites, device groups and cohorts of the fleet."""


class ScalingTarget(Section):
    metric: ScalingMetric = "concurrency"
    """What autoscaling tracks: concurrency, queue_depth, invocations or gpu_utilization; never
    CPU."""
    value: Annotated[float, Field(gt=0)] = 8
    """Target value of the metric per replica."""


class ScalingSpec(Section):
    min_replicas: Annotated[int, Field(ge=0, le=1000)] | None = None
    """Replicas kept warm; default 1 (prod: 2, the minimum there)."""
    max_replicas: Annotated[int, Field(ge=1, le=1000)] = 4
    """Upper bound for autoscaling."""
    target: ScalingTarget = Field(default_factory=ScalingTarget)
    """Autoscaling metric and target value."""
    scale_to_zero: bool = False
    """Scale to zero when idle (on-prem with KEDA; SageMaker async only)."""
    scale_out_cooldown_seconds: Annotated[int, Field(ge=0, le=3600)] = 60
    """Wait after a scale-out before the next one."""
    scale_in_cooldown_seconds: Annotated[int, Field(ge=0, le=7200)] = 300
    """Wait after a scale-in before the next one."""


class EncryptionSpec(Section):
    kms_key: Annotated[str, Field(min_length=1)] = "create"
    """'create' a customer-managed key with rotation, or an existing key id/ARN/URI."""

    @property
    def create_key(self) -> bool:
        return self.kms_key == "create"


class NetworkSpec(Section):
    public: bool = False
    """Admit callers outside private networks (needs allowed_cidrs naming them)."""
    allowed_cidrs: list[str] = Field(default_factory=list)
    """Caller networks admitted; default: the private ranges (RFC 1918, fc00::/7).
    Public ranges need public: true; 0.0.0.0/0 is refused."""
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
    allow_insecure: bool = False
    """Switches hardening off for throwaway local clusters; refused in prod and flagged by the
    packs."""


class AlarmsSpec(Section):
    enabled: bool | None = None
    """Alarms on errors, latency, queueing and memory; default on in prod."""
    email: str | None = None
    """Where alarms are sent."""

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError(f"'{value}' is not an email address")
        return value


class ObservabilitySpec(Section):
    log_retention_days: Annotated[int, Field(ge=0, le=3653)] = 365
    """Log retention (a value log services accept; 0 = never expire, refused by the GDPR pack)."""
    metrics: bool = True
    """Scrape the runtime's metrics."""
    dashboards: bool = True
    """Ship a dashboard for the runtime's metrics."""
    alarms: AlarmsSpec = Field(default_factory=AlarmsSpec)
    """Alerting."""

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value != 0 and value not in _CLOUDWATCH_RETENTION:
            nearest = min(_CLOUDWATCH_RETENTION, key=lambda d: abs(d - value))
            raise ValueError(
                f"{value} is not a retention period log services accept; use {nearest} "
                f"(one of {', '.join(map(str, _CLOUDWATCH_RETENTION))})"
            )
        return value


class DataCaptureSpec(Section):
    enabled: bool = False
    """Capture requests and responses (encrypted with the deployment's key)."""
    sampling_percentage: Annotated[int, Field(ge=1, le=100)] = 20
    """Share of requests captured."""
    retention_days: Annotated[int, Field(ge=1, le=3653)] = 30
    """Days captured payloads are kept."""


class ComplianceSpec(Section):
    frameworks: list[Framework] = Field(default_factory=list)
    """Frameworks the deployment must satisfy: hipaa, gdpr."""
    data_residency: list[str] = Field(default_factory=list)
    """Allowed jurisdictions ('eu') or region names; gdpr implies ['eu']."""
    phi: bool = False
    """The workload processes protected health information."""
    data_capture: DataCaptureSpec = Field(default_factory=DataCaptureSpec)
    """Request/response capture, off by default."""

    @property
    def residency(self) -> list[str]:
        """The residency list in force: GDPR without an explicit list means the EU/EEA."""
        if self.data_residency:
            return list(self.data_residency)
        return ["eu"] if "gdpr" in self.frameworks else []


class CostSpec(Section):
    monthly_budget_usd: Annotated[float, Field(gt=0)] | None = None
    """Monthly budget; checked against on-demand prices and wired to budget alerts."""


class DeploymentSpec(Section):
    name: Annotated[str, Field(min_length=1, max_length=40)]
    """DNS label naming the deployment and its resources."""
    environment: Environment = "dev"
    """dev, staging or prod (prod: >= 2 replicas, alarms on, digest-pinned images)."""
    model: ModelSpec
    """The model and its weights."""
    serving: ServingSpec = Field(default_factory=ServingSpec)
    """The serving runtime."""
    compute: ComputeSpec = Field(default_factory=ComputeSpec)
    """The hardware of one replica."""
    scaling: ScalingSpec = Field(default_factory=ScalingSpec)
    """Replicas and autoscaling."""
    security: SecuritySpec = Field(default_factory=SecuritySpec)
    """Encryption, network, auth and abuse limits."""
    observability: ObservabilitySpec = Field(default_factory=ObservabilitySpec)
    """Logs, metrics, dashboards and alarms."""
    compliance: ComplianceSpec = Field(default_factory=ComplianceSpec)
    """Frameworks, residency and PHI."""
    cost: CostSpec = Field(default_factory=CostSpec)
    """Budget."""
    tags: dict[str, str] = Field(default_factory=dict)
    """Tags/labels merged onto every resource (user wins over inferstack's own)."""

    @field_validator("name")
    @classmethod
    def _dns_label(cls, value: str) -> str:
        if not _DNS_LABEL.match(value):
            raise ValueError(
                f"'{value}' must be a DNS label: lowercase letters, digits and '-', "
                "starting with a letter"
            )
        return value

    @model_validator(mode="after")
    def _cross_field(self) -> DeploymentSpec:
        prod = self.environment == "prod"
        scaling = self.scaling
        if scaling.min_replicas is not None and scaling.min_replicas > scaling.max_replicas:
            raise _field_error(
                "scaling.min_replicas",
                f"min_replicas {scaling.min_replicas} exceeds max_replicas {scaling.max_replicas}",
                "raise scaling.max_replicas or lower scaling.min_replicas",
            )
        if scaling.min_replicas == 0 and not scaling.scale_to_zero:
            raise _field_error(
                "scaling.min_replicas",
                "0 replicas needs scaling.scale_to_zero: true",
                "set scale_to_zero: true or min_replicas >= 1",
            )
        if prod:
            if scaling.scale_to_zero:
                raise _field_error(
                    "scaling.scale_to_zero",
                    "prod keeps at least 2 replicas warm",
                    "use scale_to_zero in dev or staging",
                )
            if scaling.min_replicas is not None and scaling.min_replicas < 2:
                raise _field_error(
                    "scaling.min_replicas",
                    f"prod needs at least 2 replicas, got {scaling.min_replicas}",
                    "set min_replicas: 2 or more",
                )
            if scaling.max_replicas < 2:
                raise _field_error(
                    "scaling.max_replicas",
                    "prod needs at least 2 replicas",
                    "set max_replicas >= 2",
                )
            if self.observability.alarms.enabled is False:
                raise _field_error(
                    "observability.alarms.enabled",
                    "prod keeps alarms on",
                    "remove enabled: false",
                )
            image = self.serving.image
            if image is not None and not is_digest_pinned(image):
                raise _field_error(
                    "serving.image",
                    f"'{image}' is not pinned by digest, which prod requires",
                    "append @sha256:<digest>; `docker buildx imagetools inspect <image>` prints it",
                )
        if self.security.network.public and not self.security.network.allowed_cidrs:
            raise _field_error(
                "security.network.allowed_cidrs",
                "a public endpoint needs the callers' networks",
                "list them in allowed_cidrs, or set public: false",
            )
        if self.security.allow_insecure and prod:
            raise _field_error(
                "security.allow_insecure", "is for local dev clusters only", "remove it in prod"
            )
        return self

    # Resolved values: what the components use.

    @property
    def min_replicas(self) -> int:
        if self.scaling.min_replicas is not None:
            return self.scaling.min_replicas
        return 2 if self.environment == "prod" else 1

    @property
    def alarms_enabled(self) -> bool:
        if self.observability.alarms.enabled is not None:
            return self.observability.alarms.enabled
        return self.environment == "prod"

    def auth_for(self, target: str) -> str:
        if self.security.auth is not None:
            return self.security.auth
        return DEFAULT_AUTH[target]

    def labels(self) -> dict[str, str]:
        """Tags every resource carries: inferstack's own, then the user's (user wins)."""
        base = {
            "app.kubernetes.io/managed-by": "inferstack",
            "inferstack/deployment": self.name,
            "inferstack/environment": self.environment,
        }
        return {**base, **self.tags}

    def merged_tags(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {**self.labels(), **(extra or {})}


DEFAULT_AUTH: dict[str, str] = {
    "onprem": "oidc",
    "sagemaker": "iam",
    "azureml": "entra",
    "vertex": "iam",
    "jetson": "mtls",
}

SUPPORTED_AUTH: dict[str, tuple[str, ...]] = {
    "onprem": ("oidc", "mtls", "api_key"),
    "sagemaker": ("iam", "api_key"),
    "azureml": ("entra", "api_key"),
    "vertex": ("iam", "iap"),
    "jetson": ("mtls", "api_key"),
}


class _FieldError(ValueError):
    def __init__(self, path: str, problem: str, fix: str) -> None:
        self.path = path
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem} ({fix})")


def _field_error(path: str, problem: str, fix: str) -> _FieldError:
    return _FieldError(path, problem, fix)

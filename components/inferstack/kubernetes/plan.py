"""Everything a serving pod needs, resolved once from the spec, the hardware and the catalog.

Manifest builders take a :class:`ServingPlan` plus plain values or single spec sections; they
never read the whole DeploymentSpec or the catalog, so other components (a Jetson fleet) can
build a plan their own way and reuse every builder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from inferstack import catalog, sizing
from inferstack.deployment import DeploymentSpec, SecretRef, Toleration
from inferstack.deployment.digests import require_digest
from inferstack.deployment.targets import Hardware, custom_model, serving_context
from inferstack.kubernetes.args import LLMServiceArgs, ModelCacheArgs
from inferstack.kubernetes.budget import StartupBudget, startup_budget
from inferstack.kubernetes.metrics import RUNTIME_METRICS
from inferstack.kubernetes.names import Names, object_labels, selector_labels
from inferstack.kubernetes.runtime_data import ModelRef, RuntimeMetrics, model_ref
from inferstack.tracing.collector import GRPC_PORT

Manifest = dict[str, Any]

DEFAULT_TOLERATIONS: tuple[Manifest, ...] = (
    {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
)


@dataclass(frozen=True)
class ServingPlan:
    """One replica's serving settings, in the units the manifests use."""

    names: Names
    runtime: str
    image: str
    port: int
    health_path: str
    metrics_path: str | None  # None: the runtime exports no Prometheus metrics
    model: ModelRef
    dtype: str
    context: int
    concurrency: int
    gpu_type: str
    gpu_count: int
    gpu_memory_utilization: float
    budget: StartupBudget
    labels: dict[str, str]
    selector: dict[str, str]
    min_replicas: int
    max_replicas: int
    hf_token: SecretRef | None = None
    api_key: SecretRef | None = None
    extra_args: tuple[str, ...] = ()
    max_request_bytes: int = 65536
    runtime_class_name: str | None = "nvidia"
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: tuple[Manifest, ...] = DEFAULT_TOLERATIONS
    model_cache: ModelCacheArgs = field(default_factory=ModelCacheArgs)
    image_pull_secrets: tuple[str, ...] = ()
    priority_class_name: str | None = None
    termination_grace_period_seconds: int = 120
    kv_cache_dtype: str = "auto"
    # OTLP/gRPC endpoint of the trace collector (observability.tracing); None: no tracing.
    otlp_traces_endpoint: str | None = None
    trust_remote_code: bool = False
    tool_calling: bool = False

    @classmethod
    def for_runtime(
        cls, spec: DeploymentSpec, runtime: str, gpu_memory_fraction: float, **placement: Any
    ) -> ServingPlan:
        """A plan with what every target reads alike from the spec and the runtime catalog.

        ``runtime`` is the server the replica runs (a fleet's cohorts pick their own);
        ``gpu_memory_fraction`` the share of GPU memory it takes unless the spec gives one;
        ``placement`` the fields each target decides itself (names, image, model, sizes, labels).
        """
        info = catalog.runtimes()[runtime]
        return cls(
            runtime=runtime,
            port=spec.serving.port,
            health_path=info.health_path,
            metrics_path=info.metrics_path if runtime in RUNTIME_METRICS else None,
            gpu_memory_utilization=spec.serving.gpu_memory_utilization or gpu_memory_fraction,
            kv_cache_dtype=spec.serving.kv_cache_dtype,
            hf_token=spec.model.hf_token_secret,
            extra_args=tuple(spec.serving.extra_args),
            trust_remote_code=spec.serving.trust_remote_code,
            tool_calling=spec.serving.tool_calling,
            max_request_bytes=spec.security.max_request_bytes,
            **placement,
        )

    @property
    def namespace(self) -> str:
        return self.names.namespace

    @property
    def metrics(self) -> RuntimeMetrics | None:
        return RUNTIME_METRICS.get(self.runtime) if self.metrics_path else None

    @property
    def weights_gb(self) -> float:
        return self.budget.weights_gb

    @property
    def pod_labels(self) -> dict[str, str]:
        return {**self.labels, "app.kubernetes.io/name": self.runtime, **self.selector}

    @property
    def cache_size_gi(self) -> int:
        if self.model_cache.size_gi is not None:
            return self.model_cache.size_gi
        return math.ceil(self.weights_gb * 1.3 + 10)


def build_plan(
    spec: DeploymentSpec,
    hardware: Hardware,
    args: LLMServiceArgs,
    *,
    name: str,
    region: str | None = None,
) -> ServingPlan:
    """Resolve the spec for one cluster: image, context, weights, budget, names, labels.

    ``name`` is the component's; a cluster has no region.
    """
    runtime = catalog.runtimes()[spec.serving.runtime]
    ref = model_ref(spec.model)
    report = sizing.fit(
        model_for_sizing(spec),
        hardware.target,
        hardware.name,
        dtype=spec.model.dtype,
        context=serving_context(spec),
        concurrency=spec.serving.max_concurrency,
        runtime=spec.serving.runtime,
        gpu_count=hardware.gpu_count,
    )
    names = Names(base=name, namespace=args.namespace or name)
    tracing = spec.observability.tracing
    traced = tracing is not None and tracing.runtime_spans
    api_key = None
    if spec.auth_for(hardware.target) == "api_key":
        api_key = args.api_key_secret or SecretRef(name=names.api_key_secret, key="api-key")
    return ServingPlan.for_runtime(
        spec,
        spec.serving.runtime,
        runtime.gpu_memory_fraction,
        names=names,
        image=serving_image(spec, runtime),
        model=ref,
        dtype=spec.model.dtype,
        # The context the spec was validated (and sized) for.
        context=report.context,
        concurrency=spec.serving.max_concurrency,
        gpu_type=hardware.name,
        gpu_count=hardware.gpu_count,
        budget=startup_budget(
            report.memory.weights_gb,
            downloads=ref.downloads,
            download_mb_per_s=args.download_mb_per_s,
            load_mb_per_s=args.load_mb_per_s,
            image_pull_seconds=args.image_pull_seconds,
        ),
        labels=object_labels(spec.labels(), name),
        selector=selector_labels(name),
        min_replicas=spec.min_replicas,
        max_replicas=spec.scaling.max_replicas,
        api_key=api_key,
        runtime_class_name=spec.compute.runtime_class_name,
        node_selector=catalog.gpu_node_selector(
            hardware.name, spec.compute.select_gpu_product, spec.compute.node_selector
        ),
        tolerations=tolerations(spec.compute.tolerations),
        model_cache=args.model_cache,
        image_pull_secrets=tuple(args.image_pull_secrets),
        priority_class_name=args.priority_class_name,
        termination_grace_period_seconds=args.termination_grace_period_seconds,
        otlp_traces_endpoint=names.otel_collector_url(GRPC_PORT) if traced else None,
    )


def serving_image(spec: DeploymentSpec, runtime: catalog.Runtime) -> str:
    """``serving.image``, else the catalog's image of the runtime (by digest where it knows one).

    The catalog knows no digest for some runtimes (TGI, llama.cpp): where the stack requires
    digests, the server and its model download would run a tag the packs refuse.
    """
    if spec.serving.image:
        return spec.serving.image
    image = catalog_image(runtime.image, runtime.digest)
    require_digest(
        spec,
        "serving.image",
        image,
        f"mirror it and set serving.image to <registry>/{image.rsplit('/', 1)[-1]}@sha256:<digest>",
        shown=f"not set, and the catalog's {runtime.name} image '{image}'",
    )
    return image


def catalog_image(image: str, digest: str | None) -> str:
    """``image@sha256:...`` when the catalog knows the digest, else the tagged image."""
    if not digest or "@sha256:" in image:
        return image
    return f"{image}@{digest if digest.startswith('sha256:') else 'sha256:' + digest}"


def model_for_sizing(spec: DeploymentSpec) -> str | catalog.ModelInfo:
    if not spec.model.described_in_full:
        return spec.model.id
    return custom_model(spec)


def tolerations(given: list[Toleration]) -> tuple[Manifest, ...]:
    """The spec's tolerations, or the GPU taint most clusters put on GPU nodes."""
    if not given:
        return DEFAULT_TOLERATIONS
    return tuple(
        {
            key: value
            for key, value in {
                "key": t.key,
                "operator": t.operator,
                "value": t.value,
                "effect": t.effect,
            }.items()
            if value is not None
        }
        for t in given
    )

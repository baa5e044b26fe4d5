"""Will the model fit? Memory, tensor parallelism, cost and speed bounds of one replica.

Memory of one replica (GB = 10^9 bytes):

    weights   = parameters x bytes per parameter of the format
    kv_cache  = 2 (K and V) x layers x KV heads x head dim x KV bytes x context x sequences
    overhead  = per GPU: runtime constant + activation scratch for one batch of tokens

and it fits when the total is at most the usable memory: memory per GPU x GPUs x the
runtime's memory fraction (Jetson: (unified memory - OS reserve) x the family fraction).
The constants and their sources are in docs/sizing.md and the catalog's runtimes.yaml.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from inferstack import catalog
from inferstack.catalog import DType, JetsonModule, ModelInfo, Runtime, architecture

__all__ = [
    "HOURS_PER_MONTH",
    "FitReport",
    "MemoryEstimate",
    "fit",
    "monthly_cost_usd",
    "resolve_model",
    "smallest_fitting",
]

HOURS_PER_MONTH = 730
GB = 1e9
# Live activations per batched token, in hidden-size units of 2 bytes: the residual stream,
# norm output and attention output stay whole on every GPU (4); Q/K/V and the MLP's
# gate, up and activated outputs (about 10 for an intermediate size of 3.5 x hidden) are
# sharded by tensor parallelism.
ACTIVATION_REPLICATED = 4
ACTIVATION_SHARDED = 10
ACTIVATION_BYTES = 2
TARGET_TITLES = {
    "sagemaker": "SageMaker SKU",
    "azureml": "Azure ML SKU",
    "vertex": "Vertex AI machine type",
    "onprem": "GPU model",
    "jetson": "Jetson module",
}


@dataclass(frozen=True)
class MemoryEstimate:
    """Memory of one replica, in GB, summed over its GPUs."""

    weights_gb: float
    kv_cache_gb: float
    overhead_gb: float

    @property
    def total_gb(self) -> float:
        return self.weights_gb + self.kv_cache_gb + self.overhead_gb


@dataclass(frozen=True)
class FitReport:
    """The answer of :func:`fit`; ``to_json()`` is the ``inferstack fit --format json`` shape."""

    model: str
    dtype: str
    target: str
    hardware: str
    runtime: str
    context: int
    concurrency: int
    fits: bool
    memory: MemoryEstimate
    usable_gb: float
    tensor_parallel: int
    hardware_note: str
    smallest_fitting: str | None
    max_context: int
    max_concurrency: int
    decode_tokens_per_s_ceiling: float

    def to_json(self) -> dict[str, object]:
        return {
            "fits": self.fits,
            "memory_gb": {
                "weights": round(self.memory.weights_gb, 2),
                "kv_cache": round(self.memory.kv_cache_gb, 2),
                "overhead": round(self.memory.overhead_gb, 2),
                "total": round(self.memory.total_gb, 2),
            },
            "usable_gb": round(self.usable_gb, 2),
            "tensor_parallel": self.tensor_parallel,
            "smallest_fitting": self.smallest_fitting,
            "max_context": self.max_context,
            "max_concurrency": self.max_concurrency,
            "decode_tokens_per_s_ceiling": round(self.decode_tokens_per_s_ceiling, 1),
        }

    def summary(self) -> str:
        name = self.model.rsplit("/", 1)[-1]
        need = f"{self.memory.total_gb:.1f} GB"
        have = f"{self.usable_gb:.1f} GB usable ({self.hardware_note})"
        title = TARGET_TITLES.get(self.target, "hardware")
        if self.fits:
            return (
                f"{name} {self.dtype} fits {self.hardware}: needs {need} of {have}, "
                f"tensor parallel {self.tensor_parallel}, context {self.context} x "
                f"{self.concurrency} sequences (up to {self.max_concurrency} at this "
                f"context), decode ceiling ~{self.decode_tokens_per_s_ceiling:.0f} tokens/s"
            )
        smallest = self.smallest_fitting or f"none in the catalog ({self.target})"
        return (
            f"{name} {self.dtype} needs {need} per replica; {self.hardware} has {have}; "
            f"smallest {title} that fits: {smallest}"
        )


@dataclass(frozen=True)
class _Hardware:
    """What one replica runs on, reduced to what sizing needs."""

    name: str
    gpu_gb: float  # per GPU (Jetson: unified memory minus the OS reserve)
    bandwidth_gbs: float  # per GPU
    max_gpus: int
    fraction: float
    label: str  # "A10G 24 GB" / "(64 GB - 3 GB reserve)"
    module: bool = False  # a Jetson module: one device, memory shared with the OS
    context_cap: int | None = None
    sequences_cap: int | None = None

    def usable_gb(self, gpus: int) -> float:
        return self.gpu_gb * gpus * self.fraction

    def note(self, gpus: int) -> str:
        devices = self.label if self.module else f"{gpus} x {self.label}"
        return f"{devices} x {self.fraction:.2f}"


@dataclass(frozen=True)
class _Sizing:
    """Everything about one (model, format, runtime) that does not depend on hardware."""

    model: ModelInfo
    dtype: DType
    runtime: Runtime

    @property
    def weights_gb(self) -> float:
        return architecture.weights_gb(self.model, self.dtype)

    @property
    def active_weights_gb(self) -> float:
        """Bytes read per decoded token: all weights, or the active experts of an MoE."""
        return architecture.weights_gb(self.model, self.dtype, active=True)

    def kv_gb_per_token(self, tp: int, context: int) -> float:
        return architecture.kv_gb_per_token(
            self.model,
            self.dtype.kv_bytes,
            context=context,
            tp=tp,
            layer_split=self.runtime.layer_split,
        )

    def overhead_gb(self, tp: int) -> float:
        shards = 1 if self.runtime.layer_split else tp
        width = ACTIVATION_REPLICATED + ACTIVATION_SHARDED / shards
        scratch = self.runtime.max_batched_tokens * architecture.hidden_size(self.model) * width
        per_gpu = self.runtime.overhead_gb_per_gpu + scratch * ACTIVATION_BYTES / GB
        return per_gpu * tp

    def memory(self, tp: int, context: int, concurrency: int) -> MemoryEstimate:
        return MemoryEstimate(
            weights_gb=self.weights_gb,
            kv_cache_gb=self.kv_gb_per_token(tp, context) * context * concurrency,
            overhead_gb=self.overhead_gb(tp),
        )

    def free_for_kv_gb(self, hardware: _Hardware, tp: int) -> float:
        return hardware.usable_gb(tp) - self.weights_gb - self.overhead_gb(tp)

    def tp_allowed(self, tp: int) -> bool:
        """vLLM, TGI and MLC shard heads: TP must divide them (KV heads may replicate)."""
        heads, kv = self.model.attention_heads, self.model.kv_heads
        if self.runtime.layer_split or heads is None:
            return True
        return heads % tp == 0 and (kv % tp == 0 or tp % kv == 0)


# --- input resolution -------------------------------------------------------------------------


def resolve_model(model: str | ModelInfo) -> ModelInfo:
    """A catalog model by id / alias / bare name, or a ModelInfo as given."""
    return model if isinstance(model, ModelInfo) else catalog.model(model)


def _resolve(model: str | ModelInfo, target: str, dtype: str, runtime: str) -> _Sizing:
    if target not in catalog.TARGETS:
        raise ValueError(f"unknown target {target!r}; expected one of {', '.join(catalog.TARGETS)}")
    info = resolve_model(model)
    engine = catalog.runtime(runtime)
    if target not in engine.targets:
        offered = [r.name for r in catalog.runtimes().values() if target in r.targets]
        raise ValueError(
            f"runtime {engine.name!r} is not offered on {target}; use one of {', '.join(offered)}"
        )
    return _Sizing(model=info, dtype=catalog.dtype(dtype), runtime=engine)


def _hardware(
    target: str,
    name: str,
    engine: Runtime,
    gpu_count: int | None,
    gpu_memory_utilization: float | None,
) -> _Hardware:
    if target == "jetson":
        return _jetson(catalog.jetson_module(name), engine, gpu_memory_utilization)
    if gpu_count is not None and gpu_count < 1:
        raise ValueError(f"gpu_count must be at least 1, got {gpu_count}")
    fraction = gpu_memory_utilization or engine.gpu_memory_fraction
    if target == "onprem":
        card = catalog.gpu(name)
        most = gpu_count or catalog.ONPREM_MAX_GPUS
        name = card.name
    else:
        sku = catalog.instance_type(target, name)
        card = catalog.gpu(sku.gpu)
        most = min(gpu_count, sku.gpu_count) if gpu_count else sku.gpu_count
        name = sku.name
    return _Hardware(
        name=name,
        gpu_gb=card.memory_gb,
        bandwidth_gbs=card.bandwidth_gbs,
        max_gpus=most,
        fraction=fraction,
        # "A10G 24 GB", but "A100-80GB" already says its size.
        label=card.name if card.name.endswith("GB") else f"{card.name} {card.memory_gb:g} GB",
    )


def _jetson(
    module: JetsonModule, engine: Runtime, gpu_memory_utilization: float | None
) -> _Hardware:
    # NVIDIA's family fraction is for runtimes that reserve memory up front; llama.cpp and
    # Ollama allocate what the model needs from what the OS leaves.
    family_fraction = module.gpu_memory_fraction if engine.preallocates else None
    return _Hardware(
        name=module.name,
        gpu_gb=module.memory_gb - module.reserve_gb,
        bandwidth_gbs=module.bandwidth_gbs,
        max_gpus=1,
        fraction=gpu_memory_utilization or family_fraction or engine.gpu_memory_fraction,
        label=f"({module.memory_gb:g} GB - {module.reserve_gb:g} GB reserve)",
        module=True,
        context_cap=module.max_context,
        sequences_cap=module.max_num_seqs,
    )


def _tp_options(sizing: _Sizing, hardware: _Hardware) -> list[int]:
    """Tensor-parallel degrees to try, smallest first: powers of two up to the GPU count."""
    powers = (2**i for i in range(hardware.max_gpus.bit_length()))
    return [tp for tp in powers if tp <= hardware.max_gpus and sizing.tp_allowed(tp)]


def _context(sizing: _Sizing, hardware: _Hardware, context: int | None) -> int:
    if context is not None:
        if context < 1:
            raise ValueError(f"context must be at least 1 token, got {context}")
        return context
    default = sizing.model.default_context
    return min(default, hardware.context_cap) if hardware.context_cap else default


@dataclass(frozen=True)
class _Verdict:
    fits: bool
    tp: int
    memory: MemoryEstimate
    usable_gb: float


def _verdict(sizing: _Sizing, hardware: _Hardware, context: int, concurrency: int) -> _Verdict:
    options = _tp_options(sizing, hardware)
    for tp in options:
        memory = sizing.memory(tp, context, concurrency)
        if memory.total_gb <= hardware.usable_gb(tp):
            return _Verdict(True, tp, memory, hardware.usable_gb(tp))
    # Report the most favourable layout that was allowed, or a single GPU if none was.
    tp = options[-1] if options else 1
    return _Verdict(False, tp, sizing.memory(tp, context, concurrency), hardware.usable_gb(tp))


# --- public API ---------------------------------------------------------------------------------


def fit(
    model: str | ModelInfo,
    target: str,
    hardware: str,
    *,
    dtype: str = "bf16",
    context: int | None = None,
    concurrency: int = 1,
    runtime: str = "vllm",
    gpu_count: int | None = None,
    gpu_memory_utilization: float | None = None,
) -> FitReport:
    """Size one replica of ``model`` on ``hardware`` of ``target``.

    ``hardware`` is an instance type (cloud targets), a GPU model (onprem) or a Jetson
    module. ``context`` defaults to the model's maximum, capped by the Jetson family limit.
    ``gpu_count`` (onprem) fixes the GPUs per replica; without it the smallest power of two
    up to 8 that fits is chosen. ``gpu_memory_utilization`` overrides the runtime's fraction.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1 sequence, got {concurrency}")
    sizing = _resolve(model, target, dtype, runtime)
    box = _hardware(target, hardware, sizing.runtime, gpu_count, gpu_memory_utilization)
    tokens = _context(sizing, box, context)
    verdict = _verdict(sizing, box, tokens, concurrency)
    free = sizing.free_for_kv_gb(box, verdict.tp)
    per_token = sizing.kv_gb_per_token(verdict.tp, tokens)
    context_cap = min(sizing.model.default_context, box.context_cap or sizing.model.default_context)
    max_context = max(0, min(context_cap, math.floor(free / per_token)))
    max_concurrency = max(0, math.floor(free / (per_token * tokens)))
    if box.sequences_cap:
        max_concurrency = min(max_concurrency, box.sequences_cap)
    bandwidth = box.bandwidth_gbs * verdict.tp
    return FitReport(
        model=sizing.model.id,
        dtype=sizing.dtype.name,
        target=target,
        hardware=box.name,
        runtime=sizing.runtime.name,
        context=tokens,
        concurrency=concurrency,
        fits=verdict.fits,
        memory=verdict.memory,
        usable_gb=verdict.usable_gb,
        tensor_parallel=verdict.tp,
        hardware_note=box.note(verdict.tp),
        smallest_fitting=smallest_fitting(
            sizing.model,
            target,
            dtype=sizing.dtype.name,
            context=context,
            concurrency=concurrency,
            runtime=sizing.runtime.name,
            gpu_memory_utilization=gpu_memory_utilization,
        ),
        max_context=max_context,
        max_concurrency=max_concurrency,
        decode_tokens_per_s_ceiling=bandwidth / sizing.active_weights_gb,
    )


def smallest_fitting(
    model: str | ModelInfo,
    target: str,
    *,
    dtype: str = "bf16",
    context: int | None = None,
    concurrency: int = 1,
    runtime: str = "vllm",
    gpu_memory_utilization: float | None = None,
) -> str | None:
    """The cheapest hardware of ``target`` that fits, or None.

    Cloud SKUs are ranked by price, then by total GPU memory (unpriced SKUs last); on-prem
    GPU models and Jetson modules, which have no price here, by memory.
    """
    sizing = _resolve(model, target, dtype, runtime)
    for name in _ranked_hardware(target):
        box = _hardware(target, name, sizing.runtime, None, gpu_memory_utilization)
        if _verdict(sizing, box, _context(sizing, box, context), concurrency).fits:
            return name
    return None


def _ranked_hardware(target: str) -> list[str]:
    if target == "jetson":
        modules = catalog.jetson_modules().values()
        return [m.name for m in sorted(modules, key=lambda m: m.memory_gb)]
    gpus = catalog.gpus()

    def rank(sku: catalog.InstanceType) -> tuple[bool, float, float]:
        price = sku.usd_per_hour
        memory = gpus[sku.gpu].memory_gb * sku.gpu_count
        return (price is None, price or 0.0, memory)

    return [sku.name for sku in sorted(catalog.instance_types(target).values(), key=rank)]


def monthly_cost_usd(target: str, instance_type: str, replicas: int) -> float | None:
    """On-demand cost of ``replicas`` always-on instances for a month (730 hours).

    None where the catalog has no price: on-prem and Jetson hardware, unpriced SKUs.
    """
    if replicas < 0:
        raise ValueError(f"replicas must not be negative, got {replicas}")
    if target not in catalog.CLOUD_TARGETS:
        return None
    price = catalog.instance_type(target, instance_type).usd_per_hour
    return None if price is None else round(price * HOURS_PER_MONTH * replicas, 2)

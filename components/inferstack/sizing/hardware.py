"""The hardware of one replica, reduced to what the fit check needs, named through the target
registry (a cloud SKU, an on-prem GPU model or a Jetson module)."""

from __future__ import annotations

from dataclasses import dataclass

from inferstack import catalog, targets
from inferstack.catalog import Gpu, Runtime

GIB = 2**30
# vLLM raises its default batch on GPUs of at least this size, A100s excepted.
LARGE_GPU_BYTES = 70 * GIB


@dataclass(frozen=True)
class Box:
    """What one replica runs on."""

    name: str
    gpu_gb: float  # per GPU; a Jetson module's whole unified memory
    bandwidth_gbs: float  # per GPU
    max_gpus: int
    label: str  # "A10G 24 GB" or "8 GB unified"
    gpu: Gpu | None = None  # None for a Jetson module
    reserve_gb: float = 0.0  # Jetson: what L4T and k3s keep
    module_fraction: float | None = None  # Jetson: NVIDIA's vLLM fraction for the family
    context_cap: int | None = None  # Jetson: NVIDIA's vLLM context for the family
    sequences_cap: int | None = None  # Jetson: NVIDIA's vLLM max_num_seqs for the family

    @property
    def module(self) -> bool:
        return self.gpu is None

    def usable_gb(self, engine: Runtime, gpus: int, utilization: float | None) -> float:
        """Memory the runtime may use: its fraction of the total, or all that is left.

        vLLM, TGI, LMI and MLC request a fraction of the device memory; on a Jetson module that
        request must also leave the OS its share. llama.cpp and Ollama take no fraction: they
        allocate what the model needs from what is free.
        """
        total = self.gpu_gb * gpus
        if not engine.preallocates:
            return total - self.reserve_gb
        fraction = self.fraction(engine, utilization) or engine.gpu_memory_fraction
        return min(total * fraction, total - self.reserve_gb)

    def fraction(self, engine: Runtime, utilization: float | None) -> float | None:
        if not engine.preallocates:
            return None
        family = self.module_fraction if engine.jetson_family_settings else None
        return utilization or family or engine.gpu_memory_fraction

    def batched_tokens(self, engine: Runtime, context: int) -> int:
        """Tokens of the runtime's profiling (or warmup) forward pass."""
        if engine.batches_whole_prompt:
            return max(engine.max_batched_tokens, context)
        large = self.gpu is not None and not self.gpu.name.startswith("A100")
        if engine.large_gpu_batched_tokens and large and self.gpu_gb * 1e9 >= LARGE_GPU_BYTES:
            return engine.large_gpu_batched_tokens
        return engine.max_batched_tokens

    def note(self, engine: Runtime, gpus: int, utilization: float | None) -> str:
        devices = self.label if self.module else f"{gpus} x {self.label}"
        if self.reserve_gb:
            devices += f" - {self.reserve_gb:g} GB OS reserve"
        share = self.fraction(engine, utilization)
        return devices if share is None else f"{devices}, {engine.name} takes {share:.2f}"


def resolve(target: str, name: str, gpu_count: int | None) -> Box:
    kind = targets.get(target).hardware
    if gpu_count is not None and gpu_count < 1:
        raise ValueError(f"gpu_count must be at least 1, got {gpu_count}")
    if kind == "module":
        module = catalog.jetson_module(name)
        return Box(
            name=module.name,
            gpu_gb=module.memory_gb,
            bandwidth_gbs=module.bandwidth_gbs,
            max_gpus=1,
            label=f"{module.memory_gb:g} GB unified",
            reserve_gb=module.reserve_gb,
            module_fraction=module.gpu_memory_fraction,
            context_cap=module.max_context,
            sequences_cap=module.max_num_seqs,
        )
    if kind == "gpu":
        card = catalog.gpu(name)
        most = gpu_count or catalog.ONPREM_MAX_GPUS
        box_name = card.name
    else:
        sku = catalog.instance_type(target, name)
        card = catalog.gpu(sku.gpu)
        most = min(gpu_count, sku.gpu_count) if gpu_count else sku.gpu_count
        box_name = sku.name
    return Box(
        name=box_name,
        gpu_gb=card.memory_gb,
        bandwidth_gbs=card.bandwidth_gbs,
        max_gpus=most,
        # "A10G 24 GB", but "A100-80GB" already says its size.
        label=card.name if card.name.endswith("GB") else f"{card.name} {card.memory_gb:g} GB",
        gpu=card,
    )


def ranked(target: str) -> list[str]:
    """The target's hardware, cheapest first: by price, then by total GPU memory.

    SKUs the target's real-time endpoints do not offer are left out; unpriced SKUs come last;
    on-prem GPU models and Jetson modules, which have no price, go by memory.
    """
    if targets.get(target).hardware == "module":
        modules = catalog.jetson_modules().values()
        return [m.name for m in sorted(modules, key=lambda m: m.memory_gb)]
    gpus = catalog.gpus()

    def rank(sku: catalog.InstanceType) -> tuple[bool, float, float]:
        price = sku.usd_per_hour
        memory = gpus[sku.gpu].memory_gb * sku.gpu_count
        return (price is None, price or 0.0, memory)

    skus = [sku for sku in catalog.instance_types(target).values() if sku.online]
    return [sku.name for sku in sorted(skus, key=rank)]

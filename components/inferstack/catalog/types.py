"""Typed records of the catalog data files.

Every record is a frozen dataclass so catalog data can be shared and cached safely.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Gpu:
    """A GPU model: memory per GPU (GB), peak memory bandwidth (GB/s) and its node label."""

    name: str
    memory_gb: float
    bandwidth_gbs: float
    vendor_model: str
    product_label: str
    """The ``nvidia.com/gpu.product`` value GPU Feature Discovery sets on nodes with this GPU."""
    source: str


@dataclass(frozen=True)
class InstanceType:
    """Hardware of one replica on a target: a cloud SKU, or one on-prem GPU model."""

    name: str
    target: str
    gpu: str
    gpu_count: int
    vcpus: int | None
    memory_gib: float | None
    usd_per_hour: float | None
    spot: bool
    source: str = ""
    online: bool = True
    """Whether the target's real-time endpoints offer this SKU (Azure ML lists a fixed set)."""


@dataclass(frozen=True)
class JetsonModule:
    """A Jetson module: unified memory shared by CPU and GPU, and NVIDIA's family limits."""

    name: str
    family: str
    memory_gb: float
    bandwidth_gbs: float
    reserve_gb: float
    gpu_memory_fraction: float
    max_num_seqs: int
    max_context: int
    jetpack: str


@dataclass(frozen=True)
class ModelInfo:
    """Architecture numbers of a model, enough to size its weights and KV cache.

    Only the first six fields are needed for a model outside the catalog; the optional
    ones sharpen the estimate (exact embedding size, tensor-parallel head checks).
    """

    id: str
    parameters_b: float
    layers: int
    kv_heads: int
    head_dim: int
    default_context: int
    moe: bool = False
    active_parameters_b: float | None = None
    license: str | None = None
    aliases: tuple[str, ...] = ()
    hidden_size: int | None = None
    attention_heads: int | None = None
    vocab_size: int | None = None
    tied_embeddings: bool = False

    @property
    def name(self) -> str:
        """The id without its organisation, as people usually write it."""
        return self.id.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class DType:
    """A weight format: bytes per parameter and bytes per KV-cache element.

    ``embedding_bytes`` is set for formats that keep embeddings and the output layer in
    16 bits while quantizing the transformer blocks (AWQ, GPTQ, FP8, INT8).
    """

    name: str
    bytes_per_param: float
    kv_bytes: float
    embedding_bytes: float | None = None


@dataclass(frozen=True)
class Runtime:
    """A serving runtime and the constants the sizing model uses for it."""

    name: str
    image: str
    digest: str | None
    port: int
    gpu_memory_fraction: float
    metrics_path: str | None
    health_path: str
    targets: tuple[str, ...]
    jetson_image: str | None = None
    dtypes: tuple[str, ...] = ()
    overhead_gb_per_gpu: float = 1.0
    max_batched_tokens: int = 8192
    large_gpu_batched_tokens: int | None = None
    """vLLM raises its default batch to this on GPUs of 70 GiB or more (A100 excepted)."""
    batches_whole_prompt: bool = False
    """The warmup prefills the longest prompt in one pass (TGI's max_batch_prefill_tokens)."""
    parallel_overhead_gb_per_gpu: float = 0.0
    """Communication buffers (NCCL, custom all-reduce) per GPU once a replica spans several."""
    layer_split: bool = False
    preallocates: bool = True
    jetson_family_settings: bool = False
    """NVIDIA's per-family Jetson settings (memory fraction, context, sequences) are its own."""

    @property
    def pinned_image(self) -> str:
        """``image@digest`` when the digest is known, else the tag alone."""
        return f"{self.image}@{self.digest}" if self.digest else self.image


@dataclass(frozen=True)
class Region:
    """A cloud region and the jurisdiction of its location."""

    name: str
    jurisdiction: str
    eu_eea: bool
    location: str = ""

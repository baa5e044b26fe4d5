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
    ones sharpen the estimate (exact embedding size, tensor-parallel head checks) or describe
    architectures whose cost is not plain multi-head attention:

    - ``sliding_window`` / ``sliding_layers``: that many layers attend to the last
      ``sliding_window`` tokens only (Gemma 2/3, gpt-oss, Mistral v0.1), the rest to all.
    - ``kv_lora_rank`` / ``qk_rope_head_dim``: multi-head latent attention (DeepSeek V2/V3)
      caches one compressed vector of their sum per layer and token instead of K and V heads.
    - ``experts`` / ``experts_per_token``: a mixture of experts; every expert stays resident,
      a decoded token reads ``active_parameters_b``.
    - ``vision_parameters_b``: the vision tower of a multimodal checkpoint, counted in
      ``parameters_b`` (it is loaded) but not in what a decoded token reads.
    - ``quantization`` / ``weight_gb``: a pre-quantized checkpoint (awq, gptq, fp8,
      compressed-tensors, mxfp4, ...) and the bytes its tensors take as stored, which is
      what the runtime loads whatever dtype is asked for.
    - ``gguf_gb``: (dtype, GB) of the GGUF files a repository publishes.
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
    sliding_window: int | None = None
    sliding_layers: int = 0
    kv_lora_rank: int | None = None
    qk_rope_head_dim: int | None = None
    experts: int | None = None
    experts_per_token: int | None = None
    vision_parameters_b: float = 0.0
    quantization: str | None = None
    weight_gb: float | None = None
    gguf_gb: tuple[tuple[str, float], ...] = ()
    revision: str | None = None

    @property
    def name(self) -> str:
        """The id without its organisation, as people usually write it."""
        return self.id.rsplit("/", 1)[-1]

    @property
    def mla(self) -> bool:
        """Multi-head latent attention: one compressed KV vector per layer and token."""
        return self.kv_lora_rank is not None


@dataclass(frozen=True)
class DType:
    """A weight format: bytes per parameter and bytes per KV-cache element.

    ``embedding_bytes`` is set for formats that keep embeddings and the output layer in
    16 bits while quantizing the transformer blocks (AWQ, GPTQ, FP8, INT8). ``gguf`` marks
    llama.cpp formats, whose published file sizes are used when a model lists them.
    """

    name: str
    bytes_per_param: float
    kv_bytes: float
    embedding_bytes: float | None = None

    @property
    def gguf(self) -> bool:
        return self.name.startswith("gguf-")


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

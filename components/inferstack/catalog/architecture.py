"""What a model's architecture costs in memory: weight bytes, KV-cache bytes per token, width.

Sizing asks these questions of every model, whether it comes from the catalog, a lock file
or a config.json; the answers depend only on the model's shape and the number formats.

- Weights: a pre-quantized checkpoint (AWQ, GPTQ, FP8, compressed-tensors, MXFP4) loads the
  bytes it stores, whatever dtype is asked for; a GGUF dtype uses the published file size when
  the model lists one; otherwise parameters x bytes per parameter of the format, with the
  embedding, output and vision-tower matrices at the format's embedding width.
- KV cache per token: 2 (K and V) x KV heads x head dim per full-attention layer; a
  sliding-window layer holds only min(window, context) tokens of a context-long sequence;
  multi-head latent attention (DeepSeek V2/V3) holds one vector of kv_lora_rank +
  qk_rope_head_dim per layer, which every tensor-parallel GPU keeps whole.
"""

from __future__ import annotations

import math
from typing import Final, Literal

from inferstack.catalog.types import DType, ModelInfo

GB: Final = 1e9
# Share of parameters in the embedding and output matrices when a model does not say.
UNKNOWN_EMBEDDING_SHARE: Final = 0.10
# Bytes per KV-cache element for `--kv-cache-dtype fp8` (E4M3 / E5M2).
FP8_KV_BYTES: Final = 1.0

KvCacheDType = Literal["auto", "fp8"]


def weights_gb(model: ModelInfo, dtype: DType, *, active: bool = False) -> float:
    """Weight memory in GB; ``active`` counts only what one decoded token reads (MoE experts)."""
    stored = _stored_gb(model, dtype)
    if stored is not None:
        return stored * _active_share(model) if active else stored
    parameters_b = _active_parameters_b(model) if active else model.parameters_b
    if model.vocab_size and model.hidden_size:
        copies = 1 if model.tied_embeddings else 2
        embedding_b = model.vocab_size * model.hidden_size * copies / GB
    else:
        embedding_b = model.parameters_b * UNKNOWN_EMBEDDING_SHARE
    # A vision tower stays in 16 bits under the formats that keep embeddings in 16 bits.
    wide_b = embedding_b + (0.0 if active else model.vision_parameters_b)
    embedding_bytes = dtype.embedding_bytes or dtype.bytes_per_param
    block_b = max(parameters_b - wide_b, 0.0)
    return block_b * dtype.bytes_per_param + wide_b * embedding_bytes


def _stored_gb(model: ModelInfo, dtype: DType) -> float | None:
    """Bytes as the checkpoint stores them, when those are what the runtime loads."""
    if dtype.gguf:
        return dict(model.gguf_gb).get(dtype.name)
    if model.quantization is not None and model.weight_gb is not None:
        return model.weight_gb
    return None


def _active_parameters_b(model: ModelInfo) -> float:
    active = model.active_parameters_b or model.parameters_b
    return max(active - model.vision_parameters_b, 0.0) if active == model.parameters_b else active


def _active_share(model: ModelInfo) -> float:
    return _active_parameters_b(model) / model.parameters_b if model.parameters_b else 1.0


def kv_bytes(dtype: DType, kv_cache_dtype: KvCacheDType = "auto") -> float:
    """Bytes per KV-cache element: the runtime's default for ``dtype``, or 1 with an fp8 cache."""
    return FP8_KV_BYTES if kv_cache_dtype == "fp8" else dtype.kv_bytes


def kv_gb_per_token(
    model: ModelInfo, kv_bytes: float, *, context: int, tp: int = 1, layer_split: bool = False
) -> float:
    """Average KV-cache GB per token of a ``context``-token sequence, summed over the GPUs.

    Tensor parallelism beyond the KV-head count replicates KV heads on every GPU, unless the
    runtime splits layers rather than heads (llama.cpp). Sliding-window layers hold at most
    ``sliding_window`` tokens, so their share per token falls as the context grows.
    """
    if model.mla:
        # One latent vector per layer and token, replicated on every tensor-parallel GPU.
        elements = (model.kv_lora_rank or 0) + (model.qk_rope_head_dim or 0)
        per_layer = elements * (1 if layer_split else max(tp, 1))
    else:
        heads = model.kv_heads if layer_split else max(model.kv_heads, tp)
        per_layer = 2 * heads * model.head_dim
    sliding = min(model.sliding_layers, model.layers) if model.sliding_window else 0
    full = model.layers - sliding
    window_share = min(model.sliding_window or 0, context) / context if context > 0 else 1.0
    layers = full + sliding * window_share
    return layers * per_layer * kv_bytes / GB


def hidden_size(model: ModelInfo) -> float:
    """The residual stream's width, or an estimate from parameters per layer."""
    if model.hidden_size:
        return float(model.hidden_size)
    # A transformer block holds about 12 x hidden^2 parameters.
    active = model.active_parameters_b or model.parameters_b
    return math.sqrt(active * GB / (12 * model.layers))

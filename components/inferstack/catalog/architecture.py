"""What a model's architecture costs in memory: weight bytes, KV-cache bytes per token, width.

Sizing asks these three questions of every model, whether it comes from the catalog, a lock file
or a config.json; the answers depend only on the model's shape and the number formats.
"""

from __future__ import annotations

import math
from typing import Final

from inferstack.catalog.types import DType, ModelInfo

GB: Final = 1e9
# Share of parameters in the embedding and output matrices when a model does not say.
UNKNOWN_EMBEDDING_SHARE: Final = 0.10


def weights_gb(model: ModelInfo, dtype: DType, *, active: bool = False) -> float:
    """Weight memory in GB; ``active`` counts only what one decoded token reads (MoE experts)."""
    parameters_b = (model.active_parameters_b or model.parameters_b) if active else None
    parameters_b = parameters_b or model.parameters_b
    if model.vocab_size and model.hidden_size:
        copies = 1 if model.tied_embeddings else 2
        embedding_b = model.vocab_size * model.hidden_size * copies / GB
    else:
        embedding_b = model.parameters_b * UNKNOWN_EMBEDDING_SHARE
    embedding_bytes = dtype.embedding_bytes or dtype.bytes_per_param
    block_b = max(parameters_b - embedding_b, 0.0)
    return block_b * dtype.bytes_per_param + embedding_b * embedding_bytes


def kv_gb_per_token(
    model: ModelInfo, kv_bytes: float, *, context: int, tp: int = 1, layer_split: bool = False
) -> float:
    """KV-cache GB per token of a ``context``-token sequence, summed over the replica's GPUs.

    Tensor parallelism beyond the KV-head count replicates KV heads on every GPU, unless the
    runtime splits layers rather than heads (llama.cpp).
    """
    del context  # every layer attends to the whole context in the models sized so far
    heads = model.kv_heads if layer_split else max(model.kv_heads, tp)
    return 2 * model.layers * heads * model.head_dim * kv_bytes / GB


def hidden_size(model: ModelInfo) -> float:
    """The residual stream's width, or an estimate from parameters per layer."""
    if model.hidden_size:
        return float(model.hidden_size)
    # A transformer block holds about 12 x hidden^2 parameters.
    active = model.active_parameters_b or model.parameters_b
    return math.sqrt(active * GB / (12 * model.layers))

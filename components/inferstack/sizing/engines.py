"""The startup check of each runtime, as the runtime itself makes it.

Runtimes with a paged KV cache (vLLM, SageMaker LMI, TGI, MLC) reserve their share of GPU memory,
load the weights, run one forward pass to measure the activation peak, and give the rest to the
KV cache. vLLM refuses to start only when that budget holds less than one ``max_model_len``
sequence (``Worker.determine_available_memory`` then ``check_enough_kv_cache_memory``); TGI
likewise when ``MAX_BATCH_TOTAL_TOKENS`` is below ``MAX_TOTAL_TOKENS``. More concurrent
sequences than the cache holds wait in the scheduler: that is an advisory, not a failure.

llama.cpp and Ollama allocate the GGUF weights, the KV cache of every slot (``n_ctx x
n_parallel``) and their compute buffers up front, from whatever memory is free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from inferstack.catalog import DType, ModelInfo, Runtime, architecture
from inferstack.sizing.hardware import Box
from inferstack.sizing.report import MemoryEstimate

GB = 1e9
# Live activations per batched token, in hidden-size units of 2 bytes: the residual stream,
# norm output and attention output stay whole on every GPU (4); Q/K/V and the MLP's gate, up
# and activated outputs (about 10 for an intermediate size of 3.5 x hidden) are sharded by
# tensor parallelism.
ACTIVATION_REPLICATED = 4
ACTIVATION_SHARDED = 10
ACTIVATION_BYTES = 2


@dataclass(frozen=True)
class Sizing:
    """Everything about one (model, format, runtime) that does not depend on hardware."""

    model: ModelInfo
    dtype: DType
    runtime: Runtime
    kv_cache_dtype: architecture.KvCacheDType = "auto"

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
            architecture.kv_bytes(self.dtype, self.kv_cache_dtype),
            context=context,
            tp=tp,
            layer_split=self.runtime.layer_split,
        )

    def overhead_gb(self, box: Box, tp: int, context: int) -> float:
        """Non-KV memory besides the weights: per-GPU constants plus the activation peak."""
        engine = self.runtime
        shards = 1 if engine.layer_split else tp
        width = ACTIVATION_REPLICATED + ACTIVATION_SHARDED / shards
        tokens = box.batched_tokens(engine, context)
        peak = tokens * architecture.hidden_size(self.model) * width * ACTIVATION_BYTES / GB
        per_gpu = engine.overhead_gb_per_gpu + peak
        if tp > 1:
            per_gpu += engine.parallel_overhead_gb_per_gpu
        return per_gpu * tp

    def tp_allowed(self, tp: int) -> bool:
        """vLLM, TGI and MLC shard heads: TP must divide them (KV heads may replicate)."""
        heads, kv = self.model.attention_heads, self.model.kv_heads
        if self.runtime.layer_split or heads is None:
            return True
        return heads % tp == 0 and (kv % tp == 0 or tp % kv == 0)


@dataclass(frozen=True)
class Check:
    """The runtime's startup check at one GPU count."""

    fits: bool
    tp: int
    memory: MemoryEstimate
    usable_gb: float
    kv_budget_gb: float
    kv_gb_per_token: float

    @property
    def kv_tokens(self) -> int:
        return max(0, math.floor(self.kv_budget_gb / self.kv_gb_per_token))


def check(
    sizing: Sizing,
    box: Box,
    tp: int,
    context: int,
    concurrency: int,
    utilization: float | None,
) -> Check:
    usable = box.usable_gb(sizing.runtime, tp, utilization)
    overhead = sizing.overhead_gb(box, tp, context)
    per_token = sizing.kv_gb_per_token(tp, context)
    budget = usable - sizing.weights_gb - overhead
    # Paged caches must hold one max-length sequence; llama.cpp and Ollama allocate every slot.
    resident = 1 if sizing.runtime.preallocates else concurrency
    memory = MemoryEstimate(sizing.weights_gb, per_token * context * resident, overhead)
    return Check(
        fits=memory.total_gb <= usable,
        tp=tp,
        memory=memory,
        usable_gb=usable,
        kv_budget_gb=budget,
        kv_gb_per_token=per_token,
    )


def tp_options(sizing: Sizing, box: Box) -> list[int]:
    """GPU counts to try, smallest first: powers of two up to the replica's GPUs."""
    powers = (2**i for i in range(box.max_gpus.bit_length()))
    return [tp for tp in powers if tp <= box.max_gpus and sizing.tp_allowed(tp)]


def best(
    sizing: Sizing, box: Box, context: int, concurrency: int, utilization: float | None
) -> Check:
    """The fewest GPUs that start, else the most favourable layout allowed (1 GPU if none)."""
    options = tp_options(sizing, box)
    for tp in options:
        result = check(sizing, box, tp, context, concurrency, utilization)
        if result.fits:
            return result
    return check(sizing, box, options[-1] if options else 1, context, concurrency, utilization)

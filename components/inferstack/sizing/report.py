"""What a fit check answers: the memory of one replica and whether its runtime starts."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class MemoryEstimate:
    """Memory of one replica, in GB, summed over its GPUs.

    ``kv_cache_gb`` is the KV cache the runtime must hold to start: one max-length sequence for
    runtimes with a paged cache (vLLM, TGI, LMI, MLC), every slot's context for llama.cpp and
    Ollama, which allocate ``n_ctx x n_parallel`` up front.
    """

    weights_gb: float
    kv_cache_gb: float
    overhead_gb: float

    @property
    def total_gb(self) -> float:
        return self.weights_gb + self.kv_cache_gb + self.overhead_gb


@dataclass(frozen=True)
class FitReport:
    """The answer of :func:`inferstack.sizing.fit`; ``to_json()`` is ``inferstack fit``'s JSON."""

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
    kv_cache_tokens: int = 0
    """Tokens of KV cache the runtime's budget holds (vLLM's "GPU KV cache size")."""
    sequences_at_context: float = 0.0
    """Full-context sequences the KV cache holds at once (vLLM's "Maximum concurrency")."""
    hardware_title: str = "hardware"
    suggestions: tuple[str, ...] = field(default=())

    @property
    def advisory(self) -> str | None:
        """Set when more sequences are allowed than the KV cache holds: they queue, not fail."""
        held = min(self.max_concurrency, self.concurrency)
        if not self.fits or held >= self.concurrency:
            return None
        return (
            f"at {self.context:,} tokens {held} of {self.concurrency} sequences fit at once; "
            "the rest queue"
        )

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
            "model": self.model,
            "dtype": self.dtype,
            "target": self.target,
            "hardware": self.hardware,
            "runtime": self.runtime,
            "context": self.context,
            "concurrency": self.concurrency,
            "kv_cache_tokens": self.kv_cache_tokens,
            "sequences_at_context": round(self.sequences_at_context, 2),
            "advisory": self.advisory,
            "suggestions": list(self.suggestions),
        }

    def summary(self) -> str:
        name = self.model.rsplit("/", 1)[-1]
        need = f"{self.memory.total_gb:.1f} GB"
        have = f"{self.usable_gb:.1f} GB usable ({self.hardware_note})"
        if self.fits:
            text = (
                f"{name} {self.dtype} fits {self.hardware} on {self.runtime}: needs {need} of "
                f"{have}, tensor parallel {self.tensor_parallel}; the KV cache holds "
                f"{self.kv_cache_tokens:,} tokens ({self.sequences_at_context:.2f} x "
                f"{self.context:,}); decode ceiling "
                f"~{self.decode_tokens_per_s_ceiling:.0f} tokens/s"
            )
            return f"{text}; {self.advisory}" if self.advisory else text
        smallest = self.smallest_fitting or f"none in the catalog ({self.target})"
        return (
            f"{name} {self.dtype} on {self.runtime} needs {need} per replica for "
            f"{self.context:,}-token sequences; {self.hardware} has {have}; "
            f"smallest {self.hardware_title} that fits: {smallest}"
        )

"""Will the model fit? The runtime's own startup check, cost and speed bounds of one replica.

Memory of one replica (GB = 10^9 bytes), per runtime (sources and constants in docs/sizing.md
and the catalog's runtimes.yaml):

    vLLM, LMI, TGI, MLC   usable = GPU memory x gpu_memory_utilization (Jetson: also leaving
                          the OS reserve); KV budget = usable - weights - activation peak of
                          the profiling pass - non-torch memory. Starts when the budget holds
                          one max-length sequence; more sequences than it holds queue.
    llama.cpp, Ollama     GGUF weights + KV for n_ctx x n_parallel + compute buffers must fit
                          GPU memory (Jetson: unified memory less the OS and k3s reserve).

Weights and KV bytes per token come from :mod:`inferstack.catalog.architecture`.
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import replace

from inferstack import catalog, targets
from inferstack.catalog import ModelInfo
from inferstack.catalog.architecture import KvCacheDType
from inferstack.sizing import engines
from inferstack.sizing import hardware as boxes
from inferstack.sizing.engines import Sizing
from inferstack.sizing.report import FitReport, MemoryEstimate

__all__ = [
    "DEFAULT_CONTEXT",
    "HOURS_PER_MONTH",
    "FitReport",
    "MemoryEstimate",
    "default_context",
    "default_runtime",
    "fit",
    "log_advisory",
    "monthly_cost_usd",
    "resolve_model",
    "smallest_fitting",
]

HOURS_PER_MONTH = 730
# Context served when none is given: a model's full window (128k for Llama 3.1) would size the
# KV cache for a load nobody plans for. The spec (deployment.targets.serving_context) and the
# CLI share this rule.
DEFAULT_CONTEXT = 8192
# Runtimes tried for a target and dtype when none is named, in this order: vLLM for what it
# loads, then Ollama and llama.cpp for GGUF files.
RUNTIME_PREFERENCE = ("vllm", "ollama", "llamacpp", "tgi", "lmi", "mlc")


# --- defaults shared by the spec and the CLI ---------------------------------------------------


def resolve_model(model: str | ModelInfo) -> ModelInfo:
    """A catalog model by id / alias / bare name, or a ModelInfo as given."""
    return model if isinstance(model, ModelInfo) else catalog.model(model)


def default_context(model: str | ModelInfo) -> int:
    """min(the model's own context, 8192)."""
    return min(resolve_model(model).default_context, DEFAULT_CONTEXT)


def default_runtime(target: str, dtype: str) -> str:
    """The runtime that serves ``dtype`` on ``target`` when none is named (GGUF: Ollama)."""
    targets.get(target)
    fmt = catalog.dtype(dtype).name
    for name in RUNTIME_PREFERENCE:
        engine = catalog.runtime(name)
        if target in engine.targets and (not engine.dtypes or fmt in engine.dtypes):
            return name
    raise ValueError(f"no runtime offered on {target} loads {fmt}; pick another dtype")


def _resolve(
    model: str | ModelInfo,
    target: str,
    dtype: str,
    runtime: str | None,
    kv_cache_dtype: KvCacheDType = "auto",
) -> Sizing:
    targets.get(target)
    info = resolve_model(model)
    engine = catalog.runtime(runtime or default_runtime(target, dtype))
    if target not in engine.targets:
        offered = [r.name for r in catalog.runtimes().values() if target in r.targets]
        raise ValueError(
            f"runtime {engine.name!r} is not offered on {target}; use one of {', '.join(offered)}"
        )
    return Sizing(
        model=info, dtype=catalog.dtype(dtype), runtime=engine, kv_cache_dtype=kv_cache_dtype
    )


def _context(sizing: Sizing, box: boxes.Box, context: int | None) -> int:
    if context is not None:
        if context < 1:
            raise ValueError(f"context must be at least 1 token, got {context}")
        return context
    tokens = default_context(sizing.model)
    # NVIDIA's per-family Jetson context is a vLLM setting, like its memory fraction.
    if box.context_cap and sizing.runtime.jetson_family_settings:
        tokens = min(tokens, box.context_cap)
    return tokens


# --- public API ---------------------------------------------------------------------------------


def fit(
    model: str | ModelInfo,
    target: str,
    hardware: str,
    *,
    dtype: str = "bf16",
    context: int | None = None,
    concurrency: int = 1,
    runtime: str | None = None,
    gpu_count: int | None = None,
    gpu_memory_utilization: float | None = None,
    kv_cache_dtype: KvCacheDType = "auto",
) -> FitReport:
    """Size one replica of ``model`` on ``hardware`` of ``target`` as its runtime would.

    ``hardware`` is an instance type (cloud targets), a GPU model (onprem) or a Jetson
    module. ``context`` defaults to min(the model's, 8192); ``runtime`` to the target's runtime
    for ``dtype`` (:func:`default_runtime`). ``gpu_count`` caps the GPUs of one replica; the
    smallest power of two up to it (or up to the SKU's GPUs, or 8 on-prem) that starts is
    chosen. ``gpu_memory_utilization`` overrides the runtime's fraction.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1 sequence, got {concurrency}")
    sizing = _resolve(model, target, dtype, runtime, kv_cache_dtype)
    box = boxes.resolve(target, hardware, gpu_count)
    tokens = _context(sizing, box, context)
    result = engines.best(sizing, box, tokens, concurrency, gpu_memory_utilization)
    capacity = result.kv_tokens
    context_cap = sizing.model.default_context
    if box.context_cap and sizing.runtime.jetson_family_settings:
        context_cap = min(context_cap, box.context_cap)
    slots = 1 if sizing.runtime.preallocates else concurrency
    max_concurrency = math.floor(capacity / tokens)
    if box.sequences_cap and sizing.runtime.jetson_family_settings:
        max_concurrency = min(max_concurrency, box.sequences_cap)
    smallest = smallest_fitting(
        sizing.model,
        target,
        dtype=sizing.dtype.name,
        context=tokens,
        concurrency=concurrency,
        runtime=sizing.runtime.name,
        gpu_count=gpu_count if targets.get(target).hardware == "gpu" else None,
        gpu_memory_utilization=gpu_memory_utilization,
    )
    report = FitReport(
        model=sizing.model.id,
        dtype=sizing.dtype.name,
        target=target,
        hardware=box.name,
        runtime=sizing.runtime.name,
        context=tokens,
        concurrency=concurrency,
        fits=result.fits,
        memory=result.memory,
        usable_gb=result.usable_gb,
        tensor_parallel=result.tp,
        hardware_note=box.note(sizing.runtime, result.tp, gpu_memory_utilization),
        smallest_fitting=smallest,
        max_context=max(0, min(context_cap, capacity // slots)),
        max_concurrency=max(0, max_concurrency),
        decode_tokens_per_s_ceiling=box.bandwidth_gbs * result.tp / sizing.active_weights_gb,
        kv_cache_tokens=capacity,
        sequences_at_context=max(0.0, capacity / tokens),
        hardware_title=_title(target),
    )
    if report.fits:
        return report
    from inferstack.sizing.suggest import suggestions

    found = suggestions(sizing, target, box, tokens, concurrency, gpu_memory_utilization, smallest)
    return replace(report, suggestions=found)


def smallest_fitting(
    model: str | ModelInfo,
    target: str,
    *,
    dtype: str = "bf16",
    context: int | None = None,
    concurrency: int = 1,
    runtime: str | None = None,
    gpu_count: int | None = None,
    gpu_memory_utilization: float | None = None,
    kv_cache_dtype: KvCacheDType = "auto",
) -> str | None:
    """The cheapest hardware of ``target`` whose runtime starts, or None.

    Cloud SKUs are ranked by price, then by total GPU memory (unpriced SKUs last); on-prem GPU
    models and Jetson modules, which have no price here, by memory. On-prem, ``gpu_count``
    caps the GPUs of the replica as it does in :func:`fit`.
    """
    sizing = _resolve(model, target, dtype, runtime, kv_cache_dtype)
    for name in boxes.ranked(target):
        box = boxes.resolve(target, name, gpu_count)
        tokens = _context(sizing, box, context)
        if engines.best(sizing, box, tokens, concurrency, gpu_memory_utilization).fits:
            return name
    return None


def log_advisory(deployment: str, report: FitReport) -> None:
    """Log the report's queueing advisory as one warning line, once per deployment and text."""
    if report.advisory:
        _warn_once(
            f"{deployment}: {report.advisory} (serving.max_concurrency {report.concurrency})"
        )


@functools.cache
def _warn_once(message: str) -> None:
    logging.getLogger(__name__).warning("%s", message)


def monthly_cost_usd(target: str, instance_type: str, replicas: int) -> float | None:
    """On-demand cost of ``replicas`` always-on instances for a month (730 hours).

    None where the catalog has no price: on-prem and Jetson hardware, unpriced SKUs.
    """
    if replicas < 0:
        raise ValueError(f"replicas must not be negative, got {replicas}")
    if not targets.get(target).priced:
        return None
    price = catalog.instance_type(target, instance_type).usd_per_hour
    return None if price is None else round(price * HOURS_PER_MONTH * replicas, 2)


def _title(target: str) -> str:
    descriptor = targets.get(target)
    return {
        "sku": f"{descriptor.title} instance type",
        "gpu": "GPU model",
        "module": f"{descriptor.title} module",
    }[descriptor.hardware]

"""What would make a replica start, cheapest change first: a quantized format, a shorter
context (or fewer llama.cpp slots), bigger hardware, more GPUs with tensor parallelism."""

from __future__ import annotations

import dataclasses

from inferstack import catalog, targets
from inferstack.sizing import engines, hardware
from inferstack.sizing.engines import Sizing

MIN_CONTEXT = 1024


def suggestions(
    sizing: Sizing,
    target: str,
    box: hardware.Box,
    context: int,
    concurrency: int,
    utilization: float | None,
    smallest: str | None,
) -> tuple[str, ...]:
    found: list[str] = []
    quantized = _quantized(sizing, box, context, concurrency, utilization)
    if quantized:
        found.append(f"use model.dtype {quantized}")
    shorter = _shorter(sizing, box, context, concurrency, utilization)
    if shorter:
        found.append(shorter)
    if smallest and smallest != box.name:
        found.append(f"use {smallest}")
    more = _more_gpus(sizing, target, box, context, concurrency, utilization)
    if more:
        found.append(more)
    return tuple(found)


def _quantized(
    sizing: Sizing, box: hardware.Box, context: int, concurrency: int, utilization: float | None
) -> str | None:
    """The highest-precision format the runtime loads that starts, smaller than the current."""
    allowed = sizing.runtime.dtypes or tuple(catalog.dtypes())
    options = [
        catalog.dtype(name)
        for name in allowed
        if catalog.dtype(name).bytes_per_param < sizing.dtype.bytes_per_param
    ]
    for fmt in sorted(options, key=lambda d: -d.bytes_per_param):
        candidate = dataclasses.replace(sizing, dtype=fmt)
        if engines.best(candidate, box, context, concurrency, utilization).fits:
            return fmt.name
    return None


def _shorter(
    sizing: Sizing, box: hardware.Box, context: int, concurrency: int, utilization: float | None
) -> str | None:
    if not sizing.runtime.preallocates and concurrency > 1:
        for slots in range(concurrency - 1, 0, -1):
            if engines.best(sizing, box, context, slots, utilization).fits:
                return f"lower serving.max_concurrency to {slots} (each slot holds its context)"
    widest = engines.best(sizing, box, context, concurrency, utilization)
    slots = 1 if sizing.runtime.preallocates else concurrency
    tokens = widest.kv_tokens // slots
    # Round down to a multiple of 1024 so the suggestion is a value people would set.
    tokens = tokens // 1024 * 1024
    if MIN_CONTEXT <= tokens < context:
        shorter = engines.best(sizing, box, tokens, concurrency, utilization)
        if shorter.fits:
            return f"lower model.max_context to {tokens}"
    return None


def _more_gpus(
    sizing: Sizing,
    target: str,
    box: hardware.Box,
    context: int,
    concurrency: int,
    utilization: float | None,
) -> str | None:
    if targets.get(target).hardware != "gpu" or box.gpu is None:
        return None
    wider = hardware.resolve(target, box.name, catalog.ONPREM_MAX_GPUS)
    result = engines.best(sizing, wider, context, concurrency, utilization)
    if result.fits and result.tp > box.max_gpus:
        return f"set compute.gpu_count: {result.tp} (tensor parallel {result.tp})"
    return None

"""What would make a replica start, cheapest change first: a quantized format, a shorter
context (or fewer llama.cpp slots), bigger hardware, more GPUs with tensor parallelism."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from inferstack import catalog, targets
from inferstack.sizing import engines, hardware
from inferstack.sizing.engines import Sizing

MIN_CONTEXT = 1024


@dataclass(frozen=True)
class _Replica:
    """The replica as asked for; each suggestion sizes it again with one part changed."""

    sizing: Sizing
    box: hardware.Box
    context: int
    concurrency: int
    utilization: float | None

    def best(self, **change: Any) -> engines.Check:
        """:func:`engines.best` for this replica with ``change`` (a field's new value) applied."""
        changed = dataclasses.replace(self, **change)
        return engines.best(
            changed.sizing,
            changed.box,
            changed.context,
            changed.concurrency,
            changed.utilization,
        )


def suggestions(
    sizing: Sizing,
    target: str,
    box: hardware.Box,
    context: int,
    concurrency: int,
    utilization: float | None,
    smallest: str | None,
) -> tuple[str, ...]:
    replica = _Replica(sizing, box, context, concurrency, utilization)
    found: list[str] = []
    quantized = _quantized(replica)
    if quantized:
        found.append(f"use model.dtype {quantized}")
    shorter = _shorter(replica)
    if shorter:
        found.append(shorter)
    if smallest and smallest != box.name:
        found.append(f"use {smallest}")
    more = _more_gpus(replica, target)
    if more:
        found.append(more)
    return tuple(found)


def _quantized(replica: _Replica) -> str | None:
    """The highest-precision format the runtime loads that starts, smaller than the current."""
    sizing = replica.sizing
    allowed = sizing.runtime.dtypes or tuple(catalog.dtypes())
    options = [
        catalog.dtype(name)
        for name in allowed
        if catalog.dtype(name).bytes_per_param < sizing.dtype.bytes_per_param
    ]
    for fmt in sorted(options, key=lambda d: -d.bytes_per_param):
        if replica.best(sizing=dataclasses.replace(sizing, dtype=fmt)).fits:
            return fmt.name
    return None


def _shorter(replica: _Replica) -> str | None:
    runtime, concurrency, context = replica.sizing.runtime, replica.concurrency, replica.context
    if not runtime.preallocates and concurrency > 1:
        for slots in range(concurrency - 1, 0, -1):
            if replica.best(concurrency=slots).fits:
                return f"lower serving.max_concurrency to {slots} (each slot holds its context)"
    widest = replica.best()
    slots = 1 if runtime.preallocates else concurrency
    tokens = widest.kv_tokens // slots
    # Round down to a multiple of 1024 so the suggestion is a value people would set.
    tokens = tokens // 1024 * 1024
    if MIN_CONTEXT <= tokens < context:
        shorter = replica.best(context=tokens)
        if shorter.fits:
            return f"lower model.max_context to {tokens}"
    return None


def _more_gpus(replica: _Replica, target: str) -> str | None:
    box = replica.box
    if targets.get(target).hardware != "gpu" or box.gpu is None:
        return None
    result = replica.best(box=hardware.resolve(target, box.name, catalog.ONPREM_MAX_GPUS))
    if result.fits and result.tp > box.max_gpus:
        return f"set compute.gpu_count: {result.tp} (tensor parallel {result.tp})"
    return None

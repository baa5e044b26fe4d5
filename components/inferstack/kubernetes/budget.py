"""How long a replica may take to start, derived from the size of its weights.

Probes that ignore model size kill pods while a large model is still downloading or loading.
The budget has two parts: the download (run by an init container, which no probe watches, so
it bounds the Deployment's progress deadline) and the load into GPU memory plus warm-up
(compilation, CUDA graph capture), which the startupProbe must tolerate before liveness begins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PROBE_PERIOD_SECONDS = 10
# Compilation and CUDA graph capture, independent of model size.
WARMUP_SECONDS = 180
# Throughput varies with disks, mirrors and time of day: plan for 1.5x the estimate.
SAFETY = 1.5


@dataclass(frozen=True)
class StartupBudget:
    """Seconds a replica may spend in each phase of its start."""

    weights_gb: float
    download_seconds: int  # 0 when the weights are already on a volume
    load_seconds: int
    image_pull_seconds: int
    period_seconds: int = PROBE_PERIOD_SECONDS

    @property
    def startup_failure_threshold(self) -> int:
        """startupProbe failureThreshold: failureThreshold x periodSeconds covers the load."""
        return max(3, math.ceil(self.load_seconds / self.period_seconds))

    @property
    def startup_seconds(self) -> int:
        return self.startup_failure_threshold * self.period_seconds

    @property
    def progress_deadline_seconds(self) -> int:
        """Deployment progressDeadlineSeconds: image pull + download (init) + startup."""
        return self.image_pull_seconds + self.download_seconds + self.startup_seconds + 60


def startup_budget(
    weights_gb: float,
    *,
    downloads: bool,
    download_mb_per_s: float = 50.0,
    load_mb_per_s: float = 400.0,
    image_pull_seconds: int = 600,
    warmup_seconds: int = WARMUP_SECONDS,
) -> StartupBudget:
    """The budget for ``weights_gb`` of weights; ``downloads``: an init container fetches them."""
    megabytes = weights_gb * 1000
    download = math.ceil(megabytes / download_mb_per_s * SAFETY) if downloads else 0
    load = math.ceil((megabytes / load_mb_per_s + warmup_seconds) * SAFETY)
    return StartupBudget(
        weights_gb=weights_gb,
        download_seconds=download,
        load_seconds=load,
        image_pull_seconds=image_pull_seconds,
    )

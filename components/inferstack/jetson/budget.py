"""How long a device may take to start serving: fetch the weights over the site link, then load.

The serving container downloads its weights into the device cache on first start (later starts
and staged releases find them there), so its startupProbe must tolerate the download over the
site's link as well as the load and warm-up. The arithmetic is the Kubernetes target's, with the
link speed of the site as the download rate and Jetson storage as the load rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from inferstack.kubernetes.budget import PROBE_PERIOD_SECONDS, startup_budget

# Reading weights from the device's NVMe/eMMC into unified memory; SD-card devices are slower
# than this, NVMe faster: this is a conservative middle.
LOAD_MB_PER_S = 200.0


@dataclass(frozen=True)
class ProbeBudget:
    """Seconds a device may take before liveness starts: download plus load and warm-up."""

    download_seconds: int
    load_seconds: int
    period_seconds: int = PROBE_PERIOD_SECONDS

    @property
    def failure_threshold(self) -> int:
        """startupProbe failureThreshold: failureThreshold x periodSeconds covers the budget."""
        return max(3, math.ceil((self.download_seconds + self.load_seconds) / self.period_seconds))

    @property
    def seconds(self) -> int:
        return self.failure_threshold * self.period_seconds


def startup_probe_budget(
    weights_gb: float,
    link_mbps: float,
    *,
    load_mb_per_s: float = LOAD_MB_PER_S,
    downloads: bool = True,
) -> ProbeBudget:
    """The budget for ``weights_gb`` of weights fetched over a ``link_mbps`` Mbit/s link.

    ``downloads=False``: an init container fetches the weights before the server starts, so
    the probe only waits for the load.
    """
    base = startup_budget(
        weights_gb,
        downloads=downloads,
        download_mb_per_s=link_mbps / 8,
        load_mb_per_s=load_mb_per_s,
        image_pull_seconds=0,
    )
    return ProbeBudget(download_seconds=base.download_seconds, load_seconds=base.load_seconds)

"""NVIDIA Jetson fleets: sites of k3s-managed devices served as one deployment.

``Fleet`` (and with it pulumi_kubernetes) loads on first use, so the spec checks can use the pure
planning modules without the Kubernetes SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inferstack.jetson.component import Fleet


def __getattr__(name: str) -> Any:
    if name == "Fleet":
        return importlib.import_module("inferstack.jetson.component").Fleet
    raise AttributeError(f"module 'inferstack.jetson' has no attribute {name!r}")


__all__ = ["Fleet"]

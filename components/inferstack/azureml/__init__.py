"""The Azure ML target: ``OnlineEndpoint`` (token ``inferstack:azureml:OnlineEndpoint``).

``OnlineEndpoint`` (and with it ``pulumi_azure_native``) loads on first use, so the target
checks and the pure planning modules (``plan``, ``container``) work without the Azure SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inferstack.azureml.component import OnlineEndpoint


def __getattr__(name: str) -> Any:
    if name == "OnlineEndpoint":
        return importlib.import_module("inferstack.azureml.component").OnlineEndpoint
    raise AttributeError(f"module 'inferstack.azureml' has no attribute {name!r}")


__all__ = ["OnlineEndpoint"]

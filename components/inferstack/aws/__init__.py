"""The AWS target: ``SageMakerEndpoint`` (token ``inferstack:aws:SageMakerEndpoint``).

``SageMakerEndpoint`` (and with it ``pulumi_aws``) loads on first use, so the target checks and
the pure planning modules (``plan``, ``container``, ``names``) work without the AWS SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inferstack.aws.component import SageMakerEndpoint


def __getattr__(name: str) -> Any:
    if name == "SageMakerEndpoint":
        return importlib.import_module("inferstack.aws.component").SageMakerEndpoint
    raise AttributeError(f"module 'inferstack.aws' has no attribute {name!r}")


__all__ = ["SageMakerEndpoint"]

"""inferstack: secure, compliant LLM inference as Pulumi components.

``import inferstack`` stays light: the spec is loaded on first use, and each target's cloud SDK
only when its component is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "DeploymentSpec": "inferstack.deployment",
    "SpecError": "inferstack.errors",
    "load_stack_config": "inferstack.deployment",
    "parse_deployment": "inferstack.deployment",
    "validate_for_target": "inferstack.deployment",
    "LLMService": "inferstack.kubernetes",
    "SageMakerEndpoint": "inferstack.aws",
    "Fleet": "inferstack.jetson",
}

if TYPE_CHECKING:
    from inferstack.deployment import (
        DeploymentSpec,
        load_stack_config,
        parse_deployment,
        validate_for_target,
    )
    from inferstack.errors import SpecError


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'inferstack' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "DeploymentSpec",
    "SpecError",
    "__version__",
    "load_stack_config",
    "parse_deployment",
    "validate_for_target",
]

"""The Pulumi program behind every stack in ``stacks/``: read config, validate, build the target."""

from __future__ import annotations

import importlib
from typing import Any

from inferstack.deployment import (
    REGION_KEYS,
    parse_deployment,
    validate_for_target,
    validate_target_name,
)
from inferstack.errors import SpecError

# target -> (module, component class). Imported on use, so a stack loads only its own SDK.
COMPONENTS: dict[str, tuple[str, str]] = {
    "onprem": ("inferstack.kubernetes", "LLMService"),
    "sagemaker": ("inferstack.aws", "SageMakerEndpoint"),
    "azureml": ("inferstack.azureml", "OnlineEndpoint"),
    "jetson": ("inferstack.jetson", "Fleet"),
}


def component_class(target: str) -> Any:
    if target not in COMPONENTS:
        raise SpecError(
            "inferstack:target",
            f"'{target}' has a spec and policy rules but no component yet",
            f"use one of {', '.join(COMPONENTS)}",
        )
    module, name = COMPONENTS[target]
    return getattr(importlib.import_module(module), name)


def main() -> None:
    import pulumi

    config = pulumi.Config("inferstack")
    target = validate_target_name(config.require("target"))
    spec = parse_deployment(config.require_object("deployment"))
    region = None
    if target in REGION_KEYS:
        namespace, key = REGION_KEYS[target].split(":")
        region = pulumi.Config(namespace).get(key)
    validate_for_target(spec, target, region)
    component = component_class(target)(spec.name, spec)
    for key, value in component.outputs().items():
        pulumi.export(key, value)

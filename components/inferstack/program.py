"""The Pulumi program behind every stack in ``stacks/``: read config, build the target's component.

The target's descriptor names its component, imported on use, so a stack loads only its own SDK.
The component parses and validates the spec for its target before it registers anything.
"""

from __future__ import annotations

from typing import Any

from inferstack import targets
from inferstack.deployment import parse_deployment
from inferstack.deployment.loader import check_config_keys


def component_class(target: str) -> Any:
    """The component class of ``target``; a SpecError when the target has none yet."""
    return targets.get(target).component_class()


def main() -> None:
    import pulumi
    from pulumi.runtime.config import CONFIG, get_config_env

    check_config_keys({**get_config_env(), **CONFIG.get()})
    config = pulumi.Config("inferstack")
    target = targets.get(config.require("target"))
    spec = parse_deployment(config.require_object("deployment"))
    component = target.component_class()(spec.name, spec)
    for key, value in component.outputs().items():
        pulumi.export(key, value)

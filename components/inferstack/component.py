"""The base every target component shares: validate first, then register children."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import pulumi

from inferstack.deployment import REGION_KEYS, DeploymentSpec, parse_deployment, validate_for_target
from inferstack.deployment.targets import Hardware


class InferenceComponent(pulumi.ComponentResource):
    """A ComponentResource built from a DeploymentSpec.

    The spec is validated for the target before the component itself is registered, so a spec
    that cannot work raises SpecError with nothing half-deployed.
    """

    target: ClassVar[str]
    type_token: ClassVar[str]

    spec: DeploymentSpec
    hardware: Hardware

    def __init__(
        self,
        name: str,
        spec: DeploymentSpec | Mapping[str, Any],
        opts: pulumi.ResourceOptions | None = None,
        *,
        region: str | None = None,
        hardware: Hardware | None = None,
    ) -> None:
        parsed = parse_deployment(spec)
        region = self.configured_region(region)
        if hardware is None:  # a subclass that validated first passes what it found
            hardware = validate_for_target(parsed, self.target, region)
        super().__init__(self.type_token, name, None, opts)
        self.spec = parsed
        self.hardware = hardware
        self.region = region

    @classmethod
    def configured_region(cls, region: str | None = None) -> str | None:
        """The given region, else the provider's config key for the target (e.g. aws:region)."""
        if region is None and cls.target in REGION_KEYS:
            namespace, key = REGION_KEYS[cls.target].split(":")
            region = pulumi.Config(namespace).get(key)
        return region

    def child_opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        """Options for a child resource: always parented to this component."""
        return pulumi.ResourceOptions(parent=self, **kwargs)

    def outputs(self) -> dict[str, pulumi.Output[Any]]:
        """Plain values worth exporting from a stack (names, URLs, ARNs); never secrets."""
        raise NotImplementedError

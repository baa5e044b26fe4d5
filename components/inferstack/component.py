"""The base every target component shares: parse, validate and plan first, then register children.

A target's component is a subclass that names its target, its type token and its args class, and
fills in two steps:

``prepare``
    Runs before anything is registered, the component included: builds the target's plan from the
    validated spec, the resolved hardware and the args (and anything derived from the plan that can
    still fail, such as patched manifests). Whatever raises here leaves nothing half-deployed.
``build``
    Registers the children from what ``prepare`` made, all parented to the component.

The base does everything else once: parse the spec, read the region from the target's provider
config, load the args (``args_class.from_config()`` unless given), run the target's own early
checks (``check``), validate the spec for the target and resolve its hardware.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Generic, TypeVar

import pulumi

from inferstack import targets
from inferstack.args import ComponentArgs
from inferstack.deployment import DeploymentSpec, parse_deployment, validate_for_target
from inferstack.deployment.targets import Hardware
from inferstack.errors import SpecError

ArgsT = TypeVar("ArgsT", bound=ComponentArgs)


class InferenceComponent(pulumi.ComponentResource, Generic[ArgsT]):
    """A ComponentResource built from a DeploymentSpec.

    The spec is validated for the target before the component itself is registered, so a spec
    that cannot work raises SpecError with nothing half-deployed.
    """

    target: ClassVar[str]
    type_token: ClassVar[str]
    args_class: type[ArgsT]
    """The target's settings object, read from its ``args_key`` when not passed."""

    spec: DeploymentSpec
    hardware: Hardware
    region: str | None
    args: ArgsT

    def __init__(
        self,
        name: str,
        spec: DeploymentSpec | Mapping[str, Any],
        opts: pulumi.ResourceOptions | None = None,
        *,
        args: ArgsT | None = None,
        region: str | None = None,
    ) -> None:
        given_region = region is not None
        try:
            parsed = parse_deployment(spec)
            region = self.configured_region(region)
            settings = args if args is not None else self.args_class.from_config()
            self.check(name, parsed, settings, region)
            hardware = validate_for_target(parsed, self.target, region)
            self.prepare(name, parsed, hardware, settings, region)
        except SpecError as exc:
            if isinstance(spec, DeploymentSpec):  # parsed from a stack config: its keys
                raise
            # A mapping written in code: name the constructor's arguments, not stack config keys.
            region_key = targets.get(self.target).region_key
            renames = {region_key: "region"} if given_region and region_key else {}
            raise exc.naming(f"{type(self).__name__}({name!r})", renames) from None
        super().__init__(self.type_token, name, None, opts)
        self.spec = parsed
        self.hardware = hardware
        self.region = region
        self.args = settings
        self.build(name)
        self.register_outputs(self.outputs())

    @classmethod
    def configured_region(cls, region: str | None = None) -> str | None:
        """The given region, else the provider's config key for the target (e.g. aws:region)."""
        where = targets.get(cls.target).region_namespace_and_key
        if region is None and where is not None:
            namespace, key = where
            region = pulumi.Config(namespace).get(key)
        return region

    def check(self, name: str, spec: DeploymentSpec, args: ArgsT, region: str | None) -> None:
        """Checks of the target's own that come before the spec's target checks: here, the
        region, on a target whose provider config holds one."""
        target = targets.get(self.target)
        if target.region_key is not None:
            target.require_region(region)

    def prepare(
        self,
        name: str,
        spec: DeploymentSpec,
        hardware: Hardware,
        args: ArgsT,
        region: str | None,
    ) -> None:
        """Build the plan (and whatever else can fail) before the component is registered."""
        raise NotImplementedError

    def build(self, name: str) -> None:
        """Register the children, parented to this component, from what ``prepare`` made."""
        raise NotImplementedError

    def child_opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        """Options for a child resource: always parented to this component."""
        return pulumi.ResourceOptions(parent=self, **kwargs)

    def outputs(self) -> dict[str, pulumi.Output[Any]]:
        """Plain values worth exporting from a stack (names, URLs, ARNs); never secrets."""
        raise NotImplementedError

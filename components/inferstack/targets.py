"""The target registry: one descriptor per deployment target.

Everything that differs between targets and is not the target's own code lives here: the config
key holding its region, how its hardware is named, what the platform can do (spot for real-time
inference, scale to zero, async), its SDK and its component. Program, target checks, sizing and the
CLI read these descriptors instead of branching on target names, so adding a target is adding a
descriptor here and a folder of the same shape as the others (see docs/architecture.md).

Nothing here imports a cloud SDK: a component class is imported only when it is asked for.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, Literal

from inferstack.errors import SpecError

HardwareKind = Literal["sku", "gpu", "module"]


@dataclass(frozen=True)
class Refusal:
    """Why a platform cannot do something, and what to do instead (one SpecError's two halves)."""

    problem: str
    fix: str


@dataclass(frozen=True)
class Retention:
    """The log retention periods, in days, that a target's log service accepts."""

    service: str
    """The log service, named in messages."""
    low: int
    high: int
    """The range the service accepts (both ends included)."""
    values: tuple[int, ...] = ()
    """Set where the service accepts only these periods within the range (CloudWatch Logs)."""
    never_expire: bool = False
    """Whether 0 (keep logs forever) is a setting of the service."""

    def accepts(self, days: int) -> bool:
        if days == 0:
            return self.never_expire
        return days in self.values if self.values else self.low <= days <= self.high

    def nearest(self, days: int) -> int:
        """The accepted period closest to ``days``; for 0 (forever) the longest."""
        if days == 0:
            return self.high
        if self.values:
            return min(self.values, key=lambda accepted: abs(accepted - days))
        return min(max(days, self.low), self.high)

    @property
    def accepted(self) -> str:
        """The accepted periods as a message shows them."""
        listed = ", ".join(map(str, self.values)) if self.values else f"{self.low}-{self.high}"
        return f"{listed}, or 0 to keep logs forever" if self.never_expire else listed


# The retention periods CloudWatch Logs accepts (PutRetentionPolicy's retentionInDays).
_CLOUDWATCH_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
CLOUDWATCH_RETENTION: Final = Retention(
    "CloudWatch Logs", 1, 3653, values=_CLOUDWATCH_DAYS, never_expire=True
)


@dataclass(frozen=True)
class Target:
    """What inferstack knows about one deployment target."""

    name: str
    """The value of ``inferstack:target``."""
    title: str
    """The platform's name in messages and docs."""
    token_module: str
    """The middle part of the component's type token, ``inferstack:<token_module>:<Type>``."""
    component: str | None
    """``module:Class`` of the component, imported on use; None while the target has none."""
    args_key: str
    """The stack config key of the target's own settings object, e.g. ``inferstack:aws``."""
    sdk_modules: tuple[str, ...]
    """The Pulumi SDK packages the component loads (and nothing else may load)."""
    extra: str
    """The package extra that installs ``sdk_modules``: ``pip install 'inferstack[<extra>]'``."""
    hardware: HardwareKind
    """How one replica's hardware is named: a cloud SKU, a GPU model, or a Jetson module."""
    region_key: str | None = None
    """The provider config key that holds the region, for residency; None where there is none."""
    region_example: str = "<region>"
    """The value shown in the command that sets ``region_key`` when it is missing."""
    priced: bool = False
    """Whether the catalog prices its hardware (on-demand), so budgets can be checked."""
    no_spot: Refusal | None = None
    """Set where real-time inference has no spot capacity on this platform."""
    no_scale_to_zero: Refusal | None = None
    """Set where the platform keeps at least one replica warm (whatever the serving mode)."""
    no_realtime_scale_to_zero: Refusal | None = None
    """Set where only async serving scales to zero and real-time keeps a replica warm."""
    async_mode: bool = False
    """Whether ``serving.mode: async`` exists (and is the scale-to-zero path)."""
    ip_filter: bool = True
    """Whether the platform admits callers by network (``security.network.allowed_cidrs``);
    where it cannot, the field is refused and a public endpoint is open to every address."""
    no_public: Refusal | None = None
    """Set where the component keeps the endpoint private whatever the spec says, so
    ``security.network.public: true`` would promise an address nothing creates."""
    log_retention: Retention | None = None
    """The periods ``observability.log_retention_days`` may take where the target keeps logs;
    None where nothing of the deployment keeps logs (the field is refused there)."""
    guard: str = "none"
    """The guard ``security.guard.provider: auto`` picks: the screening service the target's
    gateway calls (llm-guard, bedrock, content-safety, model-armor, llama-guard)."""

    @property
    def hardware_field(self) -> str:
        """The spec field that names the hardware (on-prem names a GPU model)."""
        return "compute.gpu_type" if self.hardware == "gpu" else "compute.instance_type"

    @property
    def region_namespace_and_key(self) -> tuple[str, str] | None:
        if self.region_key is None:
            return None
        namespace, key = self.region_key.split(":")
        return namespace, key

    def require_region(self, region: str | None) -> str:
        """``region``, or a SpecError on ``region_key`` saying how to set it."""
        if region is None:
            raise SpecError(
                str(self.region_key),
                f"is required for {self.title}",
                f"pulumi config set {self.region_key} {self.region_example}",
            )
        return region

    def component_class(self) -> Any:
        """The component class, importing its module (and so its SDK) now."""
        if self.component is None:
            raise SpecError(
                "inferstack:target",
                f"'{self.name}' has a spec and policy rules but no component yet",
                f"use one of {', '.join(t.name for t in REGISTRY.values() if t.component)}",
            )
        # Checked before the import: a component may load its SDK only when it registers.
        missing = [m for m in self.sdk_modules if importlib.util.find_spec(m) is None]
        if missing:
            raise SpecError(
                "inferstack:target",
                f"'{self.name}' needs {missing[0]}, which is not installed",
                f"run: {self.install_command}",
            )
        module, _, cls = self.component.partition(":")
        return getattr(importlib.import_module(module), cls)

    @property
    def install_command(self) -> str:
        """The pip command that installs what this target's component needs."""
        return f"pip install 'inferstack[{self.extra}]'"


REGISTRY: Final[Mapping[str, Target]] = MappingProxyType(
    {
        "onprem": Target(
            name="onprem",
            title="Kubernetes",
            token_module="kubernetes",
            component="inferstack.kubernetes:LLMService",
            args_key="inferstack:kubernetes",
            sdk_modules=("pulumi_kubernetes",),
            extra="kubernetes",
            guard="llm-guard",
            hardware="gpu",
            no_spot=Refusal(
                "on-prem Kubernetes has no spot market",
                "set spot: false; to use preemptible nodes, give their node_selector and "
                "tolerations",
            ),
        ),
        "sagemaker": Target(
            name="sagemaker",
            title="SageMaker",
            token_module="aws",
            component="inferstack.aws:SageMakerEndpoint",
            args_key="inferstack:aws",
            sdk_modules=("pulumi_aws",),
            extra="aws",
            guard="bedrock",
            hardware="sku",
            region_key="aws:region",
            region_example="eu-central-1",
            priced=True,
            no_spot=Refusal(
                "SageMaker real-time endpoints have no spot capacity",
                "set spot: false; cost levers: serving.mode: async with "
                "scaling.scale_to_zero: true, a smaller instance_type, or managed spot training "
                "for fine-tuning jobs",
            ),
            no_realtime_scale_to_zero=Refusal(
                "SageMaker real-time endpoints keep at least 1 instance",
                "set serving.mode: async to scale to zero on the request backlog",
            ),
            async_mode=True,
            log_retention=CLOUDWATCH_RETENTION,
        ),
        "azureml": Target(
            name="azureml",
            title="Azure ML",
            token_module="azureml",
            component="inferstack.azureml:OnlineEndpoint",
            args_key="inferstack:azureml",
            sdk_modules=("pulumi_azure_native",),
            extra="azure",
            guard="content-safety",
            hardware="sku",
            region_key="azure-native:location",
            region_example="westeurope",
            priced=True,
            no_spot=Refusal(
                "Azure ML managed online endpoints have no low-priority or spot VMs",
                "set spot: false; low-priority VMs exist for batch endpoints only; "
                "lower cost with a smaller instance_type or fewer min_replicas",
            ),
            no_scale_to_zero=Refusal(
                "Azure ML managed online endpoints keep at least 1 instance",
                "set scale_to_zero: false; batch endpoints scale their compute cluster to zero "
                "between jobs, for work that can wait",
            ),
            # The endpoint, the workspace and API Management (internal mode) stay private:
            # callers reach the gateway through the VNet, so there is no address to filter.
            ip_filter=False,
            no_public=Refusal(
                "Azure ML endpoints here stay private: the online endpoint has public network "
                "access off and API Management runs in internal mode",
                "set public: false and reach the gateway through the VNet (peering, VPN or "
                "ExpressRoute)",
            ),
            # A Log Analytics workspace keeps data interactively for any whole number of days
            # from 30 to 730 (longer only as long-term retention per table).
            log_retention=Retention("Log Analytics", 30, 730),
        ),
        "vertex": Target(
            name="vertex",
            title="Vertex AI",
            token_module="vertex",
            component="inferstack.vertex:Endpoint",
            args_key="inferstack:vertex",
            sdk_modules=("pulumi_gcp",),
            extra="gcp",
            guard="model-armor",
            hardware="sku",
            region_key="gcp:region",
            priced=True,
            no_scale_to_zero=Refusal(
                "Vertex AI online prediction keeps at least 1 replica (scale-to-zero is in "
                "preview)",
                "set scale_to_zero: false",
            ),
            # A public endpoint takes no IP filter: IAM is its only gate.
            ip_filter=False,
            # A Cloud Logging bucket keeps logs 1 to 3650 days; it has no "forever".
            log_retention=Retention("Cloud Logging", 1, 3650),
        ),
        "jetson": Target(
            name="jetson",
            title="Jetson",
            token_module="jetson",
            component="inferstack.jetson:Fleet",
            # A fleet's sites are Kubernetes clusters: their objects are patched the same way.
            args_key="inferstack:kubernetes",
            sdk_modules=("pulumi_kubernetes",),
            extra="kubernetes",
            guard="llama-guard",
            hardware="module",
            no_spot=Refusal(
                "Jetson devices are owned hardware with no spot capacity", "set spot: false"
            ),
            no_scale_to_zero=Refusal(
                "Jetson devices run one replica each and are always on",
                "set scale_to_zero: false",
            ),
        ),
    }
)

NAMES: Final[tuple[str, ...]] = tuple(REGISTRY)


def get(name: Any) -> Target:
    """The descriptor of ``name``; a SpecError on ``inferstack:target`` with a did-you-mean."""
    found = REGISTRY.get(str(name))
    if found is None:
        close = difflib.get_close_matches(str(name), NAMES, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"use one of {', '.join(NAMES)}"
        raise SpecError("inferstack:target", f"'{name}' is not a target", hint)
    return found

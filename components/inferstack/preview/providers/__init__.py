"""Imitations of provider behaviour for offline runs, one module per provider.

Computed outputs (ARNs, ids, physical names, defaults) and invoke results are what a provider
adds to the inputs a program sends; each module imitates one provider, and :class:`InferstackMocks`
picks the module by the package part of the type or invoke token (``aws:s3/bucket:Bucket``).
Capture, what the program registered, is :mod:`inferstack.preview.recorder`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs, Mocks

from inferstack.preview.providers.aws import AwsMocks
from inferstack.preview.providers.azure_native import AzureNativeMocks
from inferstack.preview.providers.common import ProviderMocks, _uuid
from inferstack.preview.providers.gcp import GcpMocks
from inferstack.preview.providers.kubernetes import KubernetesMocks

# Type token package -> the provider's imitation.
PROVIDERS: dict[str, type[ProviderMocks]] = {
    "aws": AwsMocks,
    "azure-native": AzureNativeMocks,
    "gcp": GcpMocks,
    "kubernetes": KubernetesMocks,
}


class InferstackMocks(Mocks):
    """Plausible computed outputs and invoke results for the clouds inferstack targets."""

    def __init__(self, config: Mapping[str, str] | None = None) -> None:
        self.config = dict(config or {})
        self._providers = {package: cls(self.config) for package, cls in PROVIDERS.items()}
        self._default = ProviderMocks(self.config)

    def provider(self, token: str) -> ProviderMocks:
        """The imitation of the provider that owns ``token``."""
        return self._providers.get(token.split(":", 1)[0], self._default)

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        token = args.typ
        if token.startswith("pulumi:providers:"):
            return _uuid(token, args.name), inputs
        return self.provider(token).new_resource(token, args.name, inputs)

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        result = self.provider(args.token).call(args.token, args.args)
        return (result if result is not None else {}), []

    def normalized(self, token: str, state: dict[str, Any]) -> dict[str, Any]:
        """The state the provider reports for these inputs, before it computes anything."""
        return self.provider(token).normalized(token, state)


__all__ = ["PROVIDERS", "InferstackMocks", "ProviderMocks"]

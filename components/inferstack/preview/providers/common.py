"""What every provider imitation shares: the config it reads and how tokens and ids are made."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any


class ProviderMocks:
    """One provider's computed outputs and invoke results, under the stack's config."""

    def __init__(self, config: Mapping[str, str]) -> None:
        self.config = dict(config)

    def new_resource(
        self, token: str, name: str, inputs: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        """The resource's id and its state: the inputs plus what the provider computes."""
        return f"{name}-id", inputs

    def call(self, token: str, args: Mapping[str, Any]) -> dict[str, Any] | None:
        """An invoke's result; None when this provider does not imitate ``token``."""
        return None

    def normalized(self, token: str, state: dict[str, Any]) -> dict[str, Any]:
        """Outputs as the provider returns them where it reshapes an input (preview too)."""
        return state


def _token_parts(token: str) -> tuple[str, str]:
    parts = token.split(":")
    return (parts[1], parts[2]) if len(parts) == 3 else ("index", parts[-1])


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def _uuid(token: str, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{token}/{name}"))

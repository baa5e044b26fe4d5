"""The guard in front of every model, independent of the target that deploys it.

:func:`resolve_guard` turns ``security.guard`` into what one target's gateway will do (``auto``
picks the target's own guard; a combination the guard cannot deliver fails with one line), and
the renderers write the configuration of the open-source pieces: the LiteLLM proxy that is the
gateway (:func:`gateway_config`) and the LLM Guard API it calls (:func:`scanners_config`).
Nothing here imports Pulumi, so every target can reuse it.
"""

from __future__ import annotations

from inferstack.guard.gateway_config import (
    GATEWAY_CONFIG_FILE,
    GATEWAY_HOOK_FILE,
    GatewayModel,
    gateway_config,
    hook_source,
)
from inferstack.guard.resolve import ResolvedGuard, resolve_guard
from inferstack.guard.scanners import SCANNERS_FILE, scanners_config

__all__ = [
    "GATEWAY_CONFIG_FILE",
    "GATEWAY_HOOK_FILE",
    "SCANNERS_FILE",
    "GatewayModel",
    "ResolvedGuard",
    "gateway_config",
    "hook_source",
    "resolve_guard",
    "scanners_config",
]

"""The Google Vertex AI target: ``Endpoint`` (token ``inferstack:vertex:Endpoint``).

``Endpoint`` loads ``pulumi_gcp`` when it is first asked for, so the pure modules (``plan``,
``container``, ``names``, ``args``) import without any cloud SDK. The model deployment's provider
loads google-cloud-aiplatform only when Pulumi runs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inferstack.vertex.component import Endpoint

__all__ = ["Endpoint"]


def __getattr__(name: str) -> Any:
    if name == "Endpoint":
        from inferstack.vertex.component import Endpoint

        return Endpoint
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""pulumi-kubernetes imitated: object names and uids, ids as ``namespace/name``."""

from __future__ import annotations

from typing import Any

from inferstack.preview.providers.common import ProviderMocks, _uuid


class KubernetesMocks(ProviderMocks):
    def new_resource(
        self, token: str, name: str, inputs: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        return _kubernetes(name, inputs)


def _kubernetes(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    metadata = dict(inputs.get("metadata") or {})
    metadata.setdefault("name", name)
    metadata.setdefault("uid", _uuid(str(inputs.get("kind", "")), str(metadata["name"])))
    inputs["metadata"] = metadata
    namespace = metadata.get("namespace")
    resource_id = f"{namespace}/{metadata['name']}" if namespace else str(metadata["name"])
    return resource_id, inputs

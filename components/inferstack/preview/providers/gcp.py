"""pulumi-gcp imitated: resource ids, self links and the project invoke."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inferstack.preview.providers.common import ProviderMocks, _token_parts


class GcpMocks(ProviderMocks):
    def _gcp(self, token: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        module, kind = _token_parts(token)
        service = module.split("/", 1)[0]
        project = str(inputs.get("project") or self.config.get("gcp:project") or "mock-project")
        location = str(
            inputs.get("region")
            or inputs.get("location")
            or self.config.get("gcp:region")
            or "us-central1"
        )
        physical = str(inputs.get("name") or name)
        plural = kind[0].lower() + kind[1:] + "s"
        resource_id = f"projects/{project}/locations/{location}/{plural}/{physical}"
        inputs.setdefault("id", resource_id)
        inputs.setdefault("name", physical)
        inputs.setdefault("project", project)
        inputs.setdefault("selfLink", f"https://{service}.googleapis.com/v1/{resource_id}")
        return resource_id, inputs

    new_resource = _gcp

    def call(self, token: str, args: Mapping[str, Any]) -> dict[str, Any] | None:
        if token == "gcp:organizations/getProject:getProject":
            project = str(args.get("projectId") or self.config.get("gcp:project", "mock"))
            return {
                "projectId": project,
                "number": "123456789012",
                "name": project,
                "id": f"projects/{project}",
            }
        return None

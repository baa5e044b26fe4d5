"""Register plain manifests by their Kubernetes type token, for components that create many.

The typed pulumi_kubernetes classes send the same inputs as this does (apiVersion, kind and the
manifest's fields, camelCase) under the same type token. What they add is client-side: aliases
for API groups the kind moved out of, and typed output objects. Both cost time per object
(about half of a DaemonSet's registration) and a fleet registers thousands of objects without
ever reading their outputs or having state under the old API groups, so it registers manifests
as they are. Only pulumi is imported here, not the SDK's generated types.
"""

from __future__ import annotations

from typing import Any

import pulumi

Manifest = dict[str, Any]


def type_token(api_version: str, kind: str) -> str:
    """``kubernetes:apps/v1:DaemonSet``; the core group is spelled ``core`` (``core/v1``)."""
    group_version = api_version if "/" in api_version else f"core/{api_version}"
    return f"kubernetes:{group_version}:{kind}"


class KubernetesObject(pulumi.CustomResource):
    """Any Kubernetes object, built-in or custom, registered from its manifest."""

    def __init__(self, resource_name: str, manifest: Manifest, opts: pulumi.ResourceOptions):
        if opts.provider is None:
            raise ValueError(f"{resource_name}: pass the cluster's provider in opts")
        token = type_token(manifest["apiVersion"], manifest["kind"])
        super().__init__(token, resource_name, dict(manifest), opts)


def register_object(
    manifest: Manifest, resource_name: str, opts: pulumi.ResourceOptions
) -> pulumi.CustomResource:
    """Create the resource for ``manifest`` under its type token, with the given provider."""
    return KubernetesObject(resource_name, manifest, opts)

"""Register plain manifests by their Kubernetes type token: the one way every target does it.

The typed pulumi_kubernetes classes send the same inputs as this does (apiVersion, kind and the
manifest's fields, camelCase) under the same type token. What they add is client-side: aliases
for API groups the kind moved out of, and typed output objects. Both cost time per object
(about half of a DaemonSet's registration); no component reads its children's outputs or has
state under the old API groups, so manifests are registered as they are. Only pulumi is imported
here, not the SDK's generated types; without an explicit provider, the default one is pinned to
the installed pulumi_kubernetes version, as the typed classes pin it.
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
            from pulumi_kubernetes._utilities import get_resource_opts_defaults

            opts = pulumi.ResourceOptions.merge(get_resource_opts_defaults(), opts)
        token = type_token(manifest["apiVersion"], manifest["kind"])
        super().__init__(token, resource_name, dict(manifest), opts)


def register_object(
    manifest: Manifest, resource_name: str, opts: pulumi.ResourceOptions
) -> pulumi.CustomResource:
    """Create the resource for ``manifest`` under its type token (the given or default provider)."""
    return KubernetesObject(resource_name, manifest, opts)

"""Kubernetes YAML for every Kubernetes object a run registered, ready for ``kubectl apply -f``.

Files are numbered in the order objects must be created (namespaces and CRDs first, workloads
after their config, policies last), one object per file. A fleet that spans sites (a label
``inferstack/site`` or one Kubernetes provider per cluster) gets one folder per site.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from inferstack.preview.program import PreviewRun
from inferstack.preview.recorder import CapturedResource
from inferstack.preview.values import Secret, find_unknown, integral

SITE_LABEL = "inferstack/site"
# Creation order, after Helm's install order: what others refer to comes first.
KIND_ORDER = (
    "Namespace",
    "CustomResourceDefinition",
    "PriorityClass",
    "RuntimeClass",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicaSet",
    "Deployment",
    "StatefulSet",
    "Job",
    "CronJob",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "Ingress",
    "NetworkPolicy",
)
_RENDERED = re.compile(r"^\d{2,}-.+\.yaml$")


class RenderError(ValueError):
    """A Kubernetes object that cannot be written as a manifest."""


@dataclass(frozen=True)
class Manifest:
    site: str | None
    kind: str
    name: str
    body: dict[str, Any]


def api_version_kind(resource_type: str) -> tuple[str, str]:
    """``kubernetes:apps/v1:Deployment`` -> (``apps/v1``, ``Deployment``); core drops its group."""
    parts = resource_type.split(":")
    if len(parts) != 3 or parts[0] != "kubernetes" or "/" not in parts[1]:
        raise RenderError(f"{resource_type} is not a Kubernetes object type")
    group, version = parts[1].rsplit("/", 1)
    return (version if group == "core" else f"{group}/{version}"), parts[2]


def is_manifest(resource: CapturedResource) -> bool:
    """Custom Kubernetes objects; components (ConfigGroup, Chart) and patches are not manifests."""
    if not resource.custom or not resource.type.startswith("kubernetes:"):
        return False
    return not resource.type.endswith("Patch")


def manifests(run: PreviewRun) -> list[Manifest]:
    objects = [r for r in run.resources if is_manifest(r)]
    providers = {r.provider_urn for r in objects}
    by_provider = len(providers) > 1
    return [_manifest(resource, by_provider=by_provider) for resource in objects]


def render(run: PreviewRun, out_dir: str | Path) -> list[Path]:
    """Write one YAML file per Kubernetes object; returns the files written."""
    out = Path(out_dir)
    items = manifests(run)
    written: list[Path] = []
    for site in sorted({m.site for m in items}, key=lambda s: s or ""):
        folder = out / site if site else out
        folder.mkdir(parents=True, exist_ok=True)
        _clear(folder)
        ordered = sorted((m for m in items if m.site == site), key=_creation_order)
        for number, manifest in enumerate(ordered, start=1):
            path = folder / f"{number:02d}-{manifest.kind.lower()}-{manifest.name}.yaml"
            path.write_text(
                yaml.safe_dump(manifest.body, sort_keys=False, default_flow_style=False),
                encoding="utf-8",
            )
            written.append(path)
    return written


def _manifest(resource: CapturedResource, *, by_provider: bool) -> Manifest:
    api_version, kind = api_version_kind(resource.type)
    unknown = find_unknown(resource.inputs)
    if unknown is not None:
        raise RenderError(
            f"{resource.urn}: {unknown} is only known after deployment; "
            "render runs the program in update mode, where mocks compute outputs"
        )
    inputs = integral(_reveal(resource.inputs))
    metadata = dict(inputs.get("metadata") or {})
    name = metadata.get("name")
    if not name:
        raise RenderError(f"{resource.urn}: metadata.name is not set; name every object")
    body: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": metadata}
    body.update({k: v for k, v in inputs.items() if k not in ("apiVersion", "kind", "metadata")})
    labels = metadata.get("labels") or {}
    site = labels.get(SITE_LABEL)
    if site is None and by_provider and resource.provider_urn:
        site = resource.provider_urn.rsplit("::", 1)[-1]
    return Manifest(site=_safe(site) if site else None, kind=kind, name=str(name), body=body)


def _creation_order(manifest: Manifest) -> tuple[int, str, str]:
    kind = manifest.kind
    rank = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
    # Kinds outside KIND_ORDER share a rank and often a name: the kind keeps their order stable.
    return rank, manifest.name, kind


def _reveal(value: Any) -> Any:
    # Manifests are applied as written: a secret value the program set goes into the file.
    if isinstance(value, Secret):
        return _reveal(value.value)
    if isinstance(value, list):
        return [_reveal(item) for item in value]
    if isinstance(value, dict):
        return {key: _reveal(item) for key, item in value.items()}
    return value


def _clear(folder: Path) -> None:
    """Drop files an earlier render wrote, so a removed object does not linger."""
    for path in folder.iterdir():
        if path.is_file() and _RENDERED.match(path.name):
            path.unlink()


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", name)

"""Kubernetes YAML for every Kubernetes object a run registered, ready for ``kubectl apply -f``.

Files are numbered in the order objects must be created (namespaces and CRDs first, workloads
after their config, policies last), one object per file. A fleet that spans sites (a label
``inferstack/site`` or one Kubernetes provider per cluster) gets one folder per site.
"""

from __future__ import annotations

import json
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
# What one render wrote, relative to its output directory: the next render removes exactly these
# files and never a file it did not write.
RECORD = ".inferstack-render.json"
METADATA_ORDER = ("name", "namespace", "labels", "annotations")


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
    """Write one YAML file per Kubernetes object; returns the files written.

    Files an earlier render wrote (listed in ``RECORD``) are replaced; any other file in the
    directory is left alone, and a render that would overwrite one fails before writing.
    """
    out = Path(out_dir)
    items = manifests(run)
    planned: list[tuple[Path, Manifest]] = []
    for site in sorted({m.site for m in items}, key=lambda s: s or ""):
        folder = out / site if site else out
        ordered = sorted((m for m in items if m.site == site), key=_creation_order)
        for number, manifest in enumerate(ordered, start=1):
            path = folder / f"{number:02d}-{manifest.kind.lower()}-{manifest.name}.yaml"
            planned.append((path, manifest))
    earlier = _earlier_render(out)
    for path, _ in planned:
        if path.exists() and path.resolve() not in earlier:
            raise RenderError(
                f"{path} exists and was not written by inferstack render; "
                "move it away or render into another directory"
            )
    for path in earlier:
        path.unlink(missing_ok=True)
    written: list[Path] = []
    for path, manifest in planned:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            yaml.safe_dump(manifest.body, sort_keys=False, default_flow_style=False),
            encoding="utf-8",
        )
        written.append(path)
    out.mkdir(parents=True, exist_ok=True)
    record = sorted(str(path.relative_to(out)) for path in written)
    (out / RECORD).write_text(json.dumps({"files": record}, indent=1) + "\n", encoding="utf-8")
    return written


def _earlier_render(out: Path) -> set[Path]:
    """The files the last render into ``out`` wrote, as recorded there (none if no record)."""
    try:
        record = json.loads((out / RECORD).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return set()
    files = record.get("files") if isinstance(record, dict) else None
    root = out.resolve()
    found: set[Path] = set()
    for name in files if isinstance(files, list) else []:
        path = (out / str(name)).resolve()
        # A record edited to point outside the directory removes nothing there.
        if path.is_relative_to(root) and path.suffix == ".yaml":
            found.add(path)
    return found


def _manifest(resource: CapturedResource, *, by_provider: bool) -> Manifest:
    api_version, kind = api_version_kind(resource.type)
    unknown = find_unknown(resource.inputs)
    if unknown is not None:
        raise RenderError(
            f"{resource.urn}: {unknown} is only known after deployment; "
            "render runs the program in update mode, where mocks compute outputs"
        )
    inputs = integral(_reveal(resource.inputs))
    metadata = _conventional(dict(inputs.get("metadata") or {}))
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


def _conventional(metadata: dict[str, Any]) -> dict[str, Any]:
    """Metadata keys in the order people write them: name, namespace, labels, annotations."""
    first = {key: metadata[key] for key in METADATA_ORDER if key in metadata}
    return {**first, **{k: v for k, v in metadata.items() if k not in first}}


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", name)

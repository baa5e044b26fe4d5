"""What the cloud stack tests share: paths, the packs, and lookups in a run's resources."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from inferstack import targets
from inferstack.preview import CapturedResource, PreviewRun, run_stack

ROOT = Path(__file__).resolve().parents[2]
STACKS = ROOT / "stacks"
PACKS = [ROOT / "policy_packs" / pack for pack in ("baseline", "hipaa", "gdpr")]
CLI = [sys.executable, "-m", "inferstack"]


def config(stack: str) -> Path:
    return STACKS / f"Pulumi.{stack}.yaml"


def preview_and_update(stack: str) -> dict[bool, PreviewRun]:
    """The stack run as ``pulumi preview`` (True) and as ``pulumi up`` (False)."""
    return {preview: run_stack(config(stack), preview=preview) for preview in (True, False)}


def of(run: PreviewRun, token: str) -> list[CapturedResource]:
    return [r for r in run.resources if r.type == token]


def one(run: PreviewRun, token: str, name_suffix: str = "") -> dict[str, Any]:
    found = [r for r in of(run, token) if r.name.endswith(name_suffix)]
    assert len(found) == 1, [r.name for r in found]
    return found[0].inputs


def variant(tmp_path: Path, stack: str, region: str | None = None, **changes: Any) -> Path:
    """``stack``'s config with ``region`` under its target's region key and each spec section in
    ``changes`` updated, written to ``tmp_path``."""
    document = yaml.safe_load(config(stack).read_text(encoding="utf-8"))
    values = document["config"]
    if region is not None:
        region_key = targets.get(values["inferstack:target"]).region_key
        assert region_key is not None, stack
        values[region_key] = region
    deployment = values["inferstack:deployment"]
    for section, value in changes.items():
        deployment[section] = {**deployment.get(section, {}), **value}
    path = tmp_path / "Pulumi.variant.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def pack_args(packs: Iterable[Path]) -> list[str]:
    """``--policy-pack`` arguments for ``packs``."""
    return [arg for pack in packs for arg in ("--policy-pack", str(pack))]


def cli_preview(*args: str) -> subprocess.CompletedProcess[str]:
    """``inferstack preview ARGS`` run as a user runs it, from the repository root."""
    return subprocess.run(
        [*CLI, "preview", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

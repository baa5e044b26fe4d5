"""What the cloud stack tests share: paths, the packs, and lookups in a run's resources."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

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

"""Offline preview: run a stack under recording mocks, evaluate policy packs, report, render.

``run_stack`` runs the real program with Pulumi's own mocks; ``evaluate`` starts each policy
pack as its own process and drives it over the analyzer gRPC protocol, as ``pulumi preview
--policy-pack`` does; reporters and ``render`` turn the result into text and manifests.
"""

from __future__ import annotations

from inferstack.preview.analyzer import (
    Evaluation,
    PackInfo,
    PolicyInfo,
    Violation,
    analyze,
    evaluate,
)
from inferstack.preview.pack_config import load_pack_config
from inferstack.preview.packs import PackError
from inferstack.preview.program import (
    PreviewRun,
    StackConfigError,
    find_project_root,
    read_stack_file,
    record,
    run_stack,
)
from inferstack.preview.recorder import CapturedResource
from inferstack.preview.render import RenderError, render
from inferstack.preview.reporters import FORMATS, Report, render_report
from inferstack.preview.values import UNKNOWN, Secret, Unknown

__all__ = [
    "FORMATS",
    "UNKNOWN",
    "CapturedResource",
    "Evaluation",
    "PackError",
    "PackInfo",
    "PolicyInfo",
    "PreviewRun",
    "RenderError",
    "Report",
    "Secret",
    "StackConfigError",
    "Unknown",
    "Violation",
    "analyze",
    "evaluate",
    "find_project_root",
    "load_pack_config",
    "read_stack_file",
    "record",
    "render",
    "render_report",
    "run_stack",
]

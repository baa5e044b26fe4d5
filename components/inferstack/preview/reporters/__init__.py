"""Report formats of ``inferstack preview``: table, json, sarif, markdown."""

from __future__ import annotations

from collections.abc import Callable

from inferstack.preview.reporters.common import Report
from inferstack.preview.reporters.json_report import json_document, render_json
from inferstack.preview.reporters.markdown import render_markdown
from inferstack.preview.reporters.sarif import render_sarif, sarif_document
from inferstack.preview.reporters.table import render_table

FORMATS: dict[str, Callable[[Report], str]] = {
    "table": render_table,
    "json": render_json,
    "sarif": render_sarif,
    "markdown": render_markdown,
}


def render_report(report: Report, fmt: str = "table", *, quiet: bool = False) -> str:
    """The report as text in one of :data:`FORMATS`; ``quiet`` keeps a table to its findings."""
    if fmt == "table":
        return render_table(report, quiet=quiet)
    try:
        renderer = FORMATS[fmt]
    except KeyError:
        raise ValueError(
            f"unknown report format '{fmt}' (use one of {', '.join(FORMATS)})"
        ) from None
    return renderer(report)


__all__ = [
    "FORMATS",
    "Report",
    "json_document",
    "render_json",
    "render_markdown",
    "render_report",
    "render_sarif",
    "render_table",
    "sarif_document",
]

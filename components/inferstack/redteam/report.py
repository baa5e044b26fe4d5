"""Pass rates per probe and per OWASP risk from a garak ``report.jsonl``.

garak writes one JSON object per line. The ones read here: ``init`` (version, run id, start),
``start_run setup`` (the run's config, flattened), ``plugin_cache`` (each probe's tags), and
``eval`` (per probe and detector: ``passed`` of ``total_evaluated``, ``total`` before 0.13).
A probe's counts add up its detectors', as garak's own ``probe_summary`` does; a risk's add
up its probes'. Attempts (the prompts and answers) are not read: the summary carries no content.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inferstack.deployment.types import OwaspRisk
from inferstack.redteam.probes import risks_of


@dataclass
class Count:
    passed: int = 0
    total: int = 0

    @property
    def failed(self) -> int:
        return self.total - self.passed

    @property
    def pass_rate(self) -> float | None:
        return round(self.passed / self.total, 4) if self.total else None

    def add(self, passed: int, total: int) -> None:
        self.passed += passed
        self.total += total

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "failed": self.failed,
            "total": self.total,
            "pass_rate": self.pass_rate,
        }


@dataclass
class Summary:
    garak_version: str | None = None
    run: str | None = None
    start_time: str | None = None
    target_type: str | None = None
    target_name: str | None = None
    probes: dict[str, Count] = field(default_factory=dict)
    probe_risks: dict[str, tuple[OwaspRisk, ...]] = field(default_factory=dict)

    @property
    def risks(self) -> dict[OwaspRisk, Count]:
        totals: dict[OwaspRisk, Count] = {}
        for probe, count in sorted(self.probes.items()):
            for risk in self.probe_risks.get(probe, ()):
                totals.setdefault(risk, Count()).add(count.passed, count.total)
        return dict(sorted(totals.items()))

    @property
    def overall(self) -> Count:
        total = Count()
        for count in self.probes.values():
            total.add(count.passed, count.total)
        return total

    def as_dict(self) -> dict[str, Any]:
        return {
            "garak_version": self.garak_version,
            "run": self.run,
            "start_time": self.start_time,
            "target": {"type": self.target_type, "name": self.target_name},
            "overall": self.overall.as_dict(),
            "risks": [{"risk": r, **c.as_dict()} for r, c in self.risks.items()],
            "probes": [
                {"probe": p, "risks": list(self.probe_risks.get(p, ())), **c.as_dict()}
                for p, c in sorted(self.probes.items())
            ],
        }


class ReportError(ValueError):
    pass


def summarize(path: Path) -> Summary:
    """Read a garak report.jsonl; raise ReportError when it holds no evaluation."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ReportError(f"{path}: cannot read ({exc.strerror})") from exc
    return summarize_lines(lines, source=str(path))


def summarize_lines(lines: Iterable[str], *, source: str = "report") -> Summary:
    summary = Summary()
    tags: dict[str, list[str]] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ReportError(f"{source}:{number}: not JSON ({exc.msg})") from exc
        if not isinstance(entry, dict):
            continue
        kind = entry.get("entry_type")
        if kind == "init":
            summary.garak_version = entry.get("garak_version")
            summary.run = entry.get("run")
            summary.start_time = entry.get("start_time")
        elif kind == "start_run setup":
            summary.target_type = entry.get("plugins.target_type") or entry.get(
                "plugins.model_type"
            )
            summary.target_name = entry.get("plugins.target_name") or entry.get(
                "plugins.model_name"
            )
        elif kind == "plugin_cache":
            probes = (entry.get("plugin_cache") or {}).get("probes") or {}
            for name, info in probes.items():
                tags[name.removeprefix("probes.")] = list(info.get("tags") or [])
        elif kind == "eval":
            probe = str(entry.get("probe", ""))
            total = entry.get("total_evaluated", entry.get("total"))
            passed = entry.get("passed")
            if not probe or not isinstance(total, int) or not isinstance(passed, int):
                raise ReportError(f"{source}:{number}: eval entry without probe, passed, total")
            summary.probes.setdefault(probe, Count()).add(passed, total)
    if not summary.probes:
        raise ReportError(f"{source}: no eval entries (did the scan finish?)")
    summary.probe_risks = {p: risks_of(p, tags.get(p)) for p in summary.probes}
    return summary


def _rate(count: Count) -> str:
    rate = count.pass_rate
    return "-" if rate is None else f"{rate * 100:.1f}%"


def render_table(summary: Summary) -> str:
    """Two plain-text tables: per risk, then per probe."""
    rows: list[tuple[str, ...]] = [("RISK", "PASSED", "TOTAL", "PASS RATE")]
    rows += [(r, str(c.passed), str(c.total), _rate(c)) for r, c in summary.risks.items()]
    overall = summary.overall
    rows.append(("(all probes)", str(overall.passed), str(overall.total), _rate(overall)))
    probe_rows: list[tuple[str, ...]] = [("PROBE", "PASSED", "TOTAL", "PASS RATE", "RISKS")]
    probe_rows += [
        (p, str(c.passed), str(c.total), _rate(c), ",".join(summary.probe_risks.get(p, ())) or "-")
        for p, c in sorted(summary.probes.items())
    ]
    header = (
        f"garak {summary.garak_version or '?'} run {summary.run or '?'} "
        f"at {summary.start_time or '?'} against {summary.target_name or '?'}"
    )
    return "\n".join([header, "", _columns(rows), "", _columns(probe_rows)]) + "\n"


def _columns(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def render_json(summary: Summary) -> str:
    return json.dumps(summary.as_dict(), indent=2) + "\n"

"""Table, JSON, SARIF and Markdown agree on every count, for every insecure stack fixture.

Each fixture runs with the baseline pack and its own pack (the same rules ship in both, so one
finding is raised twice); the four rendered reports are parsed back and their counts compared:
findings, mandatory ones, advisory ones and unverifiable ones.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from inferstack.preview import Report, analyze, render_report, run_stack

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = sorted((ROOT / "tests" / "fixtures" / "insecure").glob("*.yaml"))
PACKS = ROOT / "policy_packs"
_PACK = re.compile(r"^# pack: (\S+)$", re.MULTILINE)
_COUNTS = re.compile(
    r"(PASS|FAIL): (\d+) mandatory, (\d+) advisory violations, (\d+) unverifiable at preview"
)

Counts = tuple[int, int, int]  # mandatory, advisory, unverifiable


def table_counts(text: str) -> tuple[Counts, Counts]:
    """(resources listed under each policy's block, summary line) of the table report."""
    head, _, unknown = text.partition("UNVERIFIABLE AT PREVIEW (")
    mandatory = _listed(head, "x mandatory")
    advisory = _listed(head, "! ")
    unverifiable = _listed(unknown, "x ") + _listed(unknown, "? ")
    summary = _COUNTS.search(text.rstrip().splitlines()[-1])
    assert summary is not None, text
    return (mandatory, advisory, unverifiable), _numbers(summary)


def _listed(text: str, marker: str) -> int:
    """Resources named in the ``resources:`` lines (wrapped or not) of blocks with ``marker``."""
    label = "      resources: "
    count, lines = 0, text.splitlines()
    for index, line in enumerate(lines):
        if not line.startswith(f"  {marker}"):
            continue
        listing = lines[index + 1]
        assert listing.startswith(label), listing
        for more in lines[index + 2 :]:
            if not more.startswith(" " * len(label)):
                break
            listing += " " + more.strip()
        count += len(listing.removeprefix(label).split(", "))
    return count


def json_counts(text: str) -> tuple[Counts, Counts]:
    document = json.loads(text)
    violations = document["violations"]
    mandatory = sum(1 for v in violations if v["enforcement"] == "mandatory")
    listed = (mandatory, len(violations) - mandatory, len(document["unverifiable"]))
    summary = document["summary"]
    return listed, (summary["mandatory"], summary["advisory"], summary["unverifiable"])


def sarif_counts(text: str) -> tuple[Counts, Counts]:
    run = json.loads(text)["runs"][0]
    failures = [r for r in run["results"] if r.get("kind", "fail") == "fail"]
    reviews = [r for r in run["results"] if r.get("kind") == "review"]
    assert len(failures) + len(reviews) == len(run["results"])
    mandatory = sum(1 for r in failures if r["level"] == "error")
    summary = run["properties"]["summary"]
    listed = (mandatory, len(failures) - mandatory, len(reviews))
    return listed, (summary["mandatory"], summary["advisory"], summary["unverifiable"])


def markdown_counts(text: str) -> tuple[Counts, Counts]:
    findings = _section(text, "## Findings (")
    unknown = _section(text, "## Unverifiable at preview (")
    entries = [line for line in findings if line.startswith("- `")]
    mandatory = sum(1 for line in entries if ", mandatory, " in line)
    listed = (mandatory, len(entries) - mandatory, sum(1 for x in unknown if x.startswith("- `")))
    result = next(line for line in text.splitlines() if line.startswith("| Result |"))
    summary = _COUNTS.search(result)
    assert summary is not None, result
    return listed, _numbers(summary)


def _section(text: str, heading: str) -> list[str]:
    if heading not in text:
        return []
    body = text[text.index(heading) :].splitlines()
    count = int(body[0][len(heading) :].rstrip(")"))
    lines = []
    for line in body[1:]:
        if line.startswith("## "):
            break
        lines.append(line)
    assert sum(1 for line in lines if line.startswith("- `")) == count, heading
    return lines


def _numbers(match: re.Match[str]) -> Counts:
    return int(match.group(2)), int(match.group(3)), int(match.group(4))


def test_every_insecure_fixture_is_counted() -> None:
    assert len(FIXTURES) >= 30


@pytest.mark.parametrize("fixture", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_the_four_formats_agree_on_every_count(fixture: Path) -> None:
    match = _PACK.search(fixture.read_text(encoding="utf-8"))
    assert match is not None, f"{fixture.name} names no pack"
    packs = list(dict.fromkeys(["baseline", match.group(1)]))
    run = run_stack(fixture, preview=True)
    report = Report(run, analyze(run, [PACKS / pack for pack in packs]))

    counts = {
        "table": table_counts(render_report(report, "table")),
        "json": json_counts(render_report(report, "json")),
        "sarif": sarif_counts(render_report(report, "sarif")),
        "markdown": markdown_counts(render_report(report, "markdown")),
    }

    expected = (report.mandatory, report.advisory, len(report.unverifiable))
    assert report.mandatory > 0  # an insecure fixture: something is found
    for name, (listed, summary) in counts.items():
        assert listed == expected, f"{name} lists {listed}, expected {expected}"
        assert summary == expected, f"{name} summary says {summary}, expected {expected}"
    # Raised by two packs, counted once: no (policy, resource) appears twice in a format.
    document = json.loads(render_report(report, "json"))
    keys = [(v["policy"], v["urn"]) for v in document["violations"]]
    assert len(keys) == len(set(keys))

"""`preview --all` over the repository's stacks: packs per frameworks, started once, reports."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from inferstack.preview import Report
from inferstack.preview.batch import StackPreview, packs_for, preview_stacks
from inferstack.preview.packs import PackProcesses
from inferstack.preview.reporters.combined import render_combined

ROOT = Path(__file__).resolve().parents[2]
STACKS = sorted((ROOT / "stacks").glob("Pulumi.*.yaml"))
SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"


@pytest.fixture(scope="module")
def batch() -> tuple[list[StackPreview], int]:
    processes = PackProcesses()
    previews = preview_stacks(STACKS, ROOT / "policy_packs", processes=processes)
    return previews, processes.started


@pytest.fixture(scope="module")
def reports(batch: tuple[list[StackPreview], int]) -> list[Report]:
    return [Report(p.run, p.evaluation, plan=p.plan) for p in batch[0]]


def test_every_stack_passes_with_the_packs_its_frameworks_name(
    batch: tuple[list[StackPreview], int],
) -> None:
    previews, _ = batch
    assert [p.run.stack for p in previews] == [
        path.name.removeprefix("Pulumi.").removesuffix(".yaml") for path in STACKS
    ]
    packs = {p.run.stack: {pack.name for pack in p.evaluation.packs} for p in previews}
    assert packs["onprem-dev"] == {"inferstack-baseline"}  # no frameworks
    assert packs["jetson-prod"] == {
        "inferstack-baseline",
        "inferstack-hipaa",
        "inferstack-owasp-llm",
    }
    assert packs["onprem-prod"] == {
        "inferstack-baseline",
        "inferstack-hipaa",
        "inferstack-gdpr",
        "inferstack-owasp-llm",
    }
    assert all(not p.evaluation.blocking for p in previews)
    assert all(p.run.resources for p in previews)


def test_each_pack_process_starts_once_for_all_stacks(
    batch: tuple[list[StackPreview], int],
) -> None:
    _, started = batch
    assert started == 4  # baseline, hipaa, gdpr, owasp-llm: reused by every stack applying them


def test_sarif_has_a_schema_valid_run_per_stack(reports: list[Report]) -> None:
    document = json.loads(render_combined(reports, "sarif"))
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(
        schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    ).validate(document)
    runs = document["runs"]
    assert len(runs) == len(STACKS)
    assert [run["properties"]["stack"] for run in runs] == [r.run.stack for r in reports]
    assert len({run["automationDetails"]["id"] for run in runs}) == len(STACKS)


def test_json_lists_each_stack_report_and_a_combined_summary(reports: list[Report]) -> None:
    document = json.loads(render_combined(reports, "json"))
    assert [s["stack"] for s in document["stacks"]] == [r.run.stack for r in reports]
    for stack in document["stacks"]:  # DESIGN.md's keys stay
        assert {"stack", "target", "resources", "violations", "unverifiable", "summary"} <= set(
            stack
        )
    summary = document["summary"]
    assert summary["stacks"] == len(STACKS)
    assert summary["failed"] == []
    assert summary["resources"] == sum(len(r.run.resources) for r in reports)
    assert summary["packs"]["onprem-dev"] == {
        "inferstack-baseline": {"mandatory": 0, "advisory": 0, "unverifiable": 0}
    }
    prod = next(s for s in document["stacks"] if s["stack"] == "sagemaker-prod")
    assert prod["plan"]["hardware"] == "ml.g6e.2xlarge"
    assert prod["plan"]["monthly_budget_usd"] == 10000


def test_table_has_a_section_per_stack_and_the_stack_pack_matrix(reports: list[Report]) -> None:
    text = render_combined(reports, "table")
    for report in reports:
        assert f"Stack {report.run.stack} (target {report.run.target}" in text
    matrix = text[text.index("Summary: findings per stack and pack") :]
    row = next(line for line in matrix.splitlines() if line.strip().startswith("onprem-dev "))
    assert row.split()[1:] == ["0/0/0", "-", "-", "-", "PASS"]
    assert text.rstrip().splitlines()[-1].startswith(f"PASS: {len(STACKS)} stacks, 0 failed;")


def test_markdown_summarises_every_stack_for_a_pull_request(reports: list[Report]) -> None:
    text = render_combined(reports, "markdown")
    assert text.startswith(f"# inferstack preview: {len(STACKS)} stacks")
    header = next(line for line in text.splitlines() if line.startswith("| Stack |"))
    assert "`inferstack-hipaa`" in header
    for report in reports:
        assert f"| `{report.run.stack}` | {report.run.target} |" in text
        assert f"## `{report.run.stack}`: PASS" in text
    lines = text.splitlines()
    assert not any(line.startswith("## Unverifiable") for line in lines)  # under its stack
    # One section under each stack that has findings unknown at preview (the SageMaker stacks').
    counted = [len(report.unverifiable) for report in reports if report.unverifiable]
    assert counted and len(counted) >= 2
    for count in set(counted):
        assert lines.count(f"### Unverifiable at preview ({count})") == counted.count(count)


def test_packs_for_adds_frameworks_and_extra_packs_once(tmp_path: Path) -> None:
    root = ROOT / "policy_packs"
    chosen = packs_for(["hipaa"], root, [root / "hipaa", root / "gdpr"])
    assert chosen == [(root / name).resolve() for name in ("baseline", "hipaa", "gdpr")]

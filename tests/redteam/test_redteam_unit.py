"""Probe selection, scan plans, the report summary and the image's runner, without garak.

The report fixture tests/fixtures/redteam/nightly-gateway-20261207T050121Z.report.jsonl is a
real garak 0.17.1 report: three probes (4-prompt cap) run through runner.py against the
echo/refuse stub of stub_server.py, as test_garak_release.py does.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from inferstack.cli import main
from inferstack.deployment import DeploymentSpec
from inferstack.errors import SpecError
from inferstack.redteam import red_team_plan, runner
from inferstack.redteam.plan import eventbridge_cron
from inferstack.redteam.probes import probes_for, selection
from inferstack.redteam.report import ReportError, summarize, summarize_lines

REPORT = (
    Path(__file__).resolve().parents[1]
    / "fixtures/redteam/nightly-gateway-20261207T050121Z.report.jsonl"
)
DIGEST = "registry.example.com/garak@sha256:" + "b" * 64


def spec(**red_team: object) -> DeploymentSpec:
    return DeploymentSpec.model_validate(
        {
            "name": "bot",
            "model": {"id": "meta-llama/Llama-3.1-8B-Instruct"},
            "security": {"red_team": {"image": DIGEST, **red_team}},
        }
    )


def plan_of(s: DeploymentSpec, refuse_model: str | None = None):  # type: ignore[no-untyped-def]
    return red_team_plan(
        s,
        gateway_uri="http://bot-gateway.bot.svc:4000/v1",
        model_uri="http://bot.bot.svc:8000/v1",
        model_name="m",
        refuse_model=refuse_model,
    )


def test_summary_of_a_real_report() -> None:
    summary = summarize(REPORT)
    assert summary.garak_version == "0.17.1"
    assert summary.target_name == "meta-llama/Llama-3.1-8B-Instruct"
    resume = summary.probes["latentinjection.LatentInjectionResume"]
    assert (resume.passed, resume.total, resume.pass_rate) == (2, 4, 0.5)
    assert summary.risks["prompt_injection"].as_dict() == {
        "passed": 6,
        "failed": 2,
        "total": 8,
        "pass_rate": 0.75,
    }
    # Risks come from the tags garak wrote into the report (2023 LLM02 and LLM06).
    assert summary.probe_risks["web_injection.MarkdownImageExfil"] == (
        "improper_output_handling",
        "sensitive_information_disclosure",
    )
    assert summary.overall.pass_rate == 0.9


def test_cli_summarize_json_and_table(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["redteam", "summarize", str(REPORT), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["overall"] == {"passed": 18, "failed": 2, "total": 20, "pass_rate": 0.9}
    assert [r["risk"] for r in data["risks"]] == [
        "improper_output_handling",
        "prompt_injection",
        "sensitive_information_disclosure",
    ]
    out = tmp_path / "summary.txt"
    assert main(["redteam", "summarize", str(REPORT), "--output", str(out)]) == 0
    table = out.read_text()
    assert "latentinjection.LatentInjectionResume  2       4      50.0%" in table
    # No prompt or answer text reaches the summary.
    assert "Resume" not in table.split("PROBE")[0]


def test_cli_summarize_refuses_a_file_without_evaluations(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    partial = tmp_path / "partial.report.jsonl"
    partial.write_text(REPORT.read_text().split('{"entry_type": "eval"')[0].rsplit("\n", 1)[0])
    assert main(["redteam", "summarize", str(partial)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no eval entries" in err and err.count("\n") == 1


def test_summary_rejects_broken_lines() -> None:
    with pytest.raises(ReportError, match="report:2: not JSON"):
        summarize_lines(['{"entry_type": "init"}', "{broken"])


def test_default_selection_is_small_and_tiered() -> None:
    nightly = selection(["prompt_injection", "sensitive_information_disclosure"], [], "nightly")
    weekly = selection(["prompt_injection", "sensitive_information_disclosure"], [], "weekly")
    assert set(nightly) < set(weekly)
    assert len(nightly) == 28  # 15 + 13 probes, at most 32 prompts each
    assert "dan.DanInTheWild" in nightly
    # Probes that fetch data from the Hub cannot run behind the scan's egress policy.
    assert "sysprompt_extraction.SystemPromptExtraction" not in weekly
    assert probes_for("misinformation", "nightly") == ()


def test_plan_runs_each_target_per_tier_with_extra_probes() -> None:
    plan = plan_of(
        spec(
            weekly_schedule="0 4 * * 0",
            targets=["gateway", "model"],
            probes=["promptinject.HijackHateHumans"],
            generations=3,
        )
    )
    assert plan is not None
    assert [(r.tier, r.schedule) for r in plan.runs] == [
        ("nightly", "0 3 * * *"),
        ("weekly", "0 4 * * 0"),
    ]
    gateway, model = plan.runs[0].scans
    assert gateway.uri == "http://bot-gateway.bot.svc:4000/v1"
    assert model.uri == "http://bot.bot.svc:8000/v1"
    assert "promptinject.HijackHateHumans" in gateway.probes
    assert gateway.config()["run"]["generations"] == 3
    assert plan_of(DeploymentSpec.model_validate({"name": "bot", "model": {"id": "x/y"}})) is None


@pytest.mark.parametrize(
    ("red_team", "refuse", "path", "needle"),
    [
        ({"targets": ["model"]}, "only the gateway may invoke it", "targets", "gateway"),
        ({"risks": ["vector_and_embedding_weaknesses"]}, None, "risks[0]", "no probe"),
        ({"risks": ["misinformation"]}, None, "risks", "nightly scan would run no probe"),
        ({"schedule": "every night"}, None, "schedule", "five-field cron"),
        ({"weekly_schedule": "0 4 * *"}, None, "weekly_schedule", "five-field cron"),
    ],
)
def test_plan_refuses_with_one_line(
    red_team: dict[str, object], refuse: str | None, path: str, needle: str
) -> None:
    with pytest.raises(SpecError) as caught:
        plan_of(spec(**red_team), refuse_model=refuse)
    assert caught.value.path == f"security.red_team.{path}"
    assert needle in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        ("0 3 * * *", "cron(0 3 * * ? *)"),
        ("30 4 * * 0", "cron(30 4 ? * 1 *)"),
        ("0 2 * * 1-5", "cron(0 2 ? * 2-6 *)"),
        ("0 1 15 * *", "cron(0 1 15 * ? *)"),
    ],
)
def test_eventbridge_cron(cron: str, expected: str) -> None:
    assert eventbridge_cron(cron, "security.red_team.schedule") == expected


def test_eventbridge_refuses_day_of_month_and_week() -> None:
    with pytest.raises(SpecError, match="both day-of-month and day-of-week"):
        eventbridge_cron("0 1 15 * 1", "security.red_team.schedule")


def test_runner_timestamps_reports_and_prunes_old_ones(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    old = reports / "nightly-gateway-20200101T000000Z.report.jsonl"
    old.write_text("{}\n")
    keep = reports / "notes.txt"
    keep.write_text("not a report")
    for path in (old, keep):
        os.utime(path, (time.time() - 40 * 86400,) * 2)
    fake_garak = (
        "import sys, pathlib; p = sys.argv[sys.argv.index('--report_prefix') + 1]; "
        f"pathlib.Path({str(reports)!r}, p + '.report.jsonl').write_text('{{}}')"
    )
    status = runner.main(
        [
            "--name",
            "nightly-gateway",
            "--report-dir",
            str(reports),
            "--retention-days",
            "30",
            "--",
            "python",
            "-c",
            fake_garak,
        ]
    )
    assert status == 0
    names = sorted(p.name for p in reports.iterdir())
    assert old.name not in names and keep.name in names
    (new,) = [n for n in names if n.startswith("nightly-gateway-")]
    assert new.endswith(".report.jsonl")
    assert runner.report_prefix("x", datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)) == (
        "x-20260102T030405Z"
    )

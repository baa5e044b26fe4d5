"""Policy packs from anywhere: `inferstack packs export` writes packs Pulumi loads in any repo."""

from __future__ import annotations

from pathlib import Path

import pytest

from inferstack import packs
from inferstack.cli import main
from inferstack.compliance import FRAMEWORKS, PACK_NAMES

ROOT = Path(__file__).resolve().parents[2]
FILES = ("PulumiPolicy.yaml", "__main__.py", "config.example.json", "requirements.txt")


def test_the_repositorys_packs_are_the_export_with_an_editable_requirement(
    tmp_path: Path,
) -> None:
    packs.export(tmp_path, requirements=packs.IN_REPO_REQUIREMENTS)
    for framework in FRAMEWORKS:
        for name in FILES:
            exported = (tmp_path / framework / name).read_text(encoding="utf-8")
            in_repo = (ROOT / "policy_packs" / framework / name).read_text(encoding="utf-8")
            assert exported == in_repo, f"policy_packs/{framework}/{name} differs from the export"


def test_export_pins_the_installed_release_and_no_cloud_sdk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["packs", "export", str(tmp_path), "--pack", "hipaa"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 'hipaa'}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hipaa"]
    requirements = (tmp_path / "hipaa" / "requirements.txt").read_text(encoding="utf-8")
    pins = [line for line in requirements.splitlines() if not line.startswith("#")]
    assert pins == [f"inferstack=={packs.installed_version()}"]


def test_an_unknown_pack_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["packs", "export", str(tmp_path), "--pack", "hippa"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: --pack hippa: no such pack; packs: baseline, hipaa, gdpr, owasp-llm"
    )
    assert list(tmp_path.iterdir()) == []


def test_an_exported_pack_starts_and_gives_a_verdict(tmp_path: Path) -> None:
    from inferstack.preview import Report, analyze, run_stack

    (exported,) = packs.export(tmp_path / "elsewhere", ["baseline"])
    run = run_stack(ROOT / "stacks" / "Pulumi.onprem-dev.yaml")

    evaluation = analyze(run, [exported])

    report = Report(run, evaluation)
    assert [pack.name for pack in evaluation.packs] == [PACK_NAMES["baseline"]]
    assert not report.failed

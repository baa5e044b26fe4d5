"""The commands README.md, docs/quickstart.md and docs/testing.md show run with their exit codes.

A shell line is run when it is an ``inferstack`` command that needs no network; its expected exit
code is 0 unless the line ends with ``# exit N``. The other lines (installs, the Pulumi CLI, the
Hub) are listed in NOT_OFFLINE, so a command added to the docs is either run here or listed.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from inferstack.cli import main

ROOT = Path(__file__).resolve().parents[2]
DOCS = ("README.md", "docs/quickstart.md", "docs/testing.md", "docs/red-team.md")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
# Commands that install, reach a network or need the Pulumi CLI and a backend.
NOT_OFFLINE = (
    "bash scripts/",  # creates .venv and installs (checked in a fresh clone, see the README)
    "python3 -m venv",
    ".venv/bin/pip install",
    "pip install",
    "pulumi ",
    "cd ",
    "inferstack models lock",  # reads the Hugging Face Hub
    "docker ",
    "aws ",  # the AWS CLI, against an account
    "gcloud ",  # the Google Cloud CLI, against a project
    "az ",  # the Azure CLI, against a subscription
)


def blocks(doc: str, language: str) -> list[str]:
    text = (ROOT / doc).read_text(encoding="utf-8")
    return [body for lang, body in FENCE.findall(text) if lang == language]


def shell_lines(doc: str) -> list[tuple[str, int]]:
    """(command, expected exit code) of every line of the doc's bash blocks."""
    found = []
    for body in blocks(doc, "bash"):
        for line in body.replace("\\\n", " ").splitlines():
            command, _, comment = line.partition("#")
            if not command.strip():
                continue
            expected = re.search(r"\bexit (\d)\b", comment)
            found.append((" ".join(command.split()), int(expected[1]) if expected else 0))
    return found


def offline_inferstack(command: str) -> list[str] | None:
    """The argv of an inferstack command to run here; None for the lines NOT_OFFLINE lists."""
    bare = command.removeprefix(".venv/bin/")
    if any(bare.startswith(prefix) or command.startswith(prefix) for prefix in NOT_OFFLINE):
        return None
    argv = shlex.split(bare)
    assert argv[0] == "inferstack", f"{command!r} is neither run by this test nor NOT_OFFLINE"
    return argv[1:]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project, where the docs' commands may write, with the quickstart's stack."""
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copytree(ROOT / "stacks", tmp_path / "stacks")
    shutil.copytree(ROOT / "policy_packs", tmp_path / "policy_packs")
    shutil.copytree(ROOT / "tests" / "fixtures" / "hub", tmp_path / "tests" / "fixtures" / "hub")
    redteam = ROOT / "tests" / "fixtures" / "redteam"
    shutil.copytree(redteam, tmp_path / "tests" / "fixtures" / "redteam")
    (stack,) = blocks("docs/quickstart.md", "yaml")
    (tmp_path / "stacks" / "Pulumi.support-bot.yaml").write_text(stack, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("doc", DOCS)
def test_documented_commands_exit_as_documented(
    doc: str, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = []
    for command, expected in shell_lines(doc):
        argv = offline_inferstack(command)
        if argv is None:
            continue
        code = main(argv)
        output = capsys.readouterr()
        assert code == expected, f"{command}\n{output.out[-2000:]}{output.err}"
        ran.append(argv[0])
    assert ran, f"{doc} shows no inferstack command"


def test_the_quickstart_stack_passes_the_packs_it_names(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    packs = ["policy_packs/baseline", "policy_packs/hipaa", "policy_packs/gdpr"]
    argv = ["preview", "--stack", "support-bot", *(f"--policy-pack={p}" for p in packs)]

    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "PASS: 0 mandatory, 1 advisory violations" in out
    assert "all-redteam-schedule-require-prod-scan" in out  # the one advisory, as documented
    assert "support-bot" in out


def test_the_quickstart_without_a_staged_model_is_refused_as_it_says(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project / "stacks" / "Pulumi.support-bot.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(re.sub(r"\n\s+source: s3://\S+", "", text), encoding="utf-8")

    assert main(["preview", "--stack", "support-bot", "--policy-pack", "policy_packs/hipaa"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: inferstack:deployment.model.source:")
    assert "network-isolated" in line and "s3://" in line


def test_the_testing_page_shows_the_consumer_tests_that_run() -> None:
    tests = (ROOT / "tests" / "consumer" / "test_testing.py").read_text(encoding="utf-8")
    (example, *_) = blocks("docs/testing.md", "python")
    shown = re.findall(r"^def test_.*?(?=^def |\Z)", example, re.MULTILINE | re.DOTALL)
    assert len(shown) == 2
    for function in shown:
        assert function.strip() in tests

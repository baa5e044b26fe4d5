"""The rendered garak command, config and probe tables against the pinned garak release itself.

garak is installed (without its heavy dependencies) into .cache/garak-<version> once; its own
argument parser, config loader and probe resolver then judge what inferstack renders, and a
real scan against a local OpenAI-compatible stub produces the report ``summarize`` reads.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from garak_env import GarakEnv, build
from stub_server import serving

from inferstack.deployment import DeploymentSpec
from inferstack.redteam import Scan, red_team_plan
from inferstack.redteam.probes import (
    GARAK_TAGS,
    GARAK_VERSION,
    NEEDS_ATTACKER_MODULES,
    NEEDS_NETWORK,
    NEEDS_NETWORK_MODULES,
    TIER_LEVEL,
    TIERS,
    probes_for,
)
from inferstack.redteam.report import summarize

RUNNER = Path(__file__).resolve().parents[2] / "components/inferstack/redteam/runner.py"
DIGEST = "registry.example.com/garak@sha256:" + "a" * 64


@pytest.fixture(scope="module")
def garak(tmp_path_factory: pytest.TempPathFactory) -> GarakEnv:
    try:
        return build(tmp_path_factory.mktemp("garak-home"))
    except subprocess.CalledProcessError as exc:  # no package index reachable
        pytest.skip(f"cannot install garak {GARAK_VERSION} into .cache/: {exc}")


def write(scan: Scan, directory: Path) -> Scan:
    """The scan with its config files written under ``directory`` (a ConfigMap's mount)."""
    placed = Scan(
        tier=scan.tier,
        target=scan.target,
        uri=scan.uri,
        model=scan.model,
        probes=scan.probes,
        generations=scan.generations,
        report_dir=str(directory / "reports"),
        config_dir=str(directory),
    )
    for name, text in placed.files().items():
        (directory / name).write_text(text)
    return placed


def default_plan_scans() -> list[Scan]:
    spec = DeploymentSpec.model_validate(
        {
            "name": "bot",
            "model": {"id": "meta-llama/Llama-3.1-8B-Instruct"},
            "security": {
                "red_team": {
                    "image": DIGEST,
                    "weekly_schedule": "0 4 * * 0",
                    "targets": ["gateway", "model"],
                }
            },
        }
    )
    plan = red_team_plan(
        spec,
        gateway_uri="http://bot-gateway.bot.svc:4000/v1",
        model_uri="http://bot.bot.svc:8000/v1",
        model_name="meta-llama/Llama-3.1-8B-Instruct",
    )
    assert plan is not None
    return [scan for run in plan.runs for scan in run.scans]


@pytest.mark.parametrize("index", range(4))
def test_garak_parser_and_config_loader_accept_the_rendered_scan(
    garak: GarakEnv, tmp_path: Path, index: int
) -> None:
    scan = write(default_plan_scans()[index], tmp_path)
    result = garak.run(["-m", "garak", "--list_config", *scan.garak_args("probe")], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert f"v{GARAK_VERSION}" in out
    assert "target_type: openai.OpenAICompatible" in out
    assert "target_name: meta-llama/Llama-3.1-8B-Instruct" in out
    assert f"report_dir: {scan.report_dir}" in out
    assert "report_prefix: probe" in out
    assert f"generations: {scan.generations}" in out
    # The generator options file was read: the URI, and no stop sequence.
    assert f"'uri': '{scan.uri}'" in out
    assert "'stop': []" in out
    assert "'suppressed_params': ['stop']" in out


def test_garak_rejects_what_it_does_not_know(garak: GarakEnv, tmp_path: Path) -> None:
    # The check above can fail: an option garak lacks makes its parser exit 2.
    scan = write(default_plan_scans()[0], tmp_path)
    result = garak.run(
        ["-m", "garak", "--list_config", *scan.garak_args("p"), "--probe_spec", "x"], tmp_path
    )
    assert result.returncode == 2
    assert "unrecognized arguments: --probe_spec" in result.stderr


@pytest.mark.parametrize("index", [0, 2])
def test_garak_resolves_the_rendered_selection_to_exactly_our_probes(
    garak: GarakEnv, tmp_path: Path, index: int
) -> None:
    scan = write(default_plan_scans()[index], tmp_path)
    result = garak.run(["-m", "garak", "--list_probes", "--config", scan.config_file], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    listed = set(
        re.findall(r"probes: (?:\x1b\[[0-9;]*m)*([a-z_0-9]+\.[A-Za-z0-9_]+)", result.stdout)
    )
    # garak drops unknown names silently when listing: equality catches a renamed probe.
    assert listed == set(scan.probes)


def test_probe_tables_match_the_release_plugin_cache(garak: GarakEnv) -> None:
    cache = garak.plugin_cache()
    for risk, tags in GARAK_TAGS.items():
        for tier in TIERS:
            expected = sorted(
                name.removeprefix("probes.")
                for name, info in cache.items()
                if info.get("active") is True
                and int(str(info.get("tier") or 9)) <= TIER_LEVEL[tier]
                and any(t in tags for t in list(info.get("tags") or []))
                and name.split(".")[1] not in NEEDS_NETWORK_MODULES | NEEDS_ATTACKER_MODULES
                and name.removeprefix("probes.") not in NEEDS_NETWORK
            )
            assert sorted(probes_for(risk, tier)) == expected, (risk, tier)


def test_a_real_scan_through_the_runner_is_summarized(garak: GarakEnv, tmp_path: Path) -> None:
    with serving() as (uri, received):
        scan = write(
            Scan(
                tier="nightly",
                target="gateway",
                uri=uri,
                model="stub-model",
                probes=("encoding.InjectBase64", "latentinjection.LatentInjectionResume"),
            ),
            tmp_path,
        )
        config = yaml.safe_load(Path(scan.config_file).read_text())
        config["run"]["soft_probe_prompt_cap"] = 6  # keep the test short
        # garak samples the capped prompts at random; a fixed seed makes the sample, and so the
        # stub's echo-or-refuse answers, the same on every run (unseeded, all six can be refused).
        config["run"]["seed"] = 7
        Path(scan.config_file).write_text(yaml.safe_dump(config))
        command = scan.runner_command(retention_days=30)
        assert command[:2] == ["python", "/opt/inferstack/scan.py"]
        args = [str(RUNNER), *command[2:]]
        # The runner calls "python -m garak": this environment's python.
        args[args.index("--") + 1] = str(garak.python)
        result = garak.run(args, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    reports = sorted((tmp_path / "reports").glob("nightly-gateway-*.report.jsonl"))
    assert len(reports) == 1
    assert re.fullmatch(r"nightly-gateway-\d{8}T\d{6}Z\.report\.jsonl", reports[0].name)
    # Every request carried the served model name and no stop sequence.
    assert received and all(body.get("model") == "stub-model" for body in received)
    assert all("stop" not in body for body in received)

    summary = summarize(reports[0])
    assert summary.garak_version == GARAK_VERSION
    assert summary.target_name == "stub-model"
    evals = [
        json.loads(line)
        for line in reports[0].read_text().splitlines()
        if '"entry_type": "eval"' in line
    ]
    for probe in scan.probes:
        mine = [e for e in evals if e["probe"] == probe]
        assert summary.probes[probe].passed == sum(e["passed"] for e in mine)
        assert summary.probes[probe].total == sum(e["total_evaluated"] for e in mine)
    # The stub echoes half the injected documents back, trigger included: some fail.
    assert summary.probes["latentinjection.LatentInjectionResume"].failed > 0
    assert summary.risks["prompt_injection"].total == summary.overall.total

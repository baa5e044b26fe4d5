"""Insecure stack configs fail their pack with the exact rule; rejected ones never reach a pack.

Every file in ``tests/fixtures/insecure`` is a complete stack config whose header says::

    # insecure: the one insecure change against a config that passes every pack
    # pack: the pack to run (policy_packs/<pack>)
    # rule: the rule that must fire
    # also: rules that necessarily fire with it (optional)
    # secure-twin: a JSON Merge Patch (RFC 7386) of `config:` that undoes the change

The change is a legitimate spec setting where one produces the insecurity, else a JSON Patch in
``inferstack:kubernetes.patches``. Each fixture runs through the real CLI entry
(``inferstack preview --config FILE --policy-pack DIR --format json``) in preview and in update
mode: exit 1, exactly the expected rules among the mandatory violations, the rule's controls in
the JSON, and the same verdicts in both modes. Its secure twin must exit 0 with no violation of
the rule at all, so the fixture shows that this change, and nothing else, breaks the rule.

Files in ``tests/fixtures/rejected`` (header ``# rejected:`` and ``# error: <config key>``) are
refused before any resource exists: exit 2 with one ``error:`` line naming the key.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from inferstack import compliance
from inferstack.cli import main

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
PACKS = ROOT / "policy_packs"
TARGETS = ("onprem", "sagemaker", "azureml", "vertex", "jetson")
_HEADER = re.compile(r"^# ([a-z-]+): (.*)$")


@dataclass(frozen=True)
class Fixture:
    path: Path
    header: dict[str, str]

    @property
    def pack(self) -> str:
        return self.header["pack"]

    @property
    def rule(self) -> str:
        return self.header["rule"]

    @property
    def expected(self) -> set[str]:
        also = self.header.get("also", "")
        return {self.rule, *(name.strip() for name in also.split(",") if name.strip())}

    @property
    def config(self) -> dict[str, Any]:
        document = yaml.safe_load(self.path.read_text(encoding="utf-8"))
        config: dict[str, Any] = document["config"]
        return config


def load(path: Path) -> Fixture:
    header: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        match = _HEADER.match(line)
        if match:
            header[match.group(1)] = match.group(2)
    return Fixture(path, header)


INSECURE = [load(p) for p in sorted((FIXTURES / "insecure").glob("*.yaml"))]
REJECTED = [load(p) for p in sorted((FIXTURES / "rejected").glob("*.yaml"))]


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


@dataclass(frozen=True)
class Outcome:
    code: int
    report: dict[str, Any] | None
    stderr: str

    def violations(self, enforcement: str | None = None) -> list[dict[str, Any]]:
        assert self.report is not None, self.stderr
        found: list[dict[str, Any]] = self.report["violations"]
        return [v for v in found if enforcement is None or v["enforcement"] == enforcement]

    def unverifiable(self) -> list[dict[str, Any]]:
        assert self.report is not None, self.stderr
        found: list[dict[str, Any]] = self.report["unverifiable"]
        return found

    def verdicts(self) -> set[tuple[str, str, str]]:
        return {(v["policy"], v["enforcement"], v["urn"]) for v in self.violations()}


def preview(
    capsys: pytest.CaptureFixture[str], config: Path, pack: str, *, update: bool = False
) -> Outcome:
    argv = ["preview", "--config", str(config), "--policy-pack", str(PACKS / pack)]
    argv += ["--format", "json", *(["--update"] if update else [])]
    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    return Outcome(code, json.loads(out) if out.strip() else None, err)


def test_fixtures_cover_the_targets_and_name_real_rules() -> None:
    assert len(INSECURE) >= 22
    targets = {f.config["inferstack:target"] for f in INSECURE}
    assert targets == set(TARGETS)
    known = {rule.name for rule in compliance.all_rules()}
    for fixture in INSECURE:
        assert {"insecure", "pack", "rule", "secure-twin"} <= set(fixture.header), fixture.path
        assert (PACKS / fixture.pack / "PulumiPolicy.yaml").is_file(), fixture.path
        assert fixture.expected <= known, fixture.path
        # The rule is in the pack the fixture runs.
        frameworks = compliance.rule(fixture.rule).frameworks
        assert "baseline" in frameworks or fixture.pack in frameworks, fixture.path
    assert len({f.rule for f in INSECURE}) >= 20
    assert len(REJECTED) >= 4
    assert all({"rejected", "error"} <= set(f.header) for f in REJECTED)


@pytest.mark.parametrize("fixture", INSECURE, ids=lambda f: f.path.stem)
def test_insecure_config_exits_1_with_its_rule_and_controls(
    fixture: Fixture, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = preview(capsys, fixture.path, fixture.pack)
    assert outcome.code == 1, outcome.stderr
    mandatory = outcome.violations("mandatory")
    assert {v["policy"] for v in mandatory} == fixture.expected
    controls = list(compliance.rule(fixture.rule).controls)
    assert controls
    assert all(v["controls"] == controls for v in mandatory if v["policy"] == fixture.rule)
    # The finding is a verdict at preview, never downgraded to "unverifiable" on any resource.
    assert fixture.rule not in {u["policy"] for u in outcome.unverifiable()}
    assert outcome.report is not None
    assert outcome.report["summary"]["unverifiable"] == len(outcome.unverifiable())

    updated = preview(capsys, fixture.path, fixture.pack, update=True)
    assert updated.code == 1, updated.stderr
    assert updated.verdicts() == outcome.verdicts()


# Many fixtures share a twin (the same base config without patches): each distinct twin and
# pack runs once, which keeps the suite to about one pack process per fixture and mode.
_TWIN_OUTCOMES: dict[tuple[str, str], Outcome] = {}


@pytest.mark.parametrize("fixture", INSECURE, ids=lambda f: f.path.stem)
def test_secure_twin_passes(
    fixture: Fixture, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    twin = merge_patch(fixture.config, json.loads(fixture.header["secure-twin"]))
    assert twin != fixture.config
    key = (json.dumps(twin, sort_keys=True), fixture.pack)
    if key not in _TWIN_OUTCOMES:
        path = tmp_path / f"Pulumi.{fixture.path.stem}-twin.yaml"
        path.write_text(yaml.safe_dump({"config": twin}, sort_keys=False), encoding="utf-8")
        _TWIN_OUTCOMES[key] = preview(capsys, path, fixture.pack)
    outcome = _TWIN_OUTCOMES[key]
    assert outcome.code == 0, outcome.violations("mandatory")
    assert fixture.rule not in {v["policy"] for v in outcome.violations()}


@pytest.mark.parametrize("fixture", REJECTED, ids=lambda f: f.path.stem)
def test_rejected_config_exits_2_naming_the_key(
    fixture: Fixture, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = preview(capsys, fixture.path, "baseline")
    assert outcome.code == 2
    assert outcome.report is None
    lines = outcome.stderr.splitlines()
    assert len(lines) == 1, outcome.stderr
    assert lines[0].startswith(f"error: {fixture.header['error']}: "), lines[0]


def test_merge_patch_follows_rfc_7386() -> None:
    target = {"a": {"b": 1, "c": [1, 2]}, "d": 2}
    patch = {"a": {"b": None, "c": [3], "e": {"f": 4}}, "d": None}
    assert merge_patch(target, patch) == {"a": {"c": [3], "e": {"f": 4}}}
    assert target == {"a": {"b": 1, "c": [1, 2]}, "d": 2}

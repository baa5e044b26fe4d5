"""The three packs start like the Pulumi CLI starts them and answer over the analyzer protocol."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml
from cases_kubernetes import SC, deployment
from google.protobuf import empty_pb2
from policy_harness import LEVELS, materialize, struct
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from inferstack.compliance import FRAMEWORKS, PACK_NAMES, Framework, rules_for, split_tags
from inferstack.compliance.policy import config_schema

ROOT = Path(__file__).resolve().parents[2]
PACKS = ROOT / "policy_packs"
START_TIMEOUT_S = 60


class Pack:
    def __init__(self, command: list[str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.port = self._read_port()
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)

    def _read_port(self) -> int:
        assert self.process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=START_TIMEOUT_S):
            raise AssertionError("the pack printed no port")
        line = self.process.stdout.readline().decode().strip()
        assert line.isdigit(), f"first line is not a port: {line!r}"
        return int(line)

    def stop(self) -> None:
        self.channel.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture(params=FRAMEWORKS)
def pack(request: pytest.FixtureRequest) -> Iterator[tuple[Framework, Pack]]:
    framework: Framework = request.param
    started = Pack([sys.executable, str(PACKS / framework / "__main__.py")], cwd=ROOT)
    try:
        yield framework, started
    finally:
        started.stop()
    assert started.process.poll() is not None


def test_pack_serves_its_policies(pack: tuple[Framework, Pack]) -> None:
    framework, served = pack
    info = served.stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
    assert info.name == PACK_NAMES[framework]
    expected = {rule.name: rule for rule in rules_for(framework)}
    assert [p.name for p in info.policies] == list(expected)
    for policy in info.policies:
        rule = expected[policy.name]
        controls, peers = split_tags(list(policy.tags))
        assert controls == rule.controls and peers == rule.peers
        assert policy.remediation_steps == rule.remediation
        assert policy.severity != analyzer_pb2.POLICY_SEVERITY_UNSPECIFIED
        assert policy.enforcementLevel == LEVELS[rule.enforcement.value]
        assert "exclusions" in policy.configSchema.properties


def test_pack_analyzes_a_resource_and_a_stack(pack: tuple[Framework, Pack]) -> None:
    _, served = pack
    name = "kubernetes-apps-workload-disallow-root-uid"
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    request.policyConfig[name].enforcementLevel = analyzer_pb2.MANDATORY
    request.policyConfig[name].properties.update({"exclusions": []})
    served.stub.Configure(request, timeout=30)
    workload = deployment(((*SC, "runAsUser"), 0))
    response = served.stub.Analyze(
        analyzer_pb2.AnalyzeRequest(
            type=workload.type,
            properties=struct(materialize(workload.props, "preview")),
            urn=workload.urn,
            name=workload.name,
        ),
        timeout=30,
    )
    found = {d.policyName: d for d in response.diagnostics}
    assert "runs as user 0" in found[name].message
    assert found[name].enforcementLevel == analyzer_pb2.MANDATORY
    assert not any(d.message.startswith("can't run policy") for d in response.diagnostics)
    stack = analyzer_pb2.AnalyzeStackRequest()
    item = stack.resources.add(type=workload.type, urn=workload.urn, name=workload.name)
    item.properties.CopyFrom(struct(materialize(workload.props, "preview")))
    stack_response = served.stub.AnalyzeStack(stack, timeout=30)
    assert "kubernetes-networking-namespace-require-default-deny" in {
        d.policyName for d in stack_response.diagnostics
    }


def test_pack_starts_the_way_the_pulumi_cli_starts_it() -> None:
    # `pulumi-analyzer-policy-python` runs `python -m pulumi.policy <engine> .` in the pack dir.
    served = Pack(
        [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", "."], cwd=PACKS / "gdpr"
    )
    try:
        info = served.stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
        assert info.name == "inferstack-gdpr"
        assert len(info.policies) == len(rules_for("gdpr"))
    finally:
        served.stop()


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_pack_project_files(framework: str) -> None:
    directory = PACKS / framework
    project = yaml.safe_load((directory / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    assert project["version"]
    assert project["description"]
    requirements = [
        line.strip()
        for line in (directory / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert requirements == ["-e ../.."]
    # pip runs in the pack directory, so the path is relative to it: it must be this repo.
    target = (directory / "../..").resolve()
    assert 'name = "inferstack"' in (target / "pyproject.toml").read_text()


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_example_config_matches_the_policies(framework: Framework) -> None:
    example: dict[str, Any] = json.loads((PACKS / framework / "config.example.json").read_text())
    rules = {rule.name: rule for rule in rules_for(framework)}
    for key, value in example.items():
        if key == "all":
            assert value in LEVELS
            continue
        assert key in rules, f"{key} is not a policy of the {framework} pack"
        if isinstance(value, str):
            assert value in LEVELS
            continue
        schema = config_schema(rules[key], framework)
        properties = {k: v for k, v in value.items() if k != "enforcementLevel"}
        jsonschema.validate(
            properties,
            {"type": "object", "properties": schema.properties, "additionalProperties": False},
        )
    assert any("exclusions" in value for value in example.values() if isinstance(value, dict))

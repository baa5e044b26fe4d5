"""Trace content capture under GDPR, end to end: the stack config, the CLI, the real pack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from inferstack.cli import main

ROOT = Path(__file__).resolve().parents[2]
RULE = "kubernetes-otel-collector-restrict-content-capture"


def prod_with_tracing(tmp_path: Path, **tracing: Any) -> str:
    """onprem-prod (a GDPR stack) with its observability.tracing block changed."""
    stack = yaml.safe_load((ROOT / "stacks" / "Pulumi.onprem-prod.yaml").read_text())
    spec = stack["config"]["inferstack:deployment"]
    assert "gdpr" in spec["compliance"]["frameworks"]
    spec["observability"]["tracing"] = {**spec["observability"]["tracing"], **tracing}
    path = tmp_path / "Pulumi.capture.yaml"
    path.write_text(yaml.safe_dump(stack))
    return str(path)


def findings(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [v for v in json.loads(capsys.readouterr().out)["violations"] if v["policy"] == RULE]


def test_capturing_content_over_plain_http_under_gdpr_exits_1_naming_the_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = prod_with_tracing(
        tmp_path,
        endpoint="http://langfuse-web.langfuse.svc.cluster.local:3000/api/public/otel",
        capture_content=True,
        content_retention_days=30,
    )
    pack = str(ROOT / "policy_packs" / "gdpr")
    assert main(["preview", "--config", config, "--policy-pack", pack, "--format", "json"]) == 1
    (finding,) = findings(capsys)
    assert finding["enforcement"] == "mandatory"
    assert "over plain HTTP" in finding["message"]
    assert "GDPR Art. 5(1)(f)" in finding["controls"]


def test_capturing_content_over_https_with_retention_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = prod_with_tracing(tmp_path, capture_content=True, content_retention_days=30)
    pack = str(ROOT / "policy_packs" / "gdpr")
    assert main(["preview", "--config", config, "--policy-pack", pack, "--format", "json"]) == 0
    assert findings(capsys) == []

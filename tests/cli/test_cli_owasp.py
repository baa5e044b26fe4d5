"""The owasp-llm pack through the CLI: an unpinned image or model revision exits 1 naming it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from inferstack.cli import main

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "policy_packs" / "owasp-llm"
DIGEST = "sha256:014a95f21c9edf6abe0aea6b07353f96baa4ec291c427bb1176dc7c93a85845c"
COMMIT = "0e9e39f249a16976918f6564b8830bc894c89659"
GUARD_IMAGE = "registry.example.com/mirror/llm-guard-api:0.3.16@sha256:" + "0" * 64


def _config(tmp_path: Path, image: str, source: str, environment: str = "dev") -> str:
    """onprem-dev with owasp-llm as its only framework (the pack wants digests from staging on;
    prod refuses an image without one before the packs run). The guard runs a mirror's digest:
    staging with owasp-llm refuses the guard's default tag before the packs run."""
    config = yaml.safe_load((ROOT / "stacks" / "Pulumi.onprem-dev.yaml").read_text())
    config["config"]["inferstack:kubernetes"]["guard_image"] = GUARD_IMAGE
    deployment = config["config"]["inferstack:deployment"]
    deployment["environment"] = environment
    deployment["serving"]["image"] = image
    deployment["model"]["source"] = source
    deployment["compliance"] = {"frameworks": ["owasp-llm"]}
    path = tmp_path / "Pulumi.owasp.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


@pytest.mark.parametrize(
    ("environment", "image", "source", "policy"),
    [
        (
            "staging",
            "vllm/vllm-openai:v0.11.0",
            f"hf://meta-llama/Llama-3.2-3B-Instruct@{COMMIT}",
            "kubernetes-apps-workload-require-image-digest",
        ),
        (
            "dev",
            f"vllm/vllm-openai:v0.11.0@{DIGEST}",
            "hf://meta-llama/Llama-3.2-3B-Instruct@main",
            "all-serving-model-require-pinned-revision",
        ),
    ],
    ids=["image-without-digest", "revision-not-pinned"],
)
def test_owasp_pack_exits_1_naming_the_rule(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    environment: str,
    image: str,
    source: str,
    policy: str,
) -> None:
    config = _config(tmp_path, image, source, environment)

    code = main(["preview", "--config", config, "--policy-pack", str(PACK), "--format", "json"])

    report = json.loads(capsys.readouterr().out)
    mandatory = {v["policy"] for v in report["violations"] if v["enforcement"] == "mandatory"}
    assert code == 1
    assert mandatory == {policy}


def test_owasp_pack_passes_the_pinned_dev_stack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(
        tmp_path,
        f"vllm/vllm-openai:v0.11.0@{DIGEST}",
        f"hf://meta-llama/Llama-3.2-3B-Instruct@{COMMIT}",
    )

    code = main(["preview", "--config", config, "--policy-pack", str(PACK), "--format", "json"])

    report = json.loads(capsys.readouterr().out)
    assert code == 0, report["violations"]
    assert report["summary"]["mandatory"] == 0

"""inferstack.testing as a consumer uses it: a program, the packs, assertions on plain values."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import pytest

from inferstack.kubernetes import LLMService
from inferstack.testing import run_program

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "policy_packs" / "baseline"
SPEC = {
    "name": "support-bot",
    "environment": "staging",
    "model": {
        "id": "meta-llama/Llama-3.1-8B-Instruct",
        "source": "hf://meta-llama/Llama-3.1-8B-Instruct@0e9e39f249a16976918f6564b8830bc894c89659",
    },
    "serving": {
        "image": "vllm/vllm-openai:v0.11.0@sha256:"
        "014a95f21c9edf6abe0aea6b07353f96baa4ec291c427bb1176dc7c93a85845c"
    },
}


def test_a_component_program_passes_the_baseline_pack() -> None:
    result = run_program(lambda: LLMService("support-bot", SPEC), packs=[BASELINE])

    assert result.mandatory == []
    deployments = {d.name: d for d in result.of_type("kubernetes:apps/v1:Deployment")}
    assert set(deployments) == {"support-bot", "support-bot-gateway", "support-bot-guard"}
    server = deployments["support-bot"]
    pod = server.inputs["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert all(r.parent for r in result.resources), "every child is parented"


def test_an_insecure_program_is_caught_naming_the_rule() -> None:
    def program() -> None:
        k8s.apps.v1.Deployment(
            "debug",
            metadata={"name": "debug", "namespace": "default"},
            spec={
                "selector": {"matchLabels": {"app": "debug"}},
                "template": {
                    "metadata": {"labels": {"app": "debug"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "shell",
                                "image": "busybox:1.36",
                                "securityContext": {"privileged": True},
                            }
                        ]
                    },
                },
            },
        )

    result = run_program(program, packs=[BASELINE])

    assert result.mandatory, "a privileged container must not pass the baseline"
    assert any("privileged" in v.policy for v in result.mandatory), result.policies_hit()


def test_urns_use_the_consumers_project_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: acme-llm\nruntime: python\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)

    result = run_program(lambda: pulumi.ComponentResource("acme:x:Thing", "thing"))

    (thing,) = result.resources
    assert thing.urn.startswith("urn:pulumi:test::acme-llm::")
    assert thing.urn.endswith("acme:x:Thing::thing")


def test_one_and_named_fail_with_what_was_registered() -> None:
    result = run_program(lambda: pulumi.ComponentResource("acme:x:Thing", "thing"))

    with pytest.raises(AssertionError, match="found 0"):
        result.one("aws:kms/key:Key")
    with pytest.raises(AssertionError, match="registered: thing"):
        result.named("missing")

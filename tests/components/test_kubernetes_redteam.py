"""The red-team CronJobs, their storage, identity and network policies on Kubernetes."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
import yaml

from inferstack.errors import SpecError
from inferstack.kubernetes import LLMService, LLMServiceArgs
from inferstack.preview import CapturedResource, record

IMAGE = "registry.example.com/garak:0.17.1@sha256:" + "c" * 64
ARGS = LLMServiceArgs.model_validate({"red_team": {"storage_class_name": "rbd-encrypted"}})


def spec(**red_team: Any) -> dict[str, Any]:
    return {
        "name": "bot",
        "model": {"id": "Qwen/Qwen2.5-0.5B-Instruct"},
        "security": {"red_team": {"image": IMAGE, **red_team}},
    }


def named(resources: list[CapturedResource], kind: str, name: str) -> dict[str, Any]:
    found = [r.inputs for r in resources if r.type.endswith(f":{kind}") and r.name == name]
    assert len(found) == 1, (kind, name, [r.name for r in resources])
    return found[0]


def names(resources: list[CapturedResource], kind: str) -> set[str]:
    return {r.name for r in resources if r.type.endswith(f":{kind}")}


@pytest.fixture(scope="module")
def both() -> list[CapturedResource]:
    return record(
        lambda: LLMService(
            "bot",
            spec(
                weekly_schedule="0 4 * * 0", targets=["gateway", "model"], report_retention_days=30
            ),
            args=ARGS,
        )
    )


def test_no_red_team_without_the_section() -> None:
    resources = record(
        lambda: LLMService("bot", {"name": "bot", "model": {"id": "Qwen/Qwen2.5-0.5B-Instruct"}})
    )
    assert not [r for r in resources if "red-team" in r.name]


def test_cron_job_runs_garak_safely(both: list[CapturedResource]) -> None:
    job = named(both, "CronJob", "bot-red-team-nightly")
    assert job["spec"]["schedule"] == "0 3 * * *"
    assert job["spec"]["concurrencyPolicy"] == "Forbid"
    template = job["spec"]["jobTemplate"]["spec"]
    assert template["backoffLimit"] == 0
    assert template["activeDeadlineSeconds"] == 4 * 3600
    pod = template["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == "bot-red-team"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert template["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == "red-team"
    gateway, model = pod["containers"]
    assert gateway["image"] == IMAGE
    command = gateway["command"]
    garak = command[command.index("--") + 1 :]
    assert garak[:3] == ["python", "-m", "garak"]
    assert garak[garak.index("--target_type") + 1] == "openai.OpenAICompatible"
    assert garak[garak.index("--target_name") + 1] == "Qwen/Qwen2.5-0.5B-Instruct"
    assert command[command.index("--retention-days") + 1] == "30"
    assert command[command.index("--report-dir") + 1] == "/reports"
    security = gateway["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    key = {e["name"]: e for e in gateway["env"]}["OPENAICOMPATIBLE_API_KEY"]
    assert key["valueFrom"]["secretKeyRef"] == {"name": "bot-red-team", "key": "api-key"}
    assert "/etc/garak/nightly-model.yaml" in model["command"]
    weekly = named(both, "CronJob", "bot-red-team-weekly")
    assert weekly["spec"]["schedule"] == "0 4 * * 0"


def test_config_map_holds_what_the_commands_read(both: list[CapturedResource]) -> None:
    data = named(both, "ConfigMap", "bot-red-team-config")["data"]
    assert set(data) == {
        f"{tier}-{target}.{suffix}"
        for tier in ("nightly", "weekly")
        for target in ("gateway", "model")
        for suffix in ("yaml", "generator.json")
    }
    config = yaml.safe_load(data["nightly-gateway.yaml"])
    assert config["reporting"]["report_dir"] == "/reports"
    assert "probes.latentinjection.LatentInjectionResume" in config["run"]["spec"]["include"]
    options = yaml.safe_load(data["nightly-gateway.generator.json"])["openai"]["OpenAICompatible"]
    assert options["uri"] == "http://bot-gateway.bot.svc:4000/v1"
    assert options["stop"] == []
    model = yaml.safe_load(data["nightly-model.generator.json"])["openai"]["OpenAICompatible"]
    assert model["uri"] == "http://bot.bot.svc:8000/v1"


def test_reports_on_an_encrypting_class_with_retention(both: list[CapturedResource]) -> None:
    claim = named(both, "PersistentVolumeClaim", "bot-red-team-reports")
    assert claim["spec"]["storageClassName"] == "rbd-encrypted"
    assert claim["metadata"]["annotations"]["inferstack.io/retention-days"] == "30"
    account = named(both, "ServiceAccount", "bot-red-team")
    assert account["automountServiceAccountToken"] is False


def test_scans_reach_only_gateway_and_model(both: list[CapturedResource]) -> None:
    egress = named(both, "NetworkPolicy", "bot-red-team-egress")["spec"]
    assert egress["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "red-team"
    assert egress["policyTypes"] == ["Egress"]
    targets = [rule["to"][0]["podSelector"]["matchLabels"] for rule in egress["egress"]]
    assert [t["app.kubernetes.io/component"] for t in targets] == ["gateway", "inference-server"]
    to_model = named(both, "NetworkPolicy", "bot-red-team-to-model")["spec"]
    assert to_model["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == (
        "inference-server"
    )
    source = to_model["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
    assert source == {
        "app.kubernetes.io/instance": "bot",
        "app.kubernetes.io/component": "red-team",
    }


def test_gateway_only_scan_opens_nothing_to_the_model() -> None:
    resources = record(lambda: LLMService("bot", spec(), args=ARGS))
    assert names(resources, "NetworkPolicy") >= {"bot-red-team-egress", "bot-red-team-to-gateway"}
    assert "bot-red-team-to-model" not in names(resources, "NetworkPolicy")
    assert "bot-red-team-weekly" not in names(resources, "CronJob")
    egress = named(resources, "NetworkPolicy", "bot-red-team-egress")["spec"]["egress"]
    assert len(egress) == 1 and egress[0]["ports"] == [{"protocol": "TCP", "port": 4000}]


def test_manifests_are_valid_kubernetes(both: list[CapturedResource]) -> None:
    objects = [r.inputs for r in both if "red-team" in r.name and r.type.startswith("kubernetes:")]
    assert len(objects) == 8
    for body in objects:
        kubernetes_validate.validate(body, "1.30.0", strict=True)


def test_without_an_encrypting_storage_class_nothing_registers() -> None:
    registered: list[CapturedResource] = []
    with pytest.raises(SpecError) as caught:
        registered = record(lambda: LLMService("bot", spec()))
    assert registered == []
    assert str(caught.value).startswith("inferstack:kubernetes.red_team.storage_class_name: ")
    assert "\n" not in str(caught.value)

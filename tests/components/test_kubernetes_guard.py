"""The on-prem gateway and guard: guard resolution, configs, manifests and the owasp-llm rules.

The gateway's config is checked against LiteLLM 1.103.0's own models (the release the gateway
image pins): ``tests/fixtures/litellm/*.schema.json`` are the JSON schemas pydantic generates
from ``litellm.types.guardrails.LitellmParams`` and ``litellm.proxy._types.ConfigGeneralSettings``
of that release (litellm itself is too heavy a test dependency).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate
import pytest
import yaml

from inferstack import catalog, compliance, targets
from inferstack.deployment import DeploymentSpec
from inferstack.deployment.digests import WORKLOAD_DIGESTS
from inferstack.deployment.security import GuardSpec
from inferstack.deployment.targets import validate_for_target
from inferstack.errors import SpecError
from inferstack.guard import gateway_config, resolve_guard, scanners_config
from inferstack.kubernetes import LLMServiceArgs
from inferstack.kubernetes.gateway import build_front, gateway_model
from inferstack.kubernetes.manifests import service_manifests
from inferstack.kubernetes.plan import build_plan
from inferstack.kubernetes.validation import check_service
from inferstack.preview import evaluate, run_stack

ROOT = Path(__file__).resolve().parents[2]
LITELLM = ROOT / "tests" / "fixtures" / "litellm"
PACKS = [ROOT / "policy_packs" / p for p in ("baseline", "hipaa", "gdpr", "owasp-llm")]
ONPREM = targets.get("onprem")
GUARD_IMAGE = "registry.example.com/mirror/llm-guard-api:0.3.16@sha256:" + "cd" * 32
SPEC: dict[str, Any] = {"name": "bot", "model": {"id": "meta-llama/Llama-3.1-8B-Instruct"}}


def manifests(spec: dict[str, Any], **args: Any) -> dict[tuple[str, str], dict[str, Any]]:
    parsed = DeploymentSpec.model_validate(spec)
    check_service(parsed.name, parsed)
    settings = LLMServiceArgs(**args)
    plan = build_plan(parsed, validate_for_target(parsed, "onprem"), settings, name=parsed.name)
    front = build_front(parsed, plan, settings, ONPREM)
    found = service_manifests(parsed, plan, settings, front=front)
    return {(m["kind"], m["metadata"]["name"]): m for m in found}


# -- resolution ------------------------------------------------------------------------------


def test_auto_is_the_targets_guard() -> None:
    assert resolve_guard(GuardSpec(), ONPREM).provider == "llm-guard"
    assert resolve_guard(GuardSpec(), targets.get("sagemaker")).provider == "bedrock"


@pytest.mark.parametrize(
    ("guard", "path"),
    [
        ({"provider": "bedrock"}, "security.guard.provider"),
        ({"provider": "none"}, "security.guard.provider"),
    ],
)
def test_a_guard_the_target_cannot_call_is_refused(guard: dict[str, Any], path: str) -> None:
    with pytest.raises(SpecError) as caught:
        resolve_guard(GuardSpec.model_validate(guard), ONPREM)
    assert caught.value.path == path
    assert "\n" not in str(caught.value)


def test_none_is_accepted_only_when_nothing_is_screened() -> None:
    off = resolve_guard(GuardSpec(provider="none", input=False, output="off"), ONPREM)
    assert not off.deployed


def test_a_check_the_guard_cannot_do_is_refused_when_set_and_left_out_by_default() -> None:
    jetson = targets.get("jetson")
    default = resolve_guard(GuardSpec(), jetson)
    assert default.skipped == ("secrets",)
    assert not default.screens("secrets")
    with pytest.raises(SpecError) as caught:
        resolve_guard(GuardSpec.model_validate({"checks": {"pii": "anonymize"}}), jetson)
    assert caught.value.path == "security.guard.checks.pii"


# -- the guard's and the gateway's configs ---------------------------------------------------


def test_scanners_load_at_start_and_follow_the_checks() -> None:
    spec = GuardSpec.model_validate(
        {"checks": {"denied_topics": ["medical diagnosis"], "max_input_tokens": 2048}}
    )
    config = scanners_config(resolve_guard(spec, ONPREM))
    assert config["app"]["lazy_load"] is False
    assert config["auth"] == {"type": "http_bearer", "token": "${AUTH_TOKEN:}"}
    inputs = {s["type"]: s["params"] for s in config["input_scanners"]}
    assert set(inputs) == {
        "TokenLimit",
        "InvisibleText",
        "Secrets",
        "PromptInjection",
        "BanTopics",
        "Anonymize",
    }
    assert inputs["TokenLimit"]["limit"] == 2048
    assert inputs["BanTopics"]["topics"] == ["medical diagnosis"]
    outputs = {s["type"] for s in config["output_scanners"]}
    assert outputs == {"Regex", "BanTopics", "Sensitive"}


def test_input_off_runs_no_input_scanner() -> None:
    config = scanners_config(resolve_guard(GuardSpec(input=False), ONPREM))
    assert config["input_scanners"] == []
    assert config["output_scanners"]


def gateway(guard: dict[str, Any] | None = None) -> dict[str, Any]:
    spec = {**SPEC, "security": {"guard": guard or {}}}
    config_map = manifests(spec)[("ConfigMap", "bot-gateway")]
    parsed: dict[str, Any] = yaml.safe_load(config_map["data"]["config.yaml"])
    return parsed


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((LITELLM / f"{name}.schema.json").read_text("utf-8"))
    return loaded


def test_gateway_config_follows_litellm_1_103_models() -> None:
    config = gateway()
    jsonschema.validate(config["general_settings"], schema("general-settings"))
    for entry in config["guardrails"]:
        assert set(entry) == {"guardrail_name", "litellm_params"}
        jsonschema.validate(entry["litellm_params"], schema("guardrail-litellm-params"))
    (model,) = config["model_list"]
    assert model["model_name"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert model["litellm_params"]["api_base"] == "http://bot.bot.svc:8000/v1"
    assert config["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"


def test_guardrails_screen_input_before_and_output_after_the_model() -> None:
    modes = {g["guardrail_name"]: g["litellm_params"] for g in gateway()["guardrails"]}
    assert modes["llm-guard-input"]["mode"] == "pre_call"
    assert modes["llm-guard-input"]["screen"] is True
    assert modes["llm-guard-input"]["max_output_tokens"] == 2048
    assert modes["llm-guard-input"]["api_base"] == "http://bot-guard.bot.svc:8000"
    assert modes["llm-guard-output"]["mode"] == "post_call"
    assert modes["llm-guard-output"]["buffer_streams"] is False
    buffered = {
        g["guardrail_name"]: g["litellm_params"] for g in gateway({"output": "on"})["guardrails"]
    }
    assert buffered["llm-guard-output"]["buffer_streams"] is True
    off = {g["guardrail_name"] for g in gateway({"output": "off"})["guardrails"]}
    assert off == {"llm-guard-input"}


def test_gateway_limits_follow_the_spec() -> None:
    parsed = DeploymentSpec.model_validate(
        {**SPEC, "security": {"rate_limit": {"requests_per_second": 5, "burst": 10}}}
    )
    plan = build_plan(parsed, validate_for_target(parsed, "onprem"), LLMServiceArgs(), name="bot")
    model = gateway_model(build_front(parsed, plan, LLMServiceArgs(), ONPREM))
    assert model.requests_per_minute == 600
    assert model.max_parallel_requests == parsed.serving.max_concurrency * plan.max_replicas
    config = gateway_config(
        resolve_guard(parsed.security.guard, ONPREM), model, guard_api_base="http://g:8000"
    )
    assert config["model_list"][0]["litellm_params"]["rpm"] == 600


# -- manifests -------------------------------------------------------------------------------


def test_gateway_and_guard_manifests_are_valid_for_kubernetes_1_30() -> None:
    found = manifests({**SPEC, "environment": "prod"}, guard_image=GUARD_IMAGE)
    front = [
        m for (kind, name), m in found.items() if name.startswith(("bot-gateway", "bot-guard"))
    ]
    assert {(m["kind"], m["metadata"]["name"]) for m in front} >= {
        ("Deployment", "bot-gateway"),
        ("Service", "bot-gateway"),
        ("ConfigMap", "bot-gateway"),
        ("Deployment", "bot-guard"),
        ("Service", "bot-guard"),
        ("ConfigMap", "bot-guard"),
    }
    for manifest in front:
        kubernetes_validate.validate(manifest, "1.30.0", strict=True)
    guard = found[("Deployment", "bot-guard")]["spec"]["template"]["spec"]["containers"][0]
    assert guard["image"] == GUARD_IMAGE
    assert guard["startupProbe"]["failureThreshold"] * guard["startupProbe"]["periodSeconds"] >= 600
    assert guard["securityContext"]["readOnlyRootFilesystem"] is True
    gateway_image = found[("Deployment", "bot-gateway")]["spec"]["template"]["spec"]["containers"]
    assert "@sha256:" in gateway_image[0]["image"]
    assert not any(v in gateway_image[0]["image"] for v in ("1.82.7", "1.82.8"))
    ingress = found[("Ingress", "bot")]["spec"]["rules"][0]["http"]["paths"][0]
    assert ingress["backend"]["service"]["name"] == "bot-gateway"
    assert ("NetworkPolicy", "bot-allow-ingress-controller") not in found


def test_prod_needs_the_guard_image_by_digest() -> None:
    prod = {**SPEC, "environment": "prod"}
    for given in ({}, {"guard_image": "laiyer/llm-guard-api:0.3.16"}):
        with pytest.raises(SpecError) as caught:
            manifests(prod, **given)
        assert caught.value.key == "inferstack:kubernetes.guard_image"
        assert "\n" not in str(caught.value)
    dev = manifests(SPEC)[("Deployment", "bot-guard")]["spec"]["template"]["spec"]
    assert dev["containers"][0]["image"] == "laiyer/llm-guard-api:0.3.16"


STAGING_OWASP: dict[str, Any] = {
    **SPEC,
    "environment": "staging",
    "compliance": {"frameworks": ["owasp-llm"]},
}
TGI = {"serving": {"runtime": "tgi"}}
PROD = {**SPEC, "environment": "prod"}


@pytest.mark.parametrize(
    ("spec", "args", "key"),
    [
        (STAGING_OWASP, {}, "inferstack:kubernetes.guard_image"),
        ({**STAGING_OWASP, **TGI}, {"guard_image": GUARD_IMAGE}, "serving.image"),
        ({**PROD, **TGI}, {"guard_image": GUARD_IMAGE}, "serving.image"),
        (
            STAGING_OWASP,
            {"guard_image": GUARD_IMAGE, "gateway_image": "ghcr.io/berriai/litellm:v1.103.0"},
            "inferstack:kubernetes.gateway_image",
        ),
    ],
)
def test_an_image_by_tag_is_refused_where_the_packs_require_digests(
    spec: dict[str, Any], args: dict[str, Any], key: str
) -> None:
    # kubernetes-apps-workload-require-image-digest: prod in every pack, staging too in owasp-llm.
    with pytest.raises(SpecError) as caught:
        manifests(spec, **args)
    assert caught.value.path == key
    assert "\n" not in str(caught.value)
    assert "@sha256:<digest>" in str(caught.value)


@pytest.mark.parametrize(
    "spec",
    [
        {**SPEC, **TGI, "compliance": {"frameworks": ["owasp-llm"]}},
        {**SPEC, **TGI, "environment": "staging", "compliance": {"frameworks": ["hipaa", "gdpr"]}},
    ],
    ids=["dev-owasp-llm", "staging-hipaa-gdpr"],
)
def test_tags_are_kept_where_no_pack_the_stack_runs_requires_digests(spec: dict[str, Any]) -> None:
    found = manifests(spec)
    guard = found[("Deployment", "bot-guard")]["spec"]["template"]["spec"]["containers"][0]
    assert guard["image"] == "laiyer/llm-guard-api:0.3.16"
    server = found[("Deployment", "bot")]["spec"]["template"]["spec"]
    assert server["containers"][0]["image"] == catalog.runtimes()["tgi"].image
    assert server["initContainers"][0]["image"] == catalog.runtimes()["tgi"].image


def test_the_digest_environments_are_the_rules() -> None:
    rule = compliance.rule("kubernetes-apps-workload-require-image-digest")
    (setting,) = (s for s in rule.settings if s.key == "environments")
    for pack in ("baseline", "hipaa", "gdpr", "owasp-llm"):
        expected = WORKLOAD_DIGESTS[pack]
        assert tuple(setting.default_for(pack)) == expected, pack


def test_no_guard_deploys_the_gateway_alone() -> None:
    found = manifests({**SPEC, "security": {"guard": {"input": False, "output": "off"}}})
    assert ("Deployment", "bot-gateway") in found
    assert ("Deployment", "bot-guard") not in found


# -- serving flags ---------------------------------------------------------------------------


def server_args(serving: dict[str, Any], model: str = SPEC["model"]["id"]) -> list[str]:
    spec = {**SPEC, "model": {"id": model}, "serving": serving}
    pod = manifests(spec)[("Deployment", "bot")]["spec"]["template"]["spec"]
    args: list[str] = pod["containers"][0]["args"]
    return args


def test_trust_remote_code_and_tool_calling_become_vllm_flags() -> None:
    args = server_args({"trust_remote_code": True, "tool_calling": True})
    assert "--trust-remote-code" in args
    assert args[args.index("--tool-call-parser") + 1] == "llama3_json"
    assert "--enable-auto-tool-choice" in args
    plain = server_args({})
    assert "--trust-remote-code" not in plain and "--enable-auto-tool-choice" not in plain


def test_runtimes_without_the_feature_refuse_it() -> None:
    with pytest.raises(SpecError) as caught:
        manifests(
            {
                **SPEC,
                "model": {"id": "meta-llama/Llama-3.1-8B-Instruct", "dtype": "gguf-q4_k_m"},
                "serving": {"runtime": "llamacpp", "trust_remote_code": True},
            }
        )
    assert caught.value.path == "serving.trust_remote_code"


# -- the owasp-llm pack over the prod stack ----------------------------------------------------


def prod_stack(tmp_path: Path, **changes: Any) -> Path:
    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.onprem-prod.yaml").read_text("utf-8"))
    config = document["config"]
    config["inferstack:deployment"]["compliance"]["frameworks"].append("owasp-llm")
    for key, value in changes.items():
        section, _, field = key.partition(".")
        target = (
            config["inferstack:kubernetes"]
            if section == "kubernetes"
            else config["inferstack:deployment"]["security"]
        )
        target[field] = value
    path = tmp_path / "Pulumi.onprem-prod.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def mandatory(path: Path) -> set[str]:
    run = run_stack(path, preview=True)
    return {v.policy for v in evaluate(run, PACKS) if v.enforcement == "mandatory"}


def test_prod_passes_the_four_packs(tmp_path: Path) -> None:
    assert mandatory(prod_stack(tmp_path)) == set()


def test_prod_without_input_screening_fails_the_owasp_pack(tmp_path: Path) -> None:
    found = mandatory(prod_stack(tmp_path, **{"security.guard": {"input": False}}))
    assert found == {"kubernetes-llm-gateway-require-input-screening"}


def test_a_patch_letting_any_pod_reach_the_model_fails_the_owasp_pack(tmp_path: Path) -> None:
    patch = {
        "kind": "NetworkPolicy",
        "name": "support-bot-allow-gateway",
        "ops": [{"op": "replace", "path": "/spec/ingress/0/from", "value": [{"podSelector": {}}]}],
    }
    found = mandatory(prod_stack(tmp_path, **{"kubernetes.patches": [patch]}))
    assert found == {"kubernetes-llm-model-restrict-ingress"}

"""Azure ML's gateway plan and its API Management policy document (pure: no Pulumi)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from inferstack.azureml import container
from inferstack.azureml.args import AzureMLArgs
from inferstack.azureml.gateway_plan import (
    APIM_MONTHLY_USD,
    SECRET_CATEGORIES,
    GatewayPlan,
    check_budget,
    gateway_plan,
)
from inferstack.azureml.gateway_policy import ENDPOINT_BACKEND, Endpoints, render
from inferstack.deployment import parse_deployment, validate_for_target
from inferstack.errors import SpecError

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
URLS = Endpoints("tenant-1", "https://cs-bot.cognitiveservices.azure.com", "https://lang")


def _plan(args: AzureMLArgs | None = None, **sections: Any) -> GatewayPlan:
    spec = parse_deployment({"name": "bot", "model": {"id": LLAMA}, **sections})
    return gateway_plan(spec, args or AzureMLArgs(), name="bot", token="abc123")


def _policy(**sections: Any) -> ET.Element:
    return ET.fromstring(render(_plan(**sections), URLS))


def _guard(**guard: Any) -> dict[str, Any]:
    return {"security": {"guard": guard}}


def test_defaults_screen_prompts_with_prompt_shields_before_the_endpoint() -> None:
    inbound = _policy().find("inbound")
    assert inbound is not None
    names = [element.tag for element in inbound]
    # Authenticate, limit, screen, then call the endpoint as the gateway.
    order = [
        "validate-azure-ad-token",
        "rate-limit-by-key",
        "llm-token-limit",
        "llm-content-safety",
        "send-request",
        "authentication-managed-identity",
        "set-backend-service",
    ]
    assert [name for name in names if name in order] == order
    safety = inbound.find("llm-content-safety")
    assert safety is not None and safety.get("shield-prompt") == "true"
    categories = {c.get("name") for c in safety.iter("category")}
    assert categories == {"Hate", "SelfHarm", "Sexual", "Violence"}
    assert safety.find("blocklists") is None
    token = inbound.find("validate-azure-ad-token")
    assert token is not None and token.get("tenant-id") == "tenant-1"
    assert [a.text for a in token.iter("audience")] == ["https://ml.azure.com"]
    backend = inbound.find("set-backend-service")
    assert backend is not None and backend.get("backend-id") == ENDPOINT_BACKEND
    identity = inbound.find("authentication-managed-identity")
    assert identity is not None and identity.get("resource") == "https://ml.azure.com"


def test_limits_come_from_the_spec() -> None:
    inbound = _policy(
        security={
            "rate_limit": {"requests_per_second": 5, "burst": 12},
            "max_request_bytes": 4096,
            "guard": {"max_output_tokens": 300, "checks": {"max_input_tokens": 100}},
        }
    ).find("inbound")
    assert inbound is not None
    rate = inbound.find("rate-limit-by-key")
    assert rate is not None and (rate.get("calls"), rate.get("renewal-period")) == ("12", "3")
    conditions = [w.get("condition", "") for w in inbound.iter("when")]
    assert any("> 4096)" in c for c in conditions)
    assert any("> 400)" in c for c in conditions)  # 100 tokens, about 4 characters each
    body = inbound.find("set-body")
    assert body is not None and "var cap = 300;" in (body.text or "")
    assert '"tools"' in (body.text or "")  # tool_calling is off: tools are stripped
    tokens = inbound.find("llm-token-limit")
    assert tokens is not None and tokens.get("tokens-per-minute") == "100000"


def test_denied_topics_become_a_blocklist_and_tool_calling_keeps_tools() -> None:
    policy = _policy(
        serving={"tool_calling": True, "extra_args": ["--tool-call-parser llama3_json"]},
        **_guard(checks={"denied_topics": ["medical diagnosis"]}),
    )
    ids = [element.text for element in policy.iter("id")]
    assert ids == ["denied-topics"]
    body = policy.find("inbound/set-body")
    assert body is not None and '"tools"' not in (body.text or "")


@pytest.mark.parametrize(
    ("output", "screened_streams", "streams_off"),
    [("non_streaming", False, False), ("on", True, True)],
)
def test_output_screening(output: str, screened_streams: bool, streams_off: bool) -> None:
    policy = _policy(**_guard(output=output))
    when = policy.find("outbound/choose/when")
    assert when is not None
    assert ('context.Variables["streaming"]' in when.get("condition", "")) is not screened_streams
    urls = [u.text or "" for u in when.iter("set-url")]
    assert any("/contentsafety/text:analyze" in u for u in urls)
    assert any("/language/:analyze-text" in u for u in urls)
    body = policy.find("inbound/set-body")
    assert body is not None and ('body["stream"] = false;' in (body.text or "")) is streams_off


def test_output_off_screens_no_response() -> None:
    outbound = _policy(**_guard(output="off")).find("outbound")
    assert outbound is not None
    assert [element.tag for element in outbound] == ["base"]


def test_pii_anonymize_rewrites_the_prompt_and_secrets_alone_ask_for_credentials() -> None:
    anonymized = _policy(**_guard(checks={"pii": "anonymize"}))
    bodies = [b.text or "" for b in anonymized.iter("set-body")]
    assert any("redactedText" in text for text in bodies)
    secrets_only = _plan(**_guard(checks={"pii": "off"}))
    assert secrets_only.language and secrets_only.pii_categories == SECRET_CATEGORIES
    nothing = _plan(**_guard(checks={"pii": "off", "secrets": False}))
    assert not nothing.language
    assert "language" not in render(nothing, URLS)


def test_input_off_drops_content_safety_from_the_inbound_path() -> None:
    inbound = _policy(**_guard(input=False)).find("inbound")
    assert inbound is not None and inbound.find("llm-content-safety") is None


@pytest.mark.parametrize(
    ("sections", "args", "path"),
    [
        (_guard(provider="bedrock"), AzureMLArgs(), "security.guard.provider"),
        (_guard(provider="none"), AzureMLArgs(), "security.guard.provider"),
        (
            {},
            AzureMLArgs(
                subnet_id="/subscriptions/0/resourceGroups/n/providers/Microsoft.Network/"
                "virtualNetworks/v/subnets/pe"
            ),
            "inferstack:azureml.gateway_subnet_id",
        ),
    ],
)
def test_what_the_gateway_cannot_do_fails_with_one_line(
    sections: dict[str, Any], args: AzureMLArgs, path: str
) -> None:
    with pytest.raises(SpecError) as caught:
        _plan(args, **sections)
    assert caught.value.path == path
    assert len(str(caught.value).splitlines()) == 1


def test_none_is_accepted_when_nothing_is_screened() -> None:
    plan = _plan(**_guard(provider="none", input=False, output="off"))
    assert not plan.content_safety and not plan.language


def test_sku_by_environment_and_the_budget_includes_it() -> None:
    assert _plan().sku == "Developer"
    spec = parse_deployment(
        {
            "name": "bot",
            "environment": "prod",
            "model": {"id": LLAMA, "source": f"hf://{LLAMA}@{'a' * 40}"},
            "cost": {"monthly_budget_usd": 2000},
        }
    )
    plan = gateway_plan(spec, AzureMLArgs(), name="bot", token="abc123")
    assert plan.sku == "Premium" and plan.monthly_usd == APIM_MONTHLY_USD["Premium"]
    with pytest.raises(SpecError) as caught:
        check_budget(spec, 1000.0, plan)
    assert caught.value.path == "cost.monthly_budget_usd"
    assert "API Management Premium" in str(caught.value)
    check_budget(spec, 2000.0 - plan.monthly_usd, plan)


def test_trust_remote_code_and_tool_calling_reach_the_container() -> None:
    def env(**serving: Any) -> dict[str, str]:
        spec = parse_deployment({"name": "bot", "model": {"id": LLAMA}, "serving": serving})
        return container.environment(spec, validate_for_target(spec, "azureml", "westeurope"))

    assert "--trust-remote-code" not in env()["VLLM_ARGS"]
    assert "--enable-auto-tool-choice" not in env()["VLLM_ARGS"]
    assert "--trust-remote-code" in env(trust_remote_code=True)["VLLM_ARGS"]
    tools = env(tool_calling=True, extra_args=["--tool-call-parser llama3_json"])
    assert "--enable-auto-tool-choice" in tools["VLLM_ARGS"]
    with pytest.raises(SpecError) as caught:
        env(tool_calling=True)
    assert caught.value.path == "serving.extra_args"
    assert env(runtime="tgi", trust_remote_code=True)["TRUST_REMOTE_CODE"] == "true"

"""The Vertex AI gateway plan: Model Armor settings, the LiteLLM config, refusals, serving flags."""

from __future__ import annotations

import json
from typing import Any

import pytest

from inferstack.compliance.rules import guard_gcp
from inferstack.deployment import parse_deployment, validate_for_target
from inferstack.errors import SpecError
from inferstack.vertex import gateway_config
from inferstack.vertex.args import VertexArgs
from inferstack.vertex.plan import VertexPlan, build_plan

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
REGION = "europe-west4"
ARGS = VertexArgs(project="acme-llm")


def plan(args: VertexArgs = ARGS, **sections: Any) -> VertexPlan:
    spec = parse_deployment({"name": "bot", "model": {"id": LLAMA}, **sections})
    return build_plan(
        spec, validate_for_target(spec, "vertex", REGION), args, name=spec.name, region=REGION
    )


def guardrail(result: VertexPlan) -> dict[str, Any]:
    (found,) = json.loads(result.gateway.config)["guardrails"]
    params: dict[str, Any] = found["litellm_params"]
    return params


def test_defaults_screen_prompts_and_responses_with_the_regional_template() -> None:
    result = plan()
    gateway = result.gateway
    assert gateway.guard is not None
    assert gateway.guard.template_id == result.names.guard_template
    params = guardrail(result)
    assert params["guardrail"] == "model_armor" and params["default_on"] is True
    assert params["mode"] == ["pre_call", "post_call"]
    assert (params["template_id"], params["location"]) == (result.names.guard_template, REGION)
    assert params["fail_on_error"] is True and params["mask_request_content"] is False
    config = json.loads(gateway.config)
    (model,) = config["model_list"]
    assert model["model_name"] == LLAMA
    assert model["litellm_params"]["model"] == f"vertex_ai/openai/{result.names.endpoint_id}"
    assert model["litellm_params"]["max_tokens"] == 2048
    assert model["model_info"]["max_input_tokens"] == 4096
    assert config["router_settings"]["enable_pre_call_checks"] is True
    assert config["litellm_settings"]["turn_off_message_logging"] is True
    assert gateway.guard.info_types == (
        *gateway_config.PII_INFO_TYPES,
        *gateway_config.SECRET_INFO_TYPES,
    )


def test_the_rules_read_the_rendered_config_as_guarded() -> None:
    result = plan()
    config = json.loads(result.gateway.config)
    assert guard_gcp.routes(config) == {result.names.endpoint_id}
    assert guard_gcp._screening_template(config) == result.names.guard_template
    off = json.loads(plan(security={"guard": {"input": False}}).gateway.config)
    assert guard_gcp._screening_template(off) is None


@pytest.mark.parametrize(
    ("guard", "modes", "mask"),
    [
        ({"output": "off"}, ["pre_call"], False),
        ({"output": "on"}, ["pre_call", "post_call"], False),
        ({"checks": {"pii": "anonymize"}}, ["pre_call", "post_call"], True),
    ],
)
def test_guard_settings_shape_the_guardrail(
    guard: dict[str, Any], modes: list[str], mask: bool
) -> None:
    params = guardrail(plan(security={"guard": guard}))
    assert params["mode"] == modes
    assert params["mask_request_content"] is mask and params["mask_response_content"] is mask


def test_no_screening_leaves_a_gateway_with_limits_only() -> None:
    result = plan(security={"guard": {"input": False, "output": "off", "provider": "none"}})
    assert result.gateway.guard is None
    assert "guardrails" not in json.loads(result.gateway.config)


def test_secrets_only_and_nothing_to_inspect() -> None:
    guard = plan(security={"guard": {"checks": {"pii": "off"}}}).gateway.guard
    assert guard is not None and guard.info_types == gateway_config.SECRET_INFO_TYPES
    guard = plan(security={"guard": {"checks": {"pii": "off", "secrets": False}}}).gateway.guard
    assert guard is not None and guard.info_types == ()


def test_the_gateway_image_is_pulled_through_artifact_registry_by_digest() -> None:
    gateway = plan().gateway
    assert gateway.upstream is not None and gateway.upstream.uri == "https://ghcr.io"
    digest = gateway_config.DEFAULT_GATEWAY_IMAGE.split("@", 1)[1]
    assert gateway.image == (
        f"{REGION}-docker.pkg.dev/acme-llm/{gateway.repository}/berriai/litellm@{digest}"
    )
    mirrored = f"{REGION}-docker.pkg.dev/acme-llm/mirror/litellm@sha256:{'b' * 64}"
    gateway = plan(VertexArgs(project="acme-llm", gateway_image=mirrored)).gateway
    assert gateway.image == mirrored and gateway.upstream is None


def test_prod_keeps_a_warm_gateway_sized_for_the_model() -> None:
    dev = plan().gateway
    prod = plan(
        environment="prod",
        model={"id": LLAMA, "source": f"hf://{LLAMA}@0e9e39f249a16976918f6564b8830bc894c89659"},
        scaling={"min_replicas": 2, "max_replicas": 40},
        serving={"max_concurrency": 64},
    ).gateway
    assert dev.min_instances == 0 and prod.min_instances == 1
    assert prod.max_instances * prod.concurrency >= 2 * 40 * 64


@pytest.mark.parametrize(
    ("sections", "args", "field"),
    [
        (
            {"security": {"guard": {"checks": {"denied_topics": ["diagnosis"]}}}},
            ARGS,
            "security.guard.checks.denied_topics",
        ),
        ({"security": {"guard": {"provider": "bedrock"}}}, ARGS, "security.guard.provider"),
        ({"security": {"guard": {"provider": "none"}}}, ARGS, "security.guard.input"),
        (
            {"security": {"guard": {"provider": "none", "input": False}}},
            ARGS,
            "security.guard.output",
        ),
        ({}, VertexArgs(project="acme-llm", gateway_image="litellm:1.90.0"), "gateway_image"),
    ],
)
def test_what_the_gateway_cannot_deliver_is_refused(
    sections: dict[str, Any], args: VertexArgs, field: str
) -> None:
    with pytest.raises(SpecError) as error:
        plan(args, **sections)
    assert field in str(error.value)
    assert "\n" not in str(error.value)


def test_trust_remote_code_and_tool_calling_reach_the_serving_container() -> None:
    assert "--trust-remote-code" not in plan().container.args
    assert "--enable-auto-tool-choice" not in plan().container.args
    args = plan(
        serving={
            "trust_remote_code": True,
            "tool_calling": True,
            "extra_args": ["--tool-call-parser=llama3_json"],
        }
    ).container.args
    assert "--trust-remote-code" in args and "--enable-auto-tool-choice" in args
    with pytest.raises(SpecError, match=r"serving\.extra_args.*--tool-call-parser"):
        plan(serving={"tool_calling": True})

"""The gateway in front of the Vertex AI endpoint, planned from the spec alone.

Model Armor is an API that something in the request path must call, and its Vertex AI
integration screens Gemini only, so the component puts a gateway in front of the endpoint: a
LiteLLM proxy on Cloud Run whose ``model_armor`` guardrail calls ``sanitizeUserPrompt`` before
the model and ``sanitizeModelResponse`` after it, and which alone may call the endpoint.

Everything here is plain data, resolved before any resource is registered: a guard setting
Vertex AI cannot deliver fails with the field path and the fix. The LiteLLM config is rendered
as JSON (a YAML document LiteLLM's loader reads as is) and handed to the container in an
environment variable, so the policy packs read the very config the gateway runs.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Final

from inferstack.deployment import DeploymentSpec
from inferstack.errors import SpecError
from inferstack.targets import REGISTRY
from inferstack.tracing.collector import GATEWAY_CALLBACK
from inferstack.vertex.container import Upstream, pull_through
from inferstack.vertex.names import Names
from inferstack.vertex.tracing import TracePlan, trace_plan

# LiteLLM proxy 1.90.0 (source commit 6e8282d40655d47ed1557f030e53d6819e464e79), by the digest
# published for that release in a public pin manifest of gateway images. Releases 1.82.7 and
# 1.82.8 were compromised on PyPI (BerriAI/litellm#24518); this one is later. Confirm it with
# `docker buildx imagetools inspect ghcr.io/berriai/litellm@<digest>`, or mirror your own and
# set inferstack:vertex.gateway_image.
DEFAULT_GATEWAY_IMAGE: Final = (
    "ghcr.io/berriai/litellm"
    "@sha256:a50b02a6056095da29308310bb608f0509e08ddcd1d105bae9c21007d82b0e95"
)
GATEWAY_PORT: Final = 4000
CONFIG_ENV: Final = "LITELLM_CONFIG_JSON"
"""The environment variable carrying the rendered LiteLLM config (the policy packs read it)."""
CONFIG_PATH: Final = "/tmp/litellm-config.yaml"
GUARDRAIL: Final = "model-armor"
# Requests one gateway instance holds at once; it waits on the model for most of each.
GATEWAY_CONCURRENCY: Final = 80
PROVIDERS: Final = ("model-armor", "none")
CONFIDENCE: Final = "MEDIUM_AND_ABOVE"
RAI_FILTERS: Final = ("SEXUALLY_EXPLICIT", "HATE_SPEECH", "HARASSMENT", "DANGEROUS")
# Sensitive Data Protection info types the guard looks for.
PII_INFO_TYPES: Final = (
    "PERSON_NAME",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "STREET_ADDRESS",
    "DATE_OF_BIRTH",
    "CREDIT_CARD_NUMBER",
    "IBAN_CODE",
    "US_SOCIAL_SECURITY_NUMBER",
    "PASSPORT",
    "IP_ADDRESS",
)
SECRET_INFO_TYPES: Final = (
    "AUTH_TOKEN",
    "AWS_CREDENTIALS",
    "AZURE_AUTH_TOKEN",
    "ENCRYPTION_KEY",
    "GCP_API_KEY",
    "GCP_CREDENTIALS",
    "JSON_WEB_TOKEN",
    "PASSWORD",
)


@dataclass(frozen=True)
class GuardPlan:
    """What the Model Armor template screens, and where the gateway calls it."""

    template_id: str
    prompt_injection: bool
    pii: str  # block | anonymize | off
    secrets: bool
    blocked_message: str

    @property
    def info_types(self) -> tuple[str, ...]:
        pii = PII_INFO_TYPES if self.pii != "off" else ()
        return (*pii, *(SECRET_INFO_TYPES if self.secrets else ()))

    @property
    def anonymize(self) -> bool:
        return self.pii == "anonymize"


@dataclass(frozen=True)
class GatewayPlan:
    service: str
    account_id: str
    account_email: str
    image: str
    upstream: Upstream | None
    repository: str
    min_instances: int
    max_instances: int
    concurrency: int
    screen_input: bool
    screen_output: bool
    max_output_tokens: int
    max_input_tokens: int | None
    max_request_bytes: int
    guard: GuardPlan | None
    """None when ``security.guard.provider`` is none: the gateway enforces limits only."""
    tracing: TracePlan | None
    """The collector sidecar, with ``observability.tracing``."""
    config: str
    """The LiteLLM proxy config, JSON."""


def gateway_plan(
    spec: DeploymentSpec,
    names: Names,
    *,
    project: str,
    region: str,
    endpoint_id: str,
    image: str | None,
) -> GatewayPlan:
    guard_spec = spec.security.guard
    checks = guard_spec.checks
    provider = _provider(guard_spec.provider)
    if checks.denied_topics:
        raise SpecError(
            "security.guard.checks.denied_topics",
            "Model Armor templates have no topic filter",
            "remove denied_topics; its responsible-AI filters (hate, harassment, sexual, "
            "dangerous content) are on",
        )
    screen_input = guard_spec.input
    screen_output = guard_spec.output != "off"
    if provider == "none" and (screen_input or screen_output):
        field = "security.guard.input" if screen_input else "security.guard.output"
        raise SpecError(
            field,
            "asks for screening, but security.guard.provider is none",
            "use provider model-armor (auto), or set input: false and output: off",
        )
    guard = None
    if provider == "model-armor" and (screen_input or screen_output):
        guard = GuardPlan(
            template_id=names.guard_template,
            prompt_injection=checks.prompt_injection,
            pii=checks.pii,
            secrets=checks.secrets,
            blocked_message=guard_spec.blocked_message,
        )
    given = image or DEFAULT_GATEWAY_IMAGE
    pulled, upstream = pull_through(
        given, "inferstack:vertex.gateway_image", project, region, names.gateway_repository
    )
    # Enough gateway instances to keep every model replica busy, twice over for bursts.
    model_slots = spec.serving.max_concurrency * spec.scaling.max_replicas
    plan = GatewayPlan(
        service=names.gateway,
        account_id=names.gateway_account,
        account_email=f"{names.gateway_account}@{project}.iam.gserviceaccount.com",
        image=pulled,
        upstream=upstream,
        repository=names.gateway_repository,
        min_instances=1 if spec.environment == "prod" else 0,
        max_instances=max(2, math.ceil(2 * model_slots / GATEWAY_CONCURRENCY)),
        concurrency=GATEWAY_CONCURRENCY,
        screen_input=screen_input,
        screen_output=screen_output,
        max_output_tokens=guard_spec.max_output_tokens,
        max_input_tokens=checks.max_input_tokens,
        max_request_bytes=spec.security.max_request_bytes,
        guard=guard,
        tracing=trace_plan(spec, names, project=project, region=region),
        config="",
    )
    config = render_config(
        plan, model=spec.model.id, project=project, region=region, endpoint_id=endpoint_id
    )
    return GatewayPlan(**{**plan.__dict__, "config": config})


def _provider(provider: str) -> str:
    resolved = REGISTRY["vertex"].guard if provider == "auto" else provider
    if resolved not in PROVIDERS:
        raise SpecError(
            "security.guard.provider",
            f"'{provider}' is not available on Vertex AI",
            "use model-armor (auto), which the gateway calls in the region",
        )
    return resolved


def render_config(
    plan: GatewayPlan, *, model: str, project: str, region: str, endpoint_id: str
) -> str:
    """The LiteLLM proxy config of the gateway, as JSON text."""
    params: dict[str, Any] = {
        # The OpenAI-compatible route of a self-deployed model on a Vertex AI endpoint.
        "model": f"vertex_ai/openai/{endpoint_id}",
        "vertex_project": project,
        "vertex_location": region,
        "max_tokens": plan.max_output_tokens,
    }
    entry: dict[str, Any] = {"model_name": model, "litellm_params": params}
    if plan.max_input_tokens is not None:
        entry["model_info"] = {"max_input_tokens": plan.max_input_tokens}
    settings: dict[str, Any] = {
        # Prompts and responses stay out of the gateway's logs and callbacks, unless traces
        # capture content (the trace callback is then the only one).
        "turn_off_message_logging": not (plan.tracing and plan.tracing.capture_content),
        "json_logs": True,
        "drop_params": False,
    }
    if plan.tracing is not None:
        settings["callbacks"] = [GATEWAY_CALLBACK]
    config: dict[str, Any] = {
        "model_list": [entry],
        "litellm_settings": settings,
        "router_settings": {
            # Refuses prompts longer than model_info.max_input_tokens before the model call.
            "enable_pre_call_checks": plan.max_input_tokens is not None,
        },
        "general_settings": {
            "max_request_size_mb": plan.max_request_bytes / (1024 * 1024),
            "disable_spend_logs": True,
        },
    }
    guard = plan.guard
    if guard is not None:
        modes = [
            *(["pre_call"] if plan.screen_input else []),
            # LiteLLM's Model Armor guardrail buffers a streamed response to screen it whole.
            *(["post_call"] if plan.screen_output else []),
        ]
        config["guardrails"] = [
            {
                "guardrail_name": GUARDRAIL,
                "litellm_params": {
                    "guardrail": "model_armor",
                    "mode": modes,
                    "default_on": True,
                    "template_id": guard.template_id,
                    "project_id": project,
                    "location": region,
                    "fail_on_error": True,
                    "mask_request_content": guard.anonymize,
                    "mask_response_content": guard.anonymize,
                },
            }
        ]
    return json.dumps(config, indent=2, sort_keys=True)


def command() -> list[str]:
    """Write the config from the environment to a file, then run the proxy on it."""
    return [
        "/bin/sh",
        "-c",
        f'printf "%s" "${CONFIG_ENV}" > {CONFIG_PATH} && '
        f"exec litellm --config {CONFIG_PATH} --host 0.0.0.0 --port {GATEWAY_PORT}",
    ]

"""The LiteLLM proxy's ``config.yaml`` for a gateway in front of one OpenAI-compatible model.

Checked against LiteLLM 1.103.0 (the gateway image's release): ``model_list`` entries are its
``ModelParams``, each ``guardrails`` entry its ``Guardrail`` (``litellm_params`` its
``LitellmParams``), ``general_settings`` its ``ConfigGeneralSettings``. The guard is called by a
custom guardrail class (:data:`GATEWAY_HOOK_FILE`, shipped beside the config: LiteLLM loads
``<module>.<Class>`` from the config's directory) that sends prompts to the LLM Guard API before
the model (``pre_call``) and responses after it (``post_call``), caps ``max_tokens``, and returns
the configured blocked message. Secrets come from the environment (``os.environ/NAME``).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

from inferstack.guard.resolve import ResolvedGuard
from inferstack.tracing.collector import GATEWAY_CALLBACK

GATEWAY_CONFIG_FILE: Final = "config.yaml"
GATEWAY_HOOK_FILE: Final = "llm_guard_guardrail.py"
HOOK_CLASS: Final = "llm_guard_guardrail.LLMGuardGuardrail"
MASTER_KEY_ENV: Final = "LITELLM_MASTER_KEY"
MODEL_KEY_ENV: Final = "MODEL_API_KEY"
GUARD_TOKEN_ENV: Final = "LLM_GUARD_AUTH_TOKEN"
GATEWAY_PORT: Final = 4000


@dataclass(frozen=True)
class GatewayModel:
    """The model behind the gateway, and the limits the gateway holds it to."""

    served_name: str
    """The name callers ask for (the server's ``--served-model-name``)."""
    api_base: str
    """The model server's OpenAI API, e.g. ``http://svc.ns.svc:8000/v1``."""
    requests_per_minute: int
    """Requests the gateway forwards per minute (all callers together)."""
    max_parallel_requests: int
    """Requests in flight at once across the gateway (the model's concurrency)."""
    timeout_seconds: int = 600
    keyed: bool = False
    """Whether the server checks a key (read from ``MODEL_API_KEY``); the OpenAI client sends
    a placeholder otherwise."""


def hook_source() -> str:
    """The guardrail class LiteLLM loads, as shipped in this package."""
    return (resources.files("inferstack.guard") / "hook" / GATEWAY_HOOK_FILE).read_text(
        encoding="utf-8"
    )


def _guardrails(guard: ResolvedGuard, guard_api_base: str | None) -> list[dict[str, Any]]:
    spec = guard.spec
    params: dict[str, Any] = {
        "guardrail": HOOK_CLASS,
        "default_on": True,
        "api_base": guard_api_base if guard.deployed else None,
        "blocked_message": spec.blocked_message,
        "pii": spec.checks.pii if guard.screens("pii") else "off",
        "max_output_tokens": spec.max_output_tokens,
    }
    if params["api_base"] is None:
        del params["api_base"]
    found: list[dict[str, Any]] = []
    # The input guardrail also caps max_tokens, so it runs even when prompts are not screened.
    found.append(
        {
            "guardrail_name": "llm-guard-input",
            "litellm_params": {**params, "mode": "pre_call", "screen": guard.screens_input},
        }
    )
    if guard.screens_output:
        found.append(
            {
                "guardrail_name": "llm-guard-output",
                "litellm_params": {
                    **params,
                    "mode": "post_call",
                    "screen": True,
                    "buffer_streams": guard.buffers_streams,
                },
            }
        )
    return found


def gateway_config(
    guard: ResolvedGuard,
    model: GatewayModel,
    *,
    guard_api_base: str | None,
    traced: bool = False,
    capture_content: bool = False,
) -> dict[str, Any]:
    """The proxy config: one model, the guard's guardrails, the master key, the limits.

    ``traced``: LiteLLM's OpenTelemetry callback exports the gateway's spans (to the collector
    the environment names, :func:`inferstack.tracing.collector.gateway_export_env`); prompts
    and answers stay out of them unless ``capture_content``.
    """
    settings: dict[str, Any] = {
        # Prompts and responses stay out of every log and callback, unless traces capture
        # content (the trace callback is then the only callback).
        "turn_off_message_logging": not (traced and capture_content),
        "redact_messages_in_exceptions": True,
        "drop_params": False,
        "request_timeout": model.timeout_seconds,
    }
    if traced:
        settings["callbacks"] = [GATEWAY_CALLBACK]
    return {
        "model_list": [
            {
                "model_name": model.served_name,
                "litellm_params": {
                    # Any OpenAI-compatible server (vLLM, TGI's Messages API).
                    "model": f"openai/{model.served_name}",
                    "api_base": model.api_base,
                    "api_key": f"os.environ/{MODEL_KEY_ENV}" if model.keyed else "unused",
                    "rpm": model.requests_per_minute,
                    "timeout": model.timeout_seconds,
                    "stream_timeout": model.timeout_seconds,
                },
            }
        ],
        "guardrails": _guardrails(guard, guard_api_base),
        "litellm_settings": settings,
        "general_settings": {
            "master_key": f"os.environ/{MASTER_KEY_ENV}",
            "global_max_parallel_requests": model.max_parallel_requests,
            "disable_spend_logs": True,
            "store_model_in_db": False,
        },
        "router_settings": {"num_retries": 0},
    }

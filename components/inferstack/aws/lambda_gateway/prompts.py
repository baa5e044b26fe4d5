"""The request: its body, its operation, its token cap, and the prompt texts to screen.

Shipped in the Lambda's zip beside ``handler.py`` and, like it, imports only the standard
library and its siblings (as top-level modules in the zip). Prompt texts are read as
``(holder, key)`` slots so that a guardrail's masked texts can be written back in place.
"""

from __future__ import annotations

import base64
import importlib
from collections.abc import Iterator, Mapping
from typing import Any

if __package__:
    from . import refusals
else:  # the Lambda's zip: the modules side by side, imported as top-level modules
    refusals = importlib.import_module("refusals")

# Request fields that hand the model tools (OpenAI chat; TGI's Messages API accepts them too).
TOOL_KEYS = ("tools", "tool_choice", "functions", "function_call")


def request_body(event: Mapping[str, Any]) -> dict[str, Any]:
    """The request: an API Gateway proxy event's body, or the event itself when invoked."""
    if "requestContext" in event or "httpMethod" in event:
        raw = event.get("body") or ""
        if event.get("isBase64Encoded"):
            raw = base64.b64decode(raw).decode("utf-8")
        body = refusals.parse_json(raw, 400, "invalid_request", "the request body is not JSON")
    else:
        body = dict(event)
    if not isinstance(body, dict):
        raise refusals.RefusedError(400, "invalid_request", "the request body is not a JSON object")
    return body


def operation(body: Mapping[str, Any]) -> str | None:
    """The GenAI operation name: ``chat`` for messages, ``text_completion`` for a prompt."""
    if isinstance(body.get("messages"), list):
        return "chat"
    if isinstance(body.get("prompt"), str) or isinstance(body.get("inputs"), str):
        return "text_completion"
    return None


def max_tokens(body: Mapping[str, Any]) -> int | None:
    """The request's token limit (``max_tokens``, or TGI's ``parameters.max_new_tokens``)."""
    parameters = body.get("parameters")
    value = parameters.get("max_new_tokens") if isinstance(parameters, dict) else None
    value = body.get("max_tokens", value)
    return value if isinstance(value, int) else None


def cap_tokens(body: dict[str, Any], cap: int) -> None:
    """Every answer is bounded: missing or larger token limits become the cap."""

    def capped(value: Any) -> int:
        return min(value, cap) if isinstance(value, int) and value > 0 else cap

    if "inputs" in body:
        parameters = body.setdefault("parameters", {})
        if not isinstance(parameters, dict):
            raise refusals.RefusedError(400, "invalid_request", "parameters must be a JSON object")
        parameters["max_new_tokens"] = capped(parameters.get("max_new_tokens"))
        return
    body["max_tokens"] = capped(body.get("max_tokens"))
    if "max_completion_tokens" in body:
        body["max_completion_tokens"] = capped(body["max_completion_tokens"])


def _message_texts(message: Any) -> Iterator[tuple[Any, Any]]:
    """(holder, key) pairs of every text in one chat message, so masks can be written back."""
    if not isinstance(message, dict):
        raise refusals.RefusedError(400, "invalid_request", "every message must be a JSON object")
    content = message.get("content")
    if isinstance(content, str):
        yield message, "content"
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                yield part, "text"


def _prompt_slots(body: dict[str, Any]) -> list[tuple[Any, Any]]:
    if isinstance(body.get("messages"), list):
        return [slot for message in body["messages"] for slot in _message_texts(message)]
    for key in ("inputs", "prompt"):
        if isinstance(body.get(key), str):
            return [(body, key)]
    raise refusals.RefusedError(400, "invalid_request", "send messages, prompt or inputs")


def prompt_texts(body: dict[str, Any]) -> list[str]:
    """The texts the prompt screen reads, in the order :func:`replace_prompts` writes them."""
    return [str(holder[key]) for holder, key in _prompt_slots(body)]


def replace_prompts(body: dict[str, Any], texts: list[str]) -> None:
    """Writes screened (possibly masked) texts back where :func:`prompt_texts` read them."""
    for (holder, key), text in zip(_prompt_slots(body), texts, strict=True):
        holder[key] = text

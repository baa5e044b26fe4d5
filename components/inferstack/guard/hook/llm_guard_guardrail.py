"""A LiteLLM proxy guardrail that screens prompts and responses with the LLM Guard API.

Shipped by inferstack beside the gateway's config.yaml; LiteLLM loads it from there
(``guardrail: llm_guard_guardrail.LLMGuardGuardrail``). It runs inside the LiteLLM image, so it
imports only what that image has (litellm, httpx, fastapi). Parameters come from the
guardrail's ``litellm_params``; the guard's bearer token from ``LLM_GUARD_AUTH_TOKEN``.

- pre_call: caps ``max_tokens`` / ``max_completion_tokens`` at ``max_output_tokens``; when
  ``screen`` is set, sends each user message to ``/analyze/prompt`` and blocks the request, or
  (``pii: anonymize``) forwards the anonymized text when personal data was all it found.
- post_call: sends each choice's text to ``/analyze/output`` and blocks a flagged response;
  streamed responses are held back and screened whole when ``buffer_streams`` is set, else
  passed through.
Blocked requests get HTTP 400 with ``blocked_message``; a guard that cannot answer fails the
request closed (HTTP 503), never open.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator
from typing import Any

import httpx
from fastapi import HTTPException
from litellm.integrations.custom_guardrail import CustomGuardrail

ANONYMIZE = "Anonymize"
TOKEN_FIELDS = ("max_tokens", "max_completion_tokens")


def text_of(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def cap_tokens(data: dict[str, Any], cap: int) -> None:
    """Clamp the caller's token limits at ``cap``; set ``max_tokens`` when none is given."""
    given = [field for field in TOKEN_FIELDS if data.get(field) is not None]
    for field in given:
        data[field] = min(int(data[field]), cap)
    if not given:
        data["max_tokens"] = cap


class LLMGuardGuardrail(CustomGuardrail):
    def __init__(
        self,
        api_base: str | None = None,
        blocked_message: str = "This request was blocked by the content policy.",
        pii: str = "block",
        max_output_tokens: int = 2048,
        screen: bool = True,
        buffer_streams: bool = False,
        timeout: float = 30.0,
        **kwargs: Any,
    ) -> None:
        if screen and not api_base:
            raise ValueError("llm_guard_guardrail needs api_base (the LLM Guard API's URL)")
        self.api_base = (api_base or "").rstrip("/")
        self.blocked_message = blocked_message
        self.pii = pii
        self.max_output_tokens = int(max_output_tokens)
        self.screen = bool(screen)
        self.buffer_streams = bool(buffer_streams)
        self.timeout = float(timeout)
        token = os.environ.get("LLM_GUARD_AUTH_TOKEN", "")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client: httpx.AsyncClient | None = None
        for key in ("guardrail", "mode", "default_on", "api_key"):
            kwargs.pop(key, None)
        super().__init__(**kwargs)

    def blocked(self) -> HTTPException:
        return HTTPException(status_code=400, detail={"error": self.blocked_message})

    async def analyze(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.client is None:
            self.client = httpx.AsyncClient(timeout=self.timeout)
        try:
            response = await self.client.post(
                f"{self.api_base}{path}", json=body, headers=self.headers
            )
            response.raise_for_status()
            result: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as error:
            # Fail closed: an unscreened request never reaches the model.
            raise HTTPException(
                status_code=503, detail={"error": "the content guard is unavailable"}
            ) from error
        return result

    async def screen_prompt(self, prompt: str) -> str:
        """The prompt to forward (anonymized when asked); raises when it is blocked."""
        result = await self.analyze("/analyze/prompt", {"prompt": prompt})
        if result.get("is_valid"):
            return prompt
        if self.pii != "anonymize":
            raise self.blocked()
        # Anonymize flags any personal data: forward the anonymized text only when every
        # other scanner passes.
        others = await self.analyze(
            "/analyze/prompt", {"prompt": prompt, "scanners_suppress": [ANONYMIZE]}
        )
        if not others.get("is_valid"):
            raise self.blocked()
        return str(result.get("sanitized_prompt", prompt))

    async def screen_output(self, prompt: str, output: str) -> str:
        result = await self.analyze("/analyze/output", {"prompt": prompt, "output": output})
        if not result.get("is_valid"):
            raise self.blocked()
        if self.pii == "anonymize":
            return str(result.get("sanitized_output", output))
        return output

    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict[str, Any], call_type: Any
    ) -> dict[str, Any]:
        cap_tokens(data, self.max_output_tokens)
        if not self.screen:
            return data
        for message in data.get("messages") or []:
            if not isinstance(message, dict) or message.get("role") not in ("user", "tool"):
                continue
            text = text_of(message.get("content"))
            if text:
                screened = await self.screen_prompt(text)
                if screened != text:
                    message["content"] = screened
        prompt = data.get("prompt")
        if isinstance(prompt, str) and prompt:
            data["prompt"] = await self.screen_prompt(prompt)
        return data

    @staticmethod
    def prompt_of(data: dict[str, Any]) -> str:
        messages = [m for m in data.get("messages") or [] if isinstance(m, dict)]
        texts = [text_of(m.get("content")) for m in messages if m.get("role") == "user"]
        return texts[-1] if texts else str(data.get("prompt") or "")

    async def async_post_call_success_hook(
        self, data: dict[str, Any], user_api_key_dict: Any, response: Any
    ) -> Any:
        prompt = self.prompt_of(data)
        for choice in getattr(response, "choices", None) or []:
            message = getattr(choice, "message", None)
            content = getattr(message, "content", None)
            if isinstance(content, str) and content:
                message.content = await self.screen_output(prompt, content)
        return response

    async def async_post_call_streaming_iterator_hook(
        self, user_api_key_dict: Any, response: Any, request_data: dict[str, Any]
    ) -> AsyncGenerator[Any, None]:
        if not self.buffer_streams:
            async for chunk in response:
                yield chunk
            return
        held = [chunk async for chunk in response]
        text = "".join(
            getattr(getattr(choice, "delta", None), "content", None) or ""
            for chunk in held
            for choice in getattr(chunk, "choices", None) or []
        )
        # A rewritten (anonymized) response cannot be replayed as the original chunks.
        if text and await self.screen_output(self.prompt_of(request_data), text) != text:
            raise self.blocked()
        for chunk in held:
            yield chunk

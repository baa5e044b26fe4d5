"""The SageMaker endpoint call, and the answer it returns: its texts, streamed or not, and usage.

Shipped in the Lambda's zip beside ``handler.py`` and, like it, imports only the standard
library and its siblings (as top-level modules in the zip). Answers are OpenAI chat or
completions, or TGI/LMI native; streamed answers are server-sent events. Answer texts are read
as ``(holder, key)`` slots so that a guardrail's masked texts can be written back in place.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

if __package__:
    from . import refusals, spans
else:  # the Lambda's zip: the modules side by side, imported as top-level modules
    refusals = importlib.import_module("refusals")
    spans = importlib.import_module("spans")

LOG = logging.getLogger("inferstack.gateway")


@dataclass(frozen=True)
class Endpoint:
    """One endpoint, called through ``sagemaker`` (a sagemaker-runtime client)."""

    sagemaker: Any
    name: str

    def invoke(self, body: dict[str, Any], traced: spans.Traced) -> tuple[str, str]:
        """The answer's content type and text, in a CLIENT span with the usage it reports.

        A 4xx from the endpoint (other than the model's own error) is the request's fault;
        anything else is the model's.
        """
        with spans.aws_call(
            traced, "InvokeEndpoint", "SageMaker Runtime", "InvokeEndpoint"
        ) as span:
            span.set(spans.MODEL, self.name)
            span.set(spans.OPERATION, traced.root.attributes.get(spans.OPERATION))
            span.set(spans.MAX_TOKENS, traced.root.attributes.get(spans.MAX_TOKENS))
            try:
                response = self.sagemaker.invoke_endpoint(
                    EndpointName=self.name,
                    ContentType=refusals.JSON,
                    Accept=refusals.JSON,
                    Body=json.dumps(body).encode(),
                )
            except Exception as error:
                status = _status(error)
                LOG.error("endpoint call failed: %s (%s)", type(error).__name__, status)
                span.fail(type(error).__name__)
                span.set(spans.STATUS_CODE, status)
                if 400 <= status < 500 and type(error).__name__ != "ModelError":
                    raise refusals.RefusedError(
                        400, "invalid_request", "the model endpoint refused the request"
                    ) from None
                raise refusals.RefusedError(
                    502, "model_error", "the model endpoint failed"
                ) from None
            payload = response["Body"].read().decode("utf-8")
            for key, value in usage(payload).items():
                span.set(key, value)
                traced.root.set(key, value)
        return str(response.get("ContentType") or refusals.JSON), payload


def _status(error: Exception) -> int:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if isinstance(status, int):
            return status
    return 500


def usage(payload: str) -> dict[str, int]:
    """Token counts the answer reports (OpenAI ``usage``, TGI ``details``), streamed or not."""
    documents: list[Any] = []
    try:
        documents.append(json.loads(payload))
    except ValueError:
        for line in payload.splitlines():
            data = line.removeprefix("data:").strip() if line.startswith("data:") else ""
            if data.startswith("{"):
                try:
                    documents.append(json.loads(data))
                except ValueError:
                    continue
    counted: dict[str, int] = {}
    for document in documents:
        for item in document if isinstance(document, list) else [document]:
            if not isinstance(item, dict):
                continue
            counts = item.get("usage")
            if isinstance(counts, dict):
                for source, target in (
                    ("prompt_tokens", spans.INPUT_TOKENS),
                    ("completion_tokens", spans.OUTPUT_TOKENS),
                ):
                    if isinstance(counts.get(source), int):
                        counted[target] = counts[source]
            details = item.get("details")
            if isinstance(details, dict) and isinstance(details.get("generated_tokens"), int):
                counted[spans.OUTPUT_TOKENS] = details["generated_tokens"]
    return counted


def _answer_slots(parsed: Any) -> list[tuple[Any, Any]]:
    """Where the generated text sits: OpenAI chat or completions, or TGI/LMI native."""
    if isinstance(parsed, list):
        return [slot for item in parsed for slot in _answer_slots(item)]
    if not isinstance(parsed, dict):
        return []
    if isinstance(parsed.get("generated_text"), str):
        return [(parsed, "generated_text")]
    slots: list[tuple[Any, Any]] = []
    for choice in parsed.get("choices") or []:
        if not isinstance(choice, dict):
            continue
        message = choice.get("message")
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            slots.append((message, "content"))
        elif isinstance(choice.get("text"), str):
            slots.append((choice, "text"))
    return slots


def answer_texts(parsed: Any) -> list[str]:
    """The texts the answer screen reads, in the order :func:`replace_answers` writes them."""
    return [str(holder[key]) for holder, key in _answer_slots(parsed)]


def replace_answers(parsed: Any, texts: list[str]) -> None:
    """Writes screened (possibly masked) texts back where :func:`answer_texts` read them."""
    for (holder, key), text in zip(_answer_slots(parsed), texts, strict=True):
        holder[key] = text


def stream_texts(stream: str) -> Iterator[str]:
    """The generated text of a server-sent event stream (OpenAI deltas or TGI tokens)."""
    for line in stream.splitlines():
        if not line.startswith("data:"):
            continue
        data = line.removeprefix("data:").strip()
        if not data or data == "[DONE]":
            continue
        try:
            event = json.loads(data)
        except ValueError:
            yield data
            continue
        if not isinstance(event, dict):
            continue
        token = event.get("token")
        if isinstance(token, dict) and isinstance(token.get("text"), str):
            yield token["text"]
        for choice in event.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict) and isinstance(delta.get("content"), str):
                yield delta["content"]
            elif isinstance(choice.get("text"), str):
                yield choice["text"]

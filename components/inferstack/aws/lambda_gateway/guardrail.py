"""The Bedrock ``ApplyGuardrail`` screen of prompts (``INPUT``) and answers (``OUTPUT``).

Shipped in the Lambda's zip beside ``handler.py`` and, like it, imports only the standard
library and its siblings (as top-level modules in the zip). A guardrail that blocks, or masks
texts that cannot be mapped back, blocks; one that only masks personal data (``ANONYMIZE``)
lets the masked texts through. It fails closed: when the guardrail cannot be reached, nothing
unscreened passes. Spans record the verdict and the checks that acted, never the text.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

if __package__:
    from . import refusals, spans
else:  # the Lambda's zip: the modules side by side, imported as top-level modules
    refusals = importlib.import_module("refusals")
    spans = importlib.import_module("spans")

LOG = logging.getLogger("inferstack.gateway")

INTERVENED = "GUARDRAIL_INTERVENED"


@dataclass(frozen=True)
class Screened:
    """A guardrail verdict: blocked, or the texts to use (masked where it anonymized)."""

    blocked: bool
    texts: list[str]
    checks: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Guardrail:
    """One guardrail version, called through ``bedrock`` (a bedrock-runtime client)."""

    bedrock: Any
    guardrail_id: str
    guardrail_version: str

    def screen(self, source: str, texts: list[str], traced: spans.Traced) -> Screened:
        """The verdict on ``texts`` as ``source`` (INPUT or OUTPUT), in a CLIENT span."""
        if not any(texts):
            return Screened(False, texts)
        call = f"ApplyGuardrail {source}"
        with spans.aws_call(traced, call, "Bedrock Runtime", "ApplyGuardrail") as span:
            span.set(spans.GUARDRAIL_ID, self.guardrail_id)
            span.set(spans.SOURCE_ATTR, source)
            try:
                result = self.bedrock.apply_guardrail(
                    guardrailIdentifier=self.guardrail_id,
                    guardrailVersion=self.guardrail_version,
                    source=source,
                    content=[{"text": {"text": text}} for text in texts],
                )
            except Exception as error:  # fail closed: nothing unscreened passes
                LOG.error("guardrail call failed: %s", type(error).__name__)
                span.fail(type(error).__name__)
                raise refusals.RefusedError(
                    502, "guardrail_unavailable", "the content guard is unavailable"
                ) from None
            verdict = _verdict(result, source, texts)
            span.set(spans.ACTION_ATTR, str(result.get("action") or "NONE"))
            span.set(spans.BLOCKED_ATTR, verdict.blocked)
            if verdict.checks:
                span.set(spans.CHECKS_ATTR, verdict.checks)
            return verdict


def _verdict(result: Mapping[str, Any], source: str, texts: list[str]) -> Screened:
    if result.get("action") != INTERVENED:
        return Screened(False, texts)
    checks = sorted(set(_checks(result.get("assessments", []))))
    masked = [str(output.get("text", "")) for output in result.get("outputs", [])]
    # Masking alone lets the text through; a block, or masks we cannot map back, does not.
    if "BLOCKED" in set(_actions(result.get("assessments", []))) or len(masked) != len(texts):
        LOG.info("guardrail blocked the %s", source.lower())
        return Screened(True, texts, checks)
    return Screened(False, masked, checks)


def _checks(value: Any, policy: str = "") -> Iterator[str]:
    """``policy`` or ``policy/TYPE`` of every assessment entry that acted (not ``NONE``).

    Only ``name`` (a denied topic's or a regex's configured name) and ``type`` (a Bedrock enum:
    PROMPT_ATTACK, EMAIL, ...) are read; ``match`` and the other fields echo the text screened.
    """
    if isinstance(value, list):
        for item in value:
            yield from _checks(item, policy)
        return
    if not isinstance(value, dict):
        return
    action = value.get("action")
    if policy and isinstance(action, str) and action != "NONE":
        kind = value.get("name") or value.get("type")
        yield f"{policy}/{kind}" if isinstance(kind, str) else policy
    for key, item in value.items():
        if isinstance(item, (dict, list)):
            yield from _checks(item, policy or key)


def _actions(value: Any) -> Iterator[str]:
    """Every ``action`` in a guardrail assessment (BLOCKED, ANONYMIZED, NONE), at any depth."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "action" and isinstance(item, str):
                yield item
            else:
                yield from _actions(item)
    elif isinstance(value, list):
        for item in value:
            yield from _actions(item)

"""``security.guard`` resolved for one target: the provider ``auto`` picks, checked against it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from inferstack.deployment.security import GuardSpec
from inferstack.errors import SpecError
from inferstack.targets import Target


@dataclass(frozen=True)
class Capabilities:
    """What a guard service can screen, beyond prompt injection (which every one of them does)."""

    anonymize: bool
    """Rewrite personal data in place (otherwise it can only block)."""
    secrets: bool
    """Detect credentials and keys."""
    denied_topics: bool
    """Refuse topics named in plain words."""
    buffered_streams: bool
    """Screen a streamed response before it is released (the gateway buffers it)."""


# From each service's documentation (docs/security.md names the sources).
CAPABILITIES: Final[dict[str, Capabilities]] = {
    # LLM Guard: Anonymize/Deanonymize, Secrets, BanTopics; the gateway hook buffers streams.
    "llm-guard": Capabilities(
        anonymize=True, secrets=True, denied_topics=True, buffered_streams=True
    ),
    # Bedrock guardrails: sensitive information filters (ANONYMIZE), regexes, denied topics.
    "bedrock": Capabilities(
        anonymize=True, secrets=True, denied_topics=True, buffered_streams=True
    ),
    # Content Safety: Prompt Shields and harm categories with custom categories; no rewriting.
    "content-safety": Capabilities(
        anonymize=False, secrets=False, denied_topics=True, buffered_streams=True
    ),
    # Model Armor: Sensitive Data Protection de-identifies; its filters are fixed categories.
    "model-armor": Capabilities(
        anonymize=True, secrets=True, denied_topics=False, buffered_streams=True
    ),
    # Llama Guard: a classifier of fixed hazard categories; it neither rewrites nor finds keys.
    "llama-guard": Capabilities(
        anonymize=False, secrets=False, denied_topics=False, buffered_streams=False
    ),
}


@dataclass(frozen=True)
class ResolvedGuard:
    """What the gateway of one target screens, and with which guard service."""

    provider: str
    """The guard service the gateway calls; ``none`` when nothing is screened."""
    spec: GuardSpec
    skipped: tuple[str, ...] = ()
    """Default checks the provider cannot perform (``checks`` field names), left out."""

    def screens(self, check: str) -> bool:
        """Whether ``check`` (a ``checks`` field name) is on and performed."""
        return (
            self.deployed
            and check not in self.skipped
            and bool(getattr(self.spec.checks, check) not in (False, "off", None, []))
        )

    @property
    def deployed(self) -> bool:
        """Whether a guard service is called at all."""
        return self.provider != "none" and self.spec.enabled

    @property
    def screens_input(self) -> bool:
        return self.deployed and self.spec.input

    @property
    def screens_output(self) -> bool:
        return self.deployed and self.spec.output != "off"

    @property
    def buffers_streams(self) -> bool:
        """Streamed responses are held back and screened whole before release."""
        return self.deployed and self.spec.output == "on"


def resolve_guard(spec: GuardSpec, target: Target) -> ResolvedGuard:
    """The provider ``auto`` picks on ``target``; a combination it cannot deliver fails first."""
    provider = target.guard if spec.provider == "auto" else spec.provider
    if provider == "none":
        if spec.enabled:
            raise SpecError(
                "security.guard.provider",
                f"'none' screens nothing, but input is {spec.input} and output is '{spec.output}'",
                f"use auto ({target.guard} on {target.title}), or set input: false and "
                "output: off (the owasp-llm pack refuses both)",
            )
        return ResolvedGuard("none", spec)
    if provider != target.guard:
        raise SpecError(
            "security.guard.provider",
            f"'{provider}' is not available on {target.title}: its gateway calls {target.guard}",
            f"use auto or {target.guard}",
        )
    able = CAPABILITIES[provider]
    checks = spec.checks
    unable = {
        "pii": (
            checks.pii == "anonymize" and not able.anonymize,
            f"{provider} cannot anonymize personal data, only detect it",
            "set pii: block",
        ),
        "secrets": (
            checks.secrets and not able.secrets,
            f"{provider} does not detect credentials or keys",
            "set secrets: false",
        ),
        "denied_topics": (
            bool(checks.denied_topics) and not able.denied_topics,
            f"{provider} screens fixed categories and cannot refuse topics by name",
            "remove denied_topics",
        ),
    }
    skipped: list[str] = []
    for field, (refused, problem, fix) in unable.items():
        if not refused:
            continue
        # A default the guard cannot deliver is left out (and listed); a setting is refused.
        if field in checks.model_fields_set:
            raise SpecError(f"security.guard.checks.{field}", problem, fix)
        skipped.append(field)
    if spec.output == "on" and not able.buffered_streams:
        raise SpecError(
            "security.guard.output",
            f"the {provider} gateway cannot hold back a streamed response to screen it",
            "set output: non_streaming (streams pass unscreened) or off",
        )
    return ResolvedGuard(provider, spec, tuple(skipped))

"""The Bedrock guardrail the SageMaker gateway screens prompts and answers with.

``security.guard`` becomes one ``aws.bedrock.Guardrail`` encrypted with the deployment's key
and a ``GuardrailVersion`` the gateway is pinned to: editing the guardrail's draft changes
nothing in production until a new version is cut (which this component does on every change
of the guardrail's configuration, and the gateway then follows).

What each check becomes:
- ``prompt_injection``: the ``PROMPT_ATTACK`` content filter on prompts (Bedrock accepts it
  only with output strength ``NONE``: it judges prompts, not answers);
- ``pii``: the sensitive-information policy with ``BLOCK`` or ``ANONYMIZE`` on the personal
  identifiers below (names only with ``anonymize``: blocking every message naming a person
  would block most conversations);
- ``secrets``: access keys and passwords as sensitive information, and regexes for private
  keys and common API tokens, always blocked;
- ``denied_topics``: one ``DENY`` topic each, defined by the words given;
- harmful content (hate, insults, sexual, violence, misconduct) is filtered at ``MEDIUM``
  both ways whenever the guard is on.
``max_input_tokens`` and ``max_output_tokens`` are enforced by the gateway, not the guardrail.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from inferstack.aws import names
from inferstack.aws.context import Context
from inferstack.deployment.security import GuardSpec

PROVIDERS = ("auto", "bedrock")
HARM_FILTERS = ("HATE", "INSULTS", "SEXUAL", "VIOLENCE", "MISCONDUCT")
PERSONAL_DATA = (
    "EMAIL",
    "PHONE",
    "ADDRESS",
    "US_SOCIAL_SECURITY_NUMBER",
    "US_PASSPORT_NUMBER",
    "US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER",
    "US_BANK_ACCOUNT_NUMBER",
    "DRIVER_ID",
    "CREDIT_DEBIT_CARD_NUMBER",
    "CREDIT_DEBIT_CARD_CVV",
    "CREDIT_DEBIT_CARD_EXPIRY",
    "INTERNATIONAL_BANK_ACCOUNT_NUMBER",
    "UK_NATIONAL_HEALTH_SERVICE_NUMBER",
    "UK_NATIONAL_INSURANCE_NUMBER",
    "CA_HEALTH_NUMBER",
    "CA_SOCIAL_INSURANCE_NUMBER",
)
SECRETS = ("AWS_ACCESS_KEY", "AWS_SECRET_KEY", "PASSWORD")
SECRET_PATTERNS = {
    "private-key": r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
    "api-token": r"\b(ghp_[A-Za-z0-9]{36}|xox[abprs]-[A-Za-z0-9-]{10,}|sk-[A-Za-z0-9_-]{20,})\b",
}
# Topic names allow letters, digits, spaces and -_!?. up to 100 characters.
_TOPIC_NAME = re.compile(r"[^0-9a-zA-Z\-_ !?.]+")


@dataclass(frozen=True)
class Guardrail:
    arn: pulumi.Output[str]
    id: pulumi.Output[str]
    version: pulumi.Output[str]


def guardrail_name(endpoint_name: str) -> str:
    # Guardrail names: up to 50 of [0-9a-zA-Z-_].
    return names.bounded(endpoint_name, "guard", 50)


def guardrail(ctx: Context, key_arn: pulumi.Input[str]) -> Guardrail:
    guard = ctx.spec.security.guard
    config = guardrail_config(guard)
    rail = aws.bedrock.Guardrail(
        ctx.child("guardrail"),
        name=guardrail_name(ctx.plan.endpoint_name),
        description=f"inferstack {ctx.name}: screens prompts and answers of the SageMaker endpoint",
        blocked_input_messaging=guard.blocked_message,
        blocked_outputs_messaging=guard.blocked_message,
        kms_key_arn=key_arn,
        region=ctx.region,
        tags=ctx.tags(),
        opts=ctx.opts(),
        **config,
    )
    version = aws.bedrock.GuardrailVersion(
        ctx.child("guardrail-version"),
        guardrail_arn=rail.guardrail_arn,
        # A new version is cut when the configuration changes (the description carries its
        # fingerprint); the old one is kept so a rollback of the gateway still finds it.
        description=f"inferstack configuration {fingerprint(config, guard.blocked_message)}",
        skip_destroy=True,
        region=ctx.region,
        opts=ctx.opts(),
    )
    return Guardrail(rail.guardrail_arn, rail.guardrail_id, version.version)


def fingerprint(config: dict[str, Any], message: str) -> str:
    return hashlib.sha256(repr((sorted(config.items()), message)).encode()).hexdigest()[:12]


def guardrail_config(guard: GuardSpec) -> dict[str, Any]:
    """The guardrail's policies, as ``aws.bedrock.Guardrail`` arguments."""
    checks = guard.checks
    screen_in = guard.input
    screen_out = guard.output != "off"

    def both(**extra: Any) -> dict[str, Any]:
        return {
            "input_enabled": screen_in,
            "output_enabled": screen_out,
            **extra,
        }

    filters = [
        {"type": kind, "input_strength": "MEDIUM", "output_strength": "MEDIUM", **both()}
        for kind in HARM_FILTERS
    ]
    if checks.prompt_injection:
        filters.append(
            {
                "type": "PROMPT_ATTACK",
                "input_strength": "HIGH",
                "output_strength": "NONE",
                "input_enabled": screen_in,
            }
        )
    config: dict[str, Any] = {"content_policy_config": {"filters_configs": filters}}
    entities: list[dict[str, Any]] = []
    if checks.pii != "off":
        action = "BLOCK" if checks.pii == "block" else "ANONYMIZE"
        kinds = PERSONAL_DATA + (("NAME",) if action == "ANONYMIZE" else ())
        entities += [{"type": kind, "action": action, **both()} for kind in kinds]
    regexes: list[dict[str, Any]] = []
    if checks.secrets:
        entities += [{"type": kind, "action": "BLOCK", **both()} for kind in SECRETS]
        regexes = [
            {
                "name": name,
                "pattern": pattern,
                "action": "BLOCK",
                "description": "credentials must not reach the model or leave it",
                **both(),
            }
            for name, pattern in SECRET_PATTERNS.items()
        ]
    if entities or regexes:
        config["sensitive_information_policy_config"] = {
            "pii_entities_configs": entities,
            "regexes_configs": regexes,
        }
    if checks.denied_topics:
        config["topic_policy_config"] = {
            "topics_configs": [
                {"name": topic_name(topic, index), "definition": topic, "type": "DENY"}
                for index, topic in enumerate(checks.denied_topics)
            ]
        }
    return config


def topic_name(topic: str, index: int) -> str:
    cleaned = _TOPIC_NAME.sub(" ", topic).strip()[:90] or "topic"
    return f"{cleaned} {index + 1}"

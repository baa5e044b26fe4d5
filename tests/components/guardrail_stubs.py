"""What the SageMaker gateway tests tell botocore's Stubber about Bedrock ApplyGuardrail."""

from __future__ import annotations

from typing import Any

from botocore.stub import Stubber

GUARDRAIL_ID = "gr-123"
GUARDRAIL_VERSION = "1"
USAGE = {
    "topicPolicyUnits": 1,
    "contentPolicyUnits": 1,
    "wordPolicyUnits": 1,
    "sensitiveInformationPolicyUnits": 1,
    "sensitiveInformationPolicyFreeUnits": 0,
    "contextualGroundingPolicyUnits": 0,
}


def expect_screen(
    guard: Stubber,
    source: str,
    texts: list[str],
    *,
    action: str = "NONE",
    outputs: list[str] | None = None,
    assessments: list[dict[str, Any]] | None = None,
) -> None:
    """One ApplyGuardrail call on ``texts`` (source INPUT or OUTPUT) and the guardrail's answer."""
    guard.add_response(
        "apply_guardrail",
        {
            "usage": USAGE,
            "action": action,
            "outputs": [{"text": text} for text in (outputs or [])],
            "assessments": assessments or [],
        },
        {
            "guardrailIdentifier": GUARDRAIL_ID,
            "guardrailVersion": GUARDRAIL_VERSION,
            "source": source,
            "content": [{"text": {"text": text}} for text in texts],
        },
    )

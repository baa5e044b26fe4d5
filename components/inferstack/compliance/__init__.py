"""Compliance rules for LLM inference stacks and the policy packs built from them.

Packs are selections: ``baseline`` holds the security rules for every deployment, ``hipaa`` and
``gdpr`` add their framework-specific rules to the baseline. Each rule becomes one pulumi_policy
policy whose tags are its control ids (``HIPAA 164.312(a)(2)(iv)``, ``GDPR Art. 32``,
``OWASP LLM10``) plus ``peer:<id>`` entries naming equivalent checks in other tools.
"""

from __future__ import annotations

from collections.abc import Sequence

from inferstack.compliance.controls import Control, control, controls
from inferstack.compliance.model import FRAMEWORKS, Enforcement, Framework, Rule, Scope, Severity
from inferstack.compliance.registry import all_rules, rule, rules_for

PACK_NAMES = {framework: f"inferstack-{framework}" for framework in FRAMEWORKS}
PEER_PREFIX = "peer:"


def split_tags(tags: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(control ids, peer ids) of a policy's tags as GetAnalyzerInfo reports them."""
    peers = tuple(tag.removeprefix(PEER_PREFIX) for tag in tags if tag.startswith(PEER_PREFIX))
    return tuple(tag for tag in tags if not tag.startswith(PEER_PREFIX)), peers


__all__ = [
    "FRAMEWORKS",
    "PACK_NAMES",
    "Control",
    "Enforcement",
    "Framework",
    "Rule",
    "Scope",
    "Severity",
    "all_rules",
    "control",
    "controls",
    "rule",
    "rules_for",
    "split_tags",
]

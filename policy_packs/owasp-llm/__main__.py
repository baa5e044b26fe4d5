"""The inferstack owasp-llm policy pack: serves Pulumi's analyzer protocol until stopped."""

from __future__ import annotations

from typing import Final

from pulumi_policy import EnforcementLevel, PolicyPack

from inferstack.compliance import PACK_NAMES, speedups
from inferstack.compliance.policy import policies_for

FRAMEWORK: Final = "owasp-llm"

if __name__ == "__main__":
    speedups.install()  # same verdicts; see speedups.py
    PolicyPack(
        name=PACK_NAMES[FRAMEWORK],
        policies=policies_for(FRAMEWORK),
        enforcement_level=EnforcementLevel.MANDATORY,
    )

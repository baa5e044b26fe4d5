"""Control mappings say what a rule checks: the review's mismatches, pinned as classes of rules.

A HIPAA or GDPR control on a finding tells an auditor which safeguard failed. The review found
four families mapped to controls they do not check: network placement under transmission
encryption (164.312(e)(2)(ii)), encryption at rest under audit controls (164.312(b)), storage
expiry under records of processing (GDPR Art. 30), and rate limits under access control
(164.312(a)(1)). Each family is found by what its rules check (their names), so a new rule of
the family is held to the same mapping; each family must be non-empty, so the test cannot pass
by matching nothing.
"""

from __future__ import annotations

import re

import pytest

from inferstack.compliance import all_rules
from inferstack.compliance.rules._common import (
    GDPR_RECORDS,
    GDPR_STORAGE_LIMITATION,
    HIPAA_ACCESS,
    HIPAA_AUDIT,
    HIPAA_ENCRYPTION,
    HIPAA_TRANSMISSION,
    HIPAA_TRANSMISSION_ENCRYPTION,
)

# (family, what its rules' names say they check, a control they must not carry, one they must
# carry when they carry a control of that framework at all)
FAMILIES: list[tuple[str, str, str, str | None]] = [
    (
        "network placement",
        r"-require-(vpc|private-access|network-isolation)$",
        HIPAA_TRANSMISSION_ENCRYPTION,
        HIPAA_TRANSMISSION,
    ),
    # Log stores are left out: encrypting the audit records themselves is protection of audit
    # information, which NIST SP 800-66r2 places under 164.312(b).
    (
        "encryption at rest",
        r"^(?!.*(loggroup|logging-bucket)).*-require-(output-)?(kms|cmk|cmek)$",
        HIPAA_AUDIT,
        HIPAA_ENCRYPTION,
    ),
    (
        "storage expiry",
        r"-(require-capture-expiration|limit-max-retention)$",
        GDPR_RECORDS,
        GDPR_STORAGE_LIMITATION,
    ),
    (
        "rate and size limits",
        r"-(require-rate-limit|require-throttling|require-request-limits|limit-body-size"
        r"|require-reserved-concurrency)$",
        HIPAA_ACCESS,
        None,
    ),
]


def members(pattern: str) -> list[str]:
    return [rule.name for rule in all_rules() if re.search(pattern, rule.name)]


@pytest.mark.parametrize(
    ("family", "pattern", "wrong", "right"), FAMILIES, ids=[family[0] for family in FAMILIES]
)
def test_each_family_carries_the_control_it_checks(
    family: str, pattern: str, wrong: str, right: str | None
) -> None:
    names = members(pattern)
    assert names, f"no rule checks {family}: the pattern matches nothing"
    rules = {rule.name: rule for rule in all_rules()}
    assert [name for name in names if wrong in rules[name].controls] == []
    if right is not None:
        framework = right.split()[0]
        carrying = [
            name
            for name in names
            if any(control.startswith(framework) for control in rules[name].controls)
        ]
        assert [name for name in carrying if right not in rules[name].controls] == []


def test_the_rules_named_in_the_review_are_in_their_families() -> None:
    reviewed = {
        "aws-sagemaker-model-require-vpc": "network placement",
        "aws-sagemaker-endpointconfig-require-output-kms": "encryption at rest",
        "aws-sagemaker-endpointconfig-require-capture-expiration": "storage expiry",
        "kubernetes-networking-ingress-require-rate-limit": "rate and size limits",
        "aws-apigateway-stage-require-throttling": "rate and size limits",
    }
    patterns = {family: pattern for family, pattern, _, _ in FAMILIES}
    assert {
        name: family for name, family in reviewed.items() if name in members(patterns[family])
    } == (reviewed)

"""Every rule fixture, through the real analyzer servicer, in update and in preview modes."""

from __future__ import annotations

from collections import defaultdict

import pytest
from cases_aws import CASES as AWS
from cases_azure import CASES as AZURE
from cases_cross import CASES as CROSS
from cases_gcp import CASES as GCP
from cases_jetson import CASES as JETSON
from cases_kubernetes import CASES as KUBERNETES
from policy_cases import Case
from policy_harness import MODES, evaluate, has_computed, verdict

from inferstack.compliance import all_rules, rule

CASES = [*KUBERNETES, *JETSON, *AWS, *AZURE, *GCP, *CROSS]


def _run(case: Case, mode: str) -> list[tuple[str, str]]:
    found = evaluate(
        rule(case.rule), case.subject, mode, framework=case.framework, config=case.config
    )
    return verdict(found)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.param_id)
def test_fixture_verdict_is_the_same_in_update_and_preview(case: Case) -> None:
    verdicts = {mode: _run(case, mode) for mode in MODES}
    update = verdicts["update"]
    if case.expect is None:
        assert update == [], f"{case.rule} should pass {case.id}: {update}"
    else:
        assert update, f"{case.rule} should flag {case.id}"
        assert any(case.expect in message for _, message in update), update
    for mode, found in verdicts.items():
        assert found == update, f"{case.rule}/{case.id}: {mode} disagrees with update"


def test_every_rule_has_a_compliant_and_a_violating_fixture() -> None:
    kinds: dict[str, set[bool]] = defaultdict(set)
    for case in CASES:
        kinds[case.rule].add(case.expect is None)
    missing = [r.name for r in all_rules() if kinds[r.name] != {True, False}]
    assert missing == []


def test_fixture_ids_are_unique() -> None:
    ids = [case.param_id for case in CASES]
    assert len(ids) == len(set(ids))


def test_most_rules_are_exercised_with_unknown_values() -> None:
    # The preview modes only prove something for fixtures that contain computed values.
    exercised = {case.rule for case in CASES if any(has_computed(r.props) for r in case.resources)}
    untested = sorted(r.name for r in all_rules() if r.name not in exercised)
    assert untested == []

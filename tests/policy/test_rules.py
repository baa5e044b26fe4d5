"""Every rule fixture, through the real analyzer servicer, in update and in preview modes."""

from __future__ import annotations

from collections import defaultdict
from typing import Final

import pytest
from cases_aws import CASES as AWS
from cases_azure import CASES as AZURE
from cases_cross import CASES as CROSS
from cases_gcp import CASES as GCP
from cases_guard import CASES as GUARD
from cases_guard_aws import CASES as GUARD_AWS
from cases_guard_gcp import CASES as GUARD_GCP
from cases_guard_jetson import CASES as GUARD_JETSON
from cases_iam import CASES as IAM
from cases_jetson import CASES as JETSON
from cases_kubernetes import CASES as KUBERNETES
from cases_owasp import CASES as OWASP
from cases_pss import CASES as PSS
from cases_red_team import CASES as RED_TEAM
from cases_tracing import CASES as TRACING
from policy_cases import Case
from policy_harness import (
    MODES,
    Reads,
    Res,
    _segments,
    declared,
    evaluate,
    inject_unknown,
    recording_reads,
    verdict,
)

from inferstack.compliance import Rule, Scope, all_rules, rule
from inferstack.compliance.rules._k8s import DEPLOYMENT, WORKLOAD_TYPES, pod_spec_path

CASES = [
    *KUBERNETES,
    *PSS,
    *TRACING,
    *JETSON,
    *AWS,
    *IAM,
    *AZURE,
    *GCP,
    *GUARD_GCP,
    *CROSS,
    *GUARD,
    *RED_TEAM,
    *OWASP,
    *GUARD_AWS,
    *GUARD_JETSON,
]


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


@pytest.mark.parametrize("rule_", all_rules(), ids=lambda r: r.name)
def test_every_rule_declares_the_paths_it_reads(rule_: Rule) -> None:
    assert rule_.reads or rule_.references, f"{rule_.name} declares no property paths"
    assert not set(rule_.reads) & set(rule_.references)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.param_id)
def test_rule_reads_only_the_paths_it_declares(case: Case) -> None:
    checked = rule(case.rule)
    for mode in MODES:
        with recording_reads() as reads:
            _run(case, mode)
        allowed = (*checked.reads, *checked.references)
        undeclared = sorted(path for path in reads.all() if not declared(path, allowed))
        assert undeclared == [], f"{case.rule} reads undeclared paths {undeclared} ({mode})"


def _roots(resource_type: str) -> tuple[str, str]:
    """Where a workload type keeps its pod spec and its pod template's metadata."""
    spec = pod_spec_path(resource_type)
    return ".".join(spec), ".".join((*spec[:-1], "metadata"))


POD_ROOTS: Final = sorted(
    {root for t in WORKLOAD_TYPES for root in _roots(t)}, key=len, reverse=True
)
DEPLOYMENT_ROOTS: Final = _roots(DEPLOYMENT)


def _pod_root(path: str) -> str | None:
    return next((root for root in POD_ROOTS if path.startswith(f"{root}.")), None)


def _targets(checked: Rule, case: Case, path: str) -> list[Res]:
    """Resources where ``path`` means what the rule reads (a pod spec lives per workload type)."""
    if checked.scope is Scope.RESOURCE:
        found = list(case.resources)
    else:
        found = [r for r in case.resources if checked.applies_to(r.type)]
    root = _pod_root(path)
    return [
        r for r in found if r.type not in WORKLOAD_TYPES or root is None or root in _roots(r.type)
    ]


def _injected(checked: Rule, case: Case, path: str) -> list[list[Res]]:
    """Variants of the case's subject, each with an unknown at ``path`` in one resource that the
    rule reads ``path`` of (a container's own setting can shadow the pod's; a rule configured as
    a no-op reads nothing)."""
    target_path = _segments(path.removesuffix(".*"))
    reads = _reads(checked, case)
    variants: list[list[Res]] = []
    for target in _targets(checked, case, path):
        if not any(_segments(read) == target_path for read in reads.of(target.props)):
            continue
        props, count = inject_unknown(target.props, path)
        if count:
            variants.append(
                [
                    Res(r.type, r.name, props, r.deps, r.provider) if r is target else r
                    for r in case.resources
                ]
            )
    return variants


def _subject(checked: Rule, resources: list[Res]) -> Res | list[Res]:
    return resources[0] if checked.scope is Scope.RESOURCE else resources


# Reads whose unknown legitimately passes in some fixture because another place satisfies the
# rule there (each says where); every other declared read must never pass when unknown.
SATISFIED_ELSEWHERE: Final = {
    ("aws-s3-bucket-require-tls-policy", "policy"): "a BucketPolicy companion denies plain HTTP",
    ("aws-s3-bucket-require-tls-policy", "policy.*"): "a BucketPolicy companion denies plain HTTP",
}

DECLARED = [
    (r, path, kind)
    for r in all_rules()
    for kind, paths in (("reads", r.reads), ("references", r.references))
    for path in paths
]


def _reads(checked: Rule, case: Case) -> Reads:
    with recording_reads() as reads:
        evaluate(
            checked,
            _subject(checked, list(case.resources)),
            "update",
            framework=case.framework,
            config=case.config,
        )
    return reads


@pytest.mark.parametrize("rule_, path, kind", DECLARED, ids=lambda v: getattr(v, "name", v))
def test_an_unknown_at_a_declared_path_is_never_a_pass(rule_: Rule, path: str, kind: str) -> None:
    """Each fixture where the rule reads ``path`` (a container's own setting can shadow the pod's,
    a rule configured as a no-op reads nothing) must not pass with an unknown there."""
    compliant = [case for case in CASES if case.rule == rule_.name and case.expect is None]
    tried = 0
    for case in compliant:
        for resources in _injected(rule_, case, path):
            tried += 1
            found = evaluate(
                rule_,
                _subject(rule_, resources),
                "update",
                framework=case.framework,
                config=case.config,
            )
            # A reference (another resource's output, unknown at every preview) counts as set:
            # the rule must just handle it, which evaluate() checks.
            if kind == "reads" and (rule_.name, path) not in SATISFIED_ELSEWHERE:
                assert found, f"{rule_.name} passes {case.id} with {path} unknown"
    if kind == "reads" and _pod_root(path) in (None, *DEPLOYMENT_ROOTS) and "[*]" not in path:
        # The same pod path under a CronJob or a bare Pod is tried where such fixtures exist;
        # a path inside list items is tried where a fixture has items.
        assert tried, f"no compliant fixture of {rule_.name} reads {path} where it can be unknown"


def test_unverifiable_findings_name_the_path() -> None:
    deployment = next(c for c in CASES if c.rule.endswith("disallow-privileged") and not c.expect)
    checked = rule(deployment.rule)
    target = deployment.resources[0]
    props, _ = inject_unknown(target.props, "spec.template.spec.containers")
    found = evaluate(checked, Res(target.type, target.name, props), "update")
    assert [d.message for d in found] == [
        "unverifiable at preview: spec.template.spec.containers: "
        "the containers are known only after deploy"
    ]
    assert found[0].unverifiable and not found[0].mandatory
    strict = evaluate(
        checked,
        Res(target.type, target.name, props),
        "update",
        config={"unverifiable": "mandatory"},
    )
    assert [(d.unverifiable, d.mandatory) for d in strict] == [(True, True)]

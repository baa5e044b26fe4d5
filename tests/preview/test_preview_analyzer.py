"""The analyzer driver against real pulumi_policy packs running as their own processes."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest

from inferstack.preview import Evaluation, PackError, PreviewRun, Violation, analyze, run_stack
from inferstack.preview.packs import PackProcesses

ROTATION = "aws-kms-key-enable-rotation"
BUCKET_KMS = "aws-s3-bucket-require-kms"
BUCKET_KMS_READ = "aws-s3-bucket-check-kms-arn"
KEY_TAGS = "aws-kms-key-require-tags"
STACK_LIMIT = "stack-limit-resources"


@pytest.fixture(scope="module")
def dev_preview(offline_project: Path) -> PreviewRun:
    return run_stack(offline_project / "stacks" / "Pulumi.dev.yaml", preview=True)


@pytest.fixture(scope="module")
def dev_update(offline_project: Path) -> PreviewRun:
    return run_stack(offline_project / "stacks" / "Pulumi.dev.yaml", preview=False)


@pytest.fixture(scope="module")
def dev_evaluation(dev_preview: PreviewRun, tiny_pack: Path) -> Evaluation:
    return analyze(dev_preview, [tiny_pack])


def by_policy(violations: tuple[Violation, ...] | list[Violation]) -> dict[str, list[Violation]]:
    found: dict[str, list[Violation]] = {}
    for violation in violations:
        found.setdefault(violation.policy, []).append(violation)
    return found


def child_pids() -> set[int]:
    """Live processes whose parent is this test process (zombies excluded)."""
    children = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            children.add(int(entry.name))
    return children


def test_mandatory_violation_carries_policy_metadata(dev_evaluation: Evaluation) -> None:
    evaluation = dev_evaluation

    rotation = by_policy(evaluation.violations)[ROTATION]
    assert len(rotation) == 1
    violation = rotation[0]
    assert violation.pack == "tiny"
    assert violation.enforcement == "mandatory"
    assert violation.severity == "high"
    assert violation.urn.endswith("aws:kms/key:Key::app-key")
    assert violation.message == "enableKeyRotation is false"
    assert violation.controls == ("HIPAA 164.312(a)(2)(iv)", "GDPR Art. 32")
    assert violation.peers == ("CKV_AWS_7",)
    assert violation.remediation == "Set enableKeyRotation: true on the key."
    assert violation.description == "KMS keys rotate yearly."
    assert evaluation.packs[0].version == "1.2.3"  # PulumiPolicy.yaml wins, as in the CLI


def test_presence_checks_pass_in_preview_and_value_reads_are_unverifiable_not_violations(
    dev_evaluation: Evaluation,
) -> None:
    found = by_policy(dev_evaluation.violations)

    assert BUCKET_KMS not in found  # `"kmsKeyArn" in list(props)` works on an unknown value
    assert BUCKET_KMS_READ not in found  # could not run: not a verdict
    skipped = by_policy(dev_evaluation.unverifiable)[BUCKET_KMS_READ]
    assert [v.enforcement for v in skipped] == ["advisory"]
    assert skipped[0].skipped_in_preview
    # pulumi_policy leaves the urn empty; the analyzer gives it the request's resource.
    assert skipped[0].urn.endswith("aws:s3/bucket:Bucket::app-bucket")


def test_update_mode_gives_the_same_verdicts_with_values_known(
    dev_preview: PreviewRun, dev_update: PreviewRun, tiny_pack: Path
) -> None:
    def verdicts(run: PreviewRun) -> set[tuple[str, str, str]]:
        evaluation = analyze(run, [tiny_pack])
        return {
            (v.policy, v.enforcement, v.urn)
            for v in evaluation.violations
            if not v.skipped_in_preview
        }

    in_update = verdicts(dev_update)
    assert in_update == verdicts(dev_preview)
    key = next(r.urn for r in dev_update.resources if r.type == "aws:kms/key:Key")
    assert (ROTATION, "mandatory", key) in in_update


def test_remediation_rewrites_properties_before_analyze(dev_evaluation: Evaluation) -> None:
    found = by_policy(dev_evaluation.violations)

    assert [v.enforcement for v in found["aws-kms-key-add-tags"]] == ["remediate"]
    # The remediated tags reached the validation that requires them.
    assert KEY_TAGS not in found


def test_stack_policy_gets_config_parents_and_property_dependencies(
    dev_preview: PreviewRun, dev_evaluation: Evaluation, tiny_pack: Path
) -> None:
    default = by_policy(dev_evaluation.violations)
    assert STACK_LIMIT not in default  # schema default max=100

    configured = analyze(
        dev_preview,
        [tiny_pack],
        {STACK_LIMIT: {"max": 2}, ROTATION: "disabled"},
    )
    found = by_policy(configured.violations)
    assert ROTATION not in found
    [limit] = found[STACK_LIMIT]
    key_urn = next(r.urn for r in dev_preview.resources if r.type == "aws:kms/key:Key")
    app_urn = next(r.urn for r in dev_preview.resources if r.type == "inferstack:test:App")
    assert limit.message.startswith("4 resources > 2")
    assert f"bucket parent {app_urn}" in limit.message
    assert key_urn in limit.message
    assert limit.urn == dev_preview.stack_urn
    assert {p.name: p.enforcement for p in configured.policies}[ROTATION] == "disabled"


def test_all_level_raises_every_policy(dev_preview: PreviewRun, tiny_pack: Path) -> None:
    evaluation = analyze(dev_preview, [tiny_pack], {"all": "mandatory", STACK_LIMIT: {"max": 2}})

    mandatory = {v.policy for v in evaluation.violations if v.enforcement == "mandatory"}
    # The remediation now runs as a validation, so the key stays untagged.
    assert mandatory == {ROTATION, STACK_LIMIT, KEY_TAGS}
    # A policy that could not run in preview is unverifiable, advisory whatever its level.
    [unknown] = by_policy(evaluation.unverifiable)[BUCKET_KMS_READ]
    assert unknown.enforcement == "advisory"
    assert unknown.path == "kmsKeyArn"


def test_not_applicable_narrows_the_resources_a_policy_checked(
    dev_preview: PreviewRun, dev_evaluation: Evaluation
) -> None:
    evaluation = dev_evaluation
    policies = {p.name: p for p in evaluation.policies}

    checked = evaluation.checked(policies[ROTATION], dev_preview)
    assert [r.type for r in checked] == ["aws:kms/key:Key"]


def test_packs_run_concurrently_and_all_report(
    dev_preview: PreviewRun, tiny_pack: Path, tmp_path: Path, make_pack: Callable[..., Path]
) -> None:
    second = make_pack(
        tmp_path / "second",
        """
        from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy

        def no_buckets(args, report_violation):
            if args.resource_type == "aws:s3/bucket:Bucket":
                report_violation("buckets are not allowed here")

        PolicyPack("second", policies=[ResourceValidationPolicy(
            name="deny-buckets", description="No buckets.", validate=no_buckets,
            enforcement_level=EnforcementLevel.ADVISORY)])
        """,
        name="second",
    )

    evaluation = analyze(dev_preview, [tiny_pack, second])

    assert [pack.name for pack in evaluation.packs] == ["tiny", "second"]
    packs = {(v.pack, v.policy) for v in evaluation.violations}
    assert ("tiny", ROTATION) in packs
    assert ("second", "deny-buckets") in packs


def test_processes_are_gone_after_success(dev_preview: PreviewRun, tiny_pack: Path) -> None:
    processes = PackProcesses()
    analyze(dev_preview, [tiny_pack], processes=processes)

    assert processes.pids
    assert not set(processes.pids) & child_pids()


def test_pack_that_fails_to_start_is_a_pack_error_with_its_stderr(
    dev_preview: PreviewRun, tmp_path: Path, make_pack: Callable[..., Path]
) -> None:
    broken = make_pack(tmp_path / "broken", "import inferstack_missing_module\n")
    processes = PackProcesses()

    with pytest.raises(PackError) as caught:
        analyze(dev_preview, [broken], processes=processes)

    message = str(caught.value)
    assert "failed to start" in message
    assert "No module named 'inferstack_missing_module'" in message
    assert not set(processes.pids) & child_pids()


def test_policy_that_raises_is_a_pack_error_and_kills_every_pack(
    dev_preview: PreviewRun, tiny_pack: Path, tmp_path: Path, make_pack: Callable[..., Path]
) -> None:
    crashing = make_pack(
        tmp_path / "crashing",
        """
        from pulumi_policy import PolicyPack, ResourceValidationPolicy

        def crash(args, report_violation):
            raise RuntimeError("policy bug")

        PolicyPack("crashing", policies=[ResourceValidationPolicy(
            name="crash", description="Crashes.", validate=crash)])
        """,
    )
    processes = PackProcesses()

    with pytest.raises(PackError, match="policy bug"):
        analyze(dev_preview, [tiny_pack, crashing], processes=processes)

    assert len(processes.pids) == 2
    assert not set(processes.pids) & child_pids()


class _InterruptingResources(list[Any]):
    def __iter__(self) -> Iterator[Any]:
        raise KeyboardInterrupt


def test_keyboard_interrupt_still_kills_the_packs(dev_preview: PreviewRun, tiny_pack: Path) -> None:
    run = PreviewRun(
        stack=dev_preview.stack,
        target=dev_preview.target,
        config_path=dev_preview.config_path,
        resources=_InterruptingResources(dev_preview.resources),
    )
    processes = PackProcesses()

    with pytest.raises(KeyboardInterrupt):
        analyze(run, [tiny_pack], processes=processes)

    assert processes.pids
    assert not set(processes.pids) & child_pids()


def test_config_naming_an_unknown_policy_is_rejected(
    dev_preview: PreviewRun, tiny_pack: Path
) -> None:
    with pytest.raises(PackError, match="unknown policies: aws-kms-key-rotate"):
        analyze(dev_preview, [tiny_pack], {"aws-kms-key-rotate": "mandatory"})


def test_bad_enforcement_level_and_missing_pack_project_are_rejected(
    dev_preview: PreviewRun, tiny_pack: Path, tmp_path: Path
) -> None:
    with pytest.raises(PackError, match="'blocking' for all is not an enforcement level"):
        analyze(dev_preview, [tiny_pack], {"all": "blocking"})
    with pytest.raises(PackError, match=r"has no PulumiPolicy\.yaml"):
        analyze(dev_preview, [tmp_path])


# -- default providers: what the engine sends for a resource that names no provider --------


def _key_in_a_vault(config: dict[str, str]) -> Any:
    from inferstack.testing import run_program

    def program() -> None:
        # A key has no location of its own: it lives where its vault (and the provider) does.
        pulumi.CustomResource(
            "azure-native:keyvault:Key",
            "cmk",
            {"keyName": "cmk", "vaultName": "vault", "resourceGroupName": "rg"},
        )

    gdpr = Path(__file__).resolve().parents[2] / "policy_packs" / "gdpr"
    return run_program(program, packs=[gdpr], config=config)


def _residency(result: Any) -> tuple[list[Any], list[Any]]:
    rule = "all-residency-resource-restrict-region"
    found = [v for v in result.violations if v.policy == rule]
    return found, [u for u in result.unverifiable if u.policy == rule]


def test_a_resource_without_location_is_judged_by_its_default_providers_config() -> None:
    inside, unseen = _residency(_key_in_a_vault({"azure-native:location": "westeurope"}))
    assert inside == [] and unseen == []

    outside, unseen = _residency(_key_in_a_vault({"azure-native:location": "eastus"}))
    assert [v.enforcement for v in outside] == ["mandatory"] and unseen == []
    assert "eastus" in outside[0].message


def test_no_location_anywhere_is_unverifiable_not_a_pass() -> None:
    found, unseen = _residency(_key_in_a_vault({}))
    assert found == []
    assert [u.urn.rsplit("::", 1)[-1] for u in unseen] == ["cmk"]

"""Reading stack configs and running a project's program offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inferstack.deployment.loader import SECRET_PLACEHOLDER
from inferstack.errors import SpecError
from inferstack.preview import StackConfigError, read_stack_file, run_stack
from inferstack.preview.program import program_dir_for


def test_stack_file_values_are_what_the_runtime_sees(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.prod-eu.yaml"
    path.write_text(
        "config:\n"
        "  inferstack:target: sagemaker\n"
        "  aws:region: eu-central-1\n"
        "  inferstack:deployment:\n"
        "    name: bot\n"
        "    scaling: {min_replicas: 2}\n"
        "  inferstack:hfToken:\n"
        "    secure: v1:AAAAencrypted\n"
        "  replicas: 3\n"
        "  inferstack:wrapped:\n"
        "    value: plain\n",
        encoding="utf-8",
    )

    stack = read_stack_file(path)

    assert stack.stack == "prod-eu"
    assert stack.target == "sagemaker"
    assert json.loads(stack.config["inferstack:deployment"]) == {
        "name": "bot",
        "scaling": {"min_replicas": 2},
    }
    assert stack.config["inferstack:replicas"] == "3"  # bare keys belong to the project
    assert stack.config["inferstack:wrapped"] == "plain"
    assert stack.config["inferstack:hfToken"] == SECRET_PLACEHOLDER
    assert stack.secret_keys == ("inferstack:hfToken",)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "does not exist"),
        ("config:\n  inferstack:target: [onprem\n", r"is not valid YAML \(line 3\)"),
        ("- just\n- a list\n", "must hold a 'config:' mapping"),
    ],
)
def test_unreadable_stack_files_are_one_line_errors(
    tmp_path: Path, content: str | None, problem: str
) -> None:
    path = tmp_path / "Pulumi.x.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")

    with pytest.raises(StackConfigError, match=problem) as caught:
        read_stack_file(path)
    assert "\n" not in str(caught.value)


def test_program_dir_comes_from_pulumi_yaml_main(offline_project: Path) -> None:
    config = offline_project / "stacks" / "Pulumi.dev.yaml"

    assert program_dir_for(config) == (offline_project / "stacks").resolve()


def test_run_stack_runs_the_project_program(offline_project: Path) -> None:
    run = run_stack(offline_project / "stacks" / "Pulumi.dev.yaml")

    assert (run.stack, run.target, run.preview) == ("dev", "sagemaker", True)
    assert [r.type for r in run.resources] == [
        "pulumi:pulumi:Stack",
        "inferstack:test:App",
        "aws:kms/key:Key",
        "aws:s3/bucket:Bucket",
    ]
    key = run.resources[2]
    assert key.inputs == {"enableKeyRotation": False, "deletionWindowInDays": 30.0}
    assert run.stack_urn == run.resources[0].urn
    assert run.config["aws:region"] == "eu-west-1"


def test_run_stack_runs_many_times_in_one_process(offline_project: Path) -> None:
    config = offline_project / "stacks" / "Pulumi.good.yaml"
    first = run_stack(config, preview=False)
    second = run_stack(config, preview=False)

    assert [r.urn for r in first.resources] == [r.urn for r in second.resources]
    assert first.resources[2].inputs["enableKeyRotation"] is True


def test_spec_errors_from_the_program_propagate(offline_project: Path) -> None:
    with pytest.raises(SpecError, match=r"^inferstack:deployment\.name: 'bad' is reserved"):
        run_stack(offline_project / "stacks" / "Pulumi.bad.yaml")


def test_missing_program_is_a_stack_config_error(tmp_path: Path) -> None:
    config = tmp_path / "Pulumi.dev.yaml"
    config.write_text("config: {}\n", encoding="utf-8")

    with pytest.raises(StackConfigError, match="no Pulumi program"):
        run_stack(config, program_dir=tmp_path)

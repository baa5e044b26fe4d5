"""Errors that find the typo: `inferstack preview --config` exits 2 with one line that names it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from inferstack.cli import main
from inferstack.deployment.loader import check_config_keys
from inferstack.errors import SpecError

ROOT = Path(__file__).resolve().parents[2]


def preview_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], stack: str, old: str, new: str
) -> str:
    """Preview the project's stack with ``old`` replaced by ``new``: exit 2, one error line."""
    (tmp_path / "Pulumi.yaml").write_text("name: inferstack\nruntime: python\n", encoding="utf-8")
    shutil.copy(ROOT / "stacks" / "__main__.py", tmp_path / "__main__.py")
    text = (ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8")
    assert old in text
    config = tmp_path / f"Pulumi.{stack}.yaml"
    config.write_text(text.replace(old, new, 1), encoding="utf-8")

    assert main(["preview", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0].replace(str(config), "FILE")


@pytest.mark.parametrize(
    ("stack", "old", "new", "expected"),
    [
        (
            "onprem-prod",
            "inferstack:deployment:",
            "inferstack:deploymnet:",
            "error: inferstack:deploymnet: is not a key inferstack reads in FILE "
            "(did you mean 'inferstack:deployment'?)",
        ),
        (
            "onprem-prod",
            "inferstack:kubernetes:",
            "inferstack:kubernets:",
            "error: inferstack:kubernets: is not a key inferstack reads in FILE "
            "(did you mean 'inferstack:kubernetes'?)",
        ),
        (
            "onprem-prod",
            "  inferstack:target: onprem\n",
            "",
            "error: inferstack:target: is missing (add inferstack:target: one of onprem, "
            "sagemaker, azureml, vertex, jetson)",
        ),
        (
            "onprem-prod",
            "    model:\n      id: meta-llama",
            "    modle:\n      id: meta-llama",
            "error: inferstack:deployment.modle: is not a known field (did you mean 'model'?)",
        ),
        (
            "sagemaker-prod",
            "aws:region: eu-central-1",
            "aws:region: eu-centrl-1",
            "error: aws:region: 'eu-centrl-1' is not a SageMaker region "
            "(did you mean 'eu-central-1'?)",
        ),
        (
            "azureml-prod",
            "azure-native:location: westeurope",
            "azure-native:location: westeurpe",
            "error: azure-native:location: 'westeurpe' is not a Azure ML region "
            "(did you mean 'westeurope'?)",
        ),
        (
            "vertex-prod",
            "gcp:region: europe-west4",
            "gcp:region: europe-wset4",
            "error: gcp:region: 'europe-wset4' is not a Vertex AI region "
            "(did you mean 'europe-west4'?)",
        ),
    ],
)
def test_a_typo_is_one_line_with_the_right_suggestion(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    stack: str,
    old: str,
    new: str,
    expected: str,
) -> None:
    assert preview_error(tmp_path, capsys, stack, old, new) == expected


def test_a_missing_section_names_the_present_key_closest_to_it() -> None:
    with pytest.raises(SpecError) as caught:
        check_config_keys(["inferstack:target", "inferstack:deploy-spec"])
    assert str(caught.value) == (
        "inferstack:deployment: is missing (found 'inferstack:deploy-spec': "
        "did you mean 'inferstack:deployment'?)"
    )


def test_other_project_keys_are_left_alone() -> None:
    # A site's kubeconfig secret and the project's own settings are not typos of inferstack's.
    check_config_keys(
        [
            "inferstack:target",
            "inferstack:deployment",
            "inferstack:kubeconfig-clinic-a",
            "inferstack:hfToken",
            "aws:region",
        ]
    )


def test_a_spec_written_in_code_is_named_as_the_call_and_its_arguments() -> None:
    from inferstack.aws import SageMakerEndpoint
    from inferstack.testing import run_program

    with pytest.raises(SpecError) as typo:
        run_program(lambda: SageMakerEndpoint("bot", {"name": "bot", "modle": {"id": "x"}}))
    assert str(typo.value) == (
        "SageMakerEndpoint('bot') spec.modle: is not a known field (did you mean 'model'?)"
    )

    spec = {"name": "bot", "model": {"id": "meta-llama/Llama-3.1-8B-Instruct"}}
    with pytest.raises(SpecError) as region:
        run_program(lambda: SageMakerEndpoint("bot", spec, region="eu-centrl-1"))
    assert str(region.value) == (
        "SageMakerEndpoint('bot') region: 'eu-centrl-1' is not a SageMaker region "
        "(did you mean 'eu-central-1'?)"
    )
    assert "stack config" not in str(typo.value) + str(region.value)

"""The target registry: every descriptor matches its component, and reading it loads no SDK."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from inferstack import targets
from inferstack.errors import SpecError

ROOT = Path(__file__).resolve().parents[2]
CLOUD_SDKS = {"pulumi_aws", "pulumi_azure_native", "pulumi_gcp", "pulumi_kubernetes"}
WITH_COMPONENT = [t for t in targets.REGISTRY.values() if t.component is not None]


def loaded_roots(code: str) -> set[str]:
    report = "import json, sys\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\n{report}"],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_every_target_name_has_one_descriptor_of_that_name() -> None:
    assert targets.NAMES == ("onprem", "sagemaker", "azureml", "vertex", "jetson")
    assert all(targets.get(name).name == name for name in targets.NAMES)


@pytest.mark.parametrize("target", WITH_COMPONENT, ids=lambda t: t.name)
def test_component_matches_its_descriptor(target: targets.Target) -> None:
    from inferstack.component import InferenceComponent

    cls = target.component_class()
    assert issubclass(cls, InferenceComponent)
    assert cls.target == target.name
    assert cls.type_token == f"inferstack:{target.token_module}:{cls.__name__}"
    assert cls.args_class.config_key == target.args_key


@pytest.mark.parametrize("target", WITH_COMPONENT, ids=lambda t: t.name)
def test_importing_a_component_loads_no_other_target_sdk(target: targets.Target) -> None:
    roots = loaded_roots(
        f"from inferstack import targets\ntargets.get({target.name!r}).component_class()"
    )
    assert "pulumi" in roots
    assert roots & CLOUD_SDKS <= set(target.sdk_modules)


def test_reading_the_registry_loads_no_sdk_nor_pulumi() -> None:
    roots = loaded_roots(
        "import inferstack\nfrom inferstack import targets\n"
        "assert [t.region_key for t in targets.REGISTRY.values()]"
    )
    assert not roots & (CLOUD_SDKS | {"pulumi"})


def test_a_target_without_component_is_a_spec_error() -> None:
    # Every target has a component today; a descriptor added before its folder must not import.
    target = dataclasses.replace(targets.get("vertex"), name="next", component=None)
    with pytest.raises(SpecError) as caught:
        target.component_class()
    assert caught.value.path == "inferstack:target"
    assert "no component yet" in caught.value.problem


def test_an_unknown_target_suggests_the_closest() -> None:
    with pytest.raises(SpecError) as caught:
        targets.get("sagemakr")
    assert str(caught.value) == (
        "inferstack:target: 'sagemakr' is not a target (did you mean 'sagemaker'?)"
    )


@pytest.mark.parametrize("target", list(targets.REGISTRY.values()), ids=lambda t: t.name)
def test_capabilities_drive_the_target_checks(target: targets.Target) -> None:
    """Spot and scale to zero are refused exactly where the descriptor says, with its words."""
    from inferstack.deployment import parse_deployment
    from inferstack.deployment.targets import _check_scaling, _check_spot, resolve_hardware

    spec = parse_deployment(
        {
            "name": "bot",
            "model": {"id": "meta-llama/Llama-3.1-8B-Instruct"},
            "compute": {"spot": True},
            "scaling": {"scale_to_zero": True},
        }
    )
    if target.no_spot is not None:
        with pytest.raises(SpecError) as caught:
            _check_spot(spec, target, resolve_hardware(spec, target.name))
        assert caught.value.problem == target.no_spot.problem
    refusal = target.no_scale_to_zero or target.no_realtime_scale_to_zero
    if refusal is not None:
        with pytest.raises(SpecError) as caught:
            _check_scaling(spec, target)
        assert (caught.value.path, caught.value.problem) == (
            "scaling.scale_to_zero",
            refusal.problem,
        )
    else:
        _check_scaling(spec, target)

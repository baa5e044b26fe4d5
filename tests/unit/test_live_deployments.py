"""The live tests deploy what the target accepts: their deployment specs pass the target checks.

The live tests run only with credentials, so nothing else would notice when a change to the
spec or the target checks makes the spec they deploy invalid (a dump of every default setting
fields the target refuses, a field refused on one platform). Each live module's ``_deployment``
runs here offline, with placeholder environment, through the checks the component runs first.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from inferstack.deployment import load_stack_config, parse_deployment, validate_for_target

LIVE = Path(__file__).resolve().parents[1] / "live"
# What each live test needs from its environment, as placeholders of the right shape.
ENVIRONMENT = {
    "INFERSTACK_LIVE_MODEL_SOURCE": "gs://live-models/meta-llama/Llama-3.2-1B-Instruct/",
    "INFERSTACK_LIVE_GCP_PROJECT": "live-project",
    "INFERSTACK_LIVE_BILLING_ACCOUNT": "000000-000000-000000",
}


def live_module(target: str) -> ModuleType:
    path = LIVE / f"test_{target}_live.py"
    spec = importlib.util.spec_from_file_location(f"live_{target}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("module", "target"),
    [
        ("onprem", "onprem"),
        ("sagemaker", "sagemaker"),
        ("azureml", "azureml"),
        ("vertex", "vertex"),
    ],
)
def test_each_live_deployment_passes_its_target_checks(
    module: str, target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in ENVIRONMENT.items():
        monkeypatch.setenv(key, value)
    if module != "vertex":
        # Only Vertex AI stages the weights the test names; the others keep the stack's source.
        monkeypatch.delenv("INFERSTACK_LIVE_MODEL_SOURCE")
    live = live_module(module)
    built = live._deployment()
    deployment, region = built if isinstance(built, tuple) else (built, None)
    stack = load_stack_config(live.STACK_CONFIG)
    assert deployment["name"].startswith("live-")
    validate_for_target(parse_deployment(deployment), target, region or stack.region)


def test_a_dump_of_every_default_is_what_the_checks_refuse() -> None:
    # The failure this guards against: every field set, including those the target ignores.
    stack = load_stack_config(LIVE.parents[1] / "stacks" / "Pulumi.vertex-dev.yaml")
    everything = stack.deployment.model_dump(mode="json", exclude_none=True)
    with pytest.raises(ValueError, match="has no effect on Vertex AI"):
        validate_for_target(parse_deployment(everything), "vertex", stack.region)

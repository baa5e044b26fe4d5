"""The spec check fails only where the runtime would refuse to start; queueing is a warning."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from inferstack import sizing
from inferstack.deployment import parse_deployment
from inferstack.deployment.targets import validate_for_target
from inferstack.errors import SpecError

LLAMA_8B = "meta-llama/Llama-3.1-8B-Instruct"


def spec(**sections: Any) -> Any:
    return parse_deployment({"name": "bot", "model": {"id": LLAMA_8B}, **sections})


def test_more_sequences_than_the_kv_cache_holds_is_a_warning_not_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    deployment = spec(serving={"max_concurrency": 16}, compute={"instance_type": "ml.g5.2xlarge"})
    sizing._warn_once.cache_clear()  # the line is logged once per process
    with caplog.at_level(logging.WARNING, logger="inferstack.sizing"):
        hardware = validate_for_target(deployment, "sagemaker")
        validate_for_target(deployment, "sagemaker")
    assert hardware.name == "ml.g5.2xlarge"
    lines = [r.getMessage() for r in caplog.records if "the rest queue" in r.getMessage()]
    assert lines == [
        "bot: at 8,192 tokens 4 of 16 sequences fit at once; the rest queue "
        "(serving.max_concurrency 16)"
    ]


def test_no_warning_when_every_sequence_fits(caplog: pytest.LogCaptureFixture) -> None:
    deployment = spec(serving={"max_concurrency": 2}, compute={"instance_type": "ml.g5.2xlarge"})
    with caplog.at_level(logging.WARNING, logger="inferstack.sizing"):
        validate_for_target(deployment, "sagemaker")
    assert not caplog.records


def test_a_runtime_that_would_refuse_to_start_fails_with_the_cheapest_fix_first() -> None:
    deployment = spec(
        model={"id": LLAMA_8B, "max_context": 131072}, compute={"instance_type": "ml.g5.2xlarge"}
    )
    with pytest.raises(SpecError) as raised:
        validate_for_target(deployment, "sagemaker")
    error = raised.value
    assert error.path == "compute.instance_type"
    # No quantized format holds 131,072 tokens on one A10G; 32,768 tokens do in bf16.
    assert error.fix == "lower model.max_context to 32768; or use ml.g6e.xlarge"
    assert "\n" not in str(error)


def test_spec_and_cli_share_the_default_context() -> None:
    from inferstack.deployment.targets import serving_context

    assert serving_context(spec()) == sizing.default_context(LLAMA_8B) == 8192

"""On-prem pods land on the GPU model the fit was checked for."""

from __future__ import annotations

from typing import Any

from inferstack import catalog
from inferstack.deployment import parse_deployment
from inferstack.deployment.targets import validate_for_target
from inferstack.kubernetes import LLMServiceArgs
from inferstack.kubernetes.plan import build_plan

LABEL = "nvidia.com/gpu.product"


def _selector(compute: dict[str, Any]) -> dict[str, str]:
    spec = parse_deployment(
        {"name": "bot", "model": {"id": "meta-llama/Llama-3.1-8B-Instruct"}, "compute": compute}
    )
    hardware = validate_for_target(spec, "onprem")
    return build_plan(spec, hardware, LLMServiceArgs(), name="bot").node_selector


def test_pods_select_the_gpu_model_the_fit_assumed() -> None:
    assert _selector({}) == {LABEL: "NVIDIA-L4"}
    assert _selector({"gpu_type": "A100-80GB"}) == {LABEL: "NVIDIA-A100-SXM4-80GB"}
    assert _selector({"gpu_type": "H100-80GB"}) == {LABEL: "NVIDIA-H100-80GB-HBM3"}


def test_node_selector_overrides_and_the_option_turns_it_off() -> None:
    given = {LABEL: "NVIDIA-L4-custom", "pool": "gpu"}
    assert _selector({"node_selector": given}) == given
    assert _selector({"select_gpu_product": False}) == {}
    assert _selector({"select_gpu_product": False, "node_selector": {"pool": "gpu"}}) == {
        "pool": "gpu"
    }


def test_every_catalog_gpu_has_a_label() -> None:
    for name in catalog.gpus():
        assert catalog.gpu_node_selector(name, True, {})[LABEL] == catalog.gpu_product_label(name)

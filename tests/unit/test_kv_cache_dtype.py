"""serving.kv_cache_dtype: fp8 reaches every runtime that sizes with it, and only those."""

from __future__ import annotations

from typing import Any

import pytest

from inferstack.aws import container as sagemaker
from inferstack.azureml import container as azureml
from inferstack.deployment import parse_deployment, validate_for_target
from inferstack.errors import SpecError
from inferstack.kubernetes import LLMServiceArgs
from inferstack.kubernetes.plan import build_plan
from inferstack.kubernetes.server_commands import server_command
from inferstack.vertex import container as vertex

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"


def spec(runtime: str, kv: str, **compute: Any) -> Any:
    return parse_deployment(
        {
            "name": "bot",
            "model": {"id": LLAMA},
            "serving": {"runtime": runtime, "kv_cache_dtype": kv},
            **({"compute": compute} if compute else {}),
        }
    )


@pytest.mark.parametrize("runtime", ["vllm", "tgi"])
def test_kubernetes_server_gets_the_flag_only_for_fp8(runtime: str) -> None:
    def args(kv: str) -> list[str]:
        deployment = spec(runtime, kv, gpu_type="L4", gpu_count=1)
        plan = build_plan(
            deployment, validate_for_target(deployment, "onprem"), LLMServiceArgs(), name="bot"
        )
        return list(server_command(plan).args)

    assert "--kv-cache-dtype" not in args("auto")
    fp8 = args("fp8")
    assert fp8[fp8.index("--kv-cache-dtype") + 1] == "fp8"


@pytest.mark.parametrize(
    ("runtime", "variable"), [("lmi", "OPTION_KV_CACHE_DTYPE"), ("tgi", "KV_CACHE_DTYPE")]
)
def test_sagemaker_container_gets_the_variable(runtime: str, variable: str) -> None:
    for kv, expected in (("auto", None), ("fp8", "fp8")):
        deployment = spec(runtime, kv)
        env = sagemaker.environment(deployment, sagemaker.model_source(deployment), gpu_count=1)
        assert env.get(variable) == expected


def test_azureml_and_vertex_vllm_get_the_flag() -> None:
    deployment = spec("vllm", "fp8", instance_type="Standard_NC24ads_A100_v4")
    hardware = validate_for_target(deployment, "azureml", "westeurope")
    assert "--kv-cache-dtype fp8" in azureml.environment(deployment, hardware)["VLLM_ARGS"]
    auto = spec("vllm", "auto", instance_type="Standard_NC24ads_A100_v4")
    assert "--kv-cache-dtype" not in azureml.environment(auto, hardware)["VLLM_ARGS"]

    deployment = spec("vllm", "fp8", instance_type="g2-standard-8")
    hardware = validate_for_target(deployment, "vertex", "europe-west4")
    source = vertex.model_source(deployment, "bucket")
    assert "--kv-cache-dtype=fp8" in vertex._vllm_args(deployment, hardware, source)


@pytest.mark.parametrize("runtime", ["ollama", "llamacpp"])
def test_runtimes_without_an_fp8_cache_refuse_it(runtime: str) -> None:
    with pytest.raises(SpecError) as caught:
        spec(runtime, "fp8")
    assert caught.value.path == "serving.kv_cache_dtype"
    assert "auto" in caught.value.fix

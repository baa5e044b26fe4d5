"""The fit against published measurements: vLLM startup logs and vendors' default deployments.

Each row names its source (URL and what it says). Runtimes log GiB; the sizing model speaks GB.
The errors measured here are reported in docs/sizing.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from inferstack import sizing

GIB = 2**30 / 1e9  # GB per GiB
LLAMA_8B = "meta-llama/Llama-3.1-8B-Instruct"


@dataclass(frozen=True)
class KvLog:
    """A vLLM startup log: the KV cache memory it reported for one setup."""

    source: str
    model: str
    target: str
    hardware: str
    context: int
    kv_gib: float  # "available_kv_cache_memory" / "KV Cache" as logged
    tolerance: float


KV_LOGS = [
    KvLog(
        # vLLM 0.6.5, `vllm serve meta-llama/Meta-Llama-3-8B` on one H100 80GB (79.22 GiB),
        # gpu_memory_utilization 0.90: "model weights take 14.96GiB; non_torch_memory 1.79GiB;
        # PyTorch activation peak memory 1.26GiB; available_kv_cache_memory 53.29GiB".
        source="https://github.com/vllm-project/vllm/pull/10511",
        model=LLAMA_8B,  # the Llama 3 8B architecture (32 layers, 8 KV heads, 128 head dim)
        target="onprem",
        hardware="H100-80GB",
        context=8192,
        kv_gib=53.29,
        tolerance=0.10,
    ),
    KvLog(
        # Ray + vLLM, DeepSeek-R1-Distill-Llama-8B (the Llama 3.1 8B architecture), bf16, one
        # A10G: "Model weights: 14.99 GiB | Activation memory: 0.85 GiB | KV Cache: 4.17 GiB".
        source=(
            "https://github.com/awslabs/data-on-eks/blob/main/website/docs/gen-ai/inference/"
            "GPUs/ray-vllm-deepseek.md"
        ),
        model=LLAMA_8B,
        target="sagemaker",
        hardware="ml.g5.2xlarge",
        context=8192,
        kv_gib=4.17,
        tolerance=0.10,
    ),
]


@pytest.mark.parametrize("log", KV_LOGS, ids=lambda log: f"{log.hardware}")
def test_kv_budget_matches_vllm_startup_logs(log: KvLog) -> None:
    report = sizing.fit(log.model, log.target, log.hardware, context=log.context, gpu_count=1)
    budget_gb = report.kv_cache_tokens * report.memory.kv_cache_gb / report.context
    measured_gb = log.kv_gib * GIB
    assert abs(budget_gb - measured_gb) <= log.tolerance * measured_gb, (budget_gb, measured_gb)
    # The estimate errs on the safe side: never more KV than vLLM found.
    assert budget_gb <= measured_gb


def test_rtx_3090_holds_a_20000_token_llama_8b_as_logged() -> None:
    # vllm-project/vllm#10517 (comment, RTX 3090, Llama-3.1-8B-Instruct, utilization 0.90):
    # "--max-model-len 20000: OK ... kv_cache_size=3.81GiB ... Maximum concurrency for 20000
    # tokens per request: 1.56x". https://github.com/vllm-project/vllm/issues/10517
    report = sizing.fit(LLAMA_8B, "onprem", "RTX-3090", context=20000, gpu_count=1)
    assert report.fits
    assert report.sequences_at_context >= 1.0
    assert abs(report.sequences_at_context - 1.56) <= 0.25 * 1.56


@dataclass(frozen=True)
class VendorDefault:
    """A vendor's own default deployment: it runs, so the fit must say so."""

    source: str
    model: str
    target: str
    hardware: str
    dtype: str
    context: int | None
    concurrency: int = 1
    runtime: str | None = None


VENDOR_DEFAULTS = [
    VendorDefault(
        # SageMaker JumpStart deploys Llama 3.1 8B Instruct on ml.g5.2xlarge by default
        # (JumpStart model card, meta-textgeneration-llama-3-1-8b-instruct); recorded in the
        # project's reference notes.
        source="SageMaker JumpStart, meta-textgeneration-llama-3-1-8b-instruct default instance",
        model=LLAMA_8B,
        target="sagemaker",
        hardware="ml.g5.2xlarge",
        dtype="bf16",
        context=8192,
        concurrency=8,
    ),
    VendorDefault(
        # NVIDIA Jetson AI Lab runs 3-4B models with Ollama on an Orin Nano 8GB (Jetson AI Lab
        # Ollama tutorial; recorded in the project's reference notes).
        source="NVIDIA Jetson AI Lab, Ollama tutorial (Orin Nano 8GB, 3-4B models)",
        model="meta-llama/Llama-3.2-3B-Instruct",
        target="jetson",
        hardware="orin-nano-8gb",
        dtype="gguf-q4_k_m",
        context=None,
    ),
]


@pytest.mark.parametrize("case", VENDOR_DEFAULTS, ids=lambda case: case.hardware)
def test_vendor_default_deployments_fit(case: VendorDefault) -> None:
    report = sizing.fit(
        case.model,
        case.target,
        case.hardware,
        dtype=case.dtype,
        context=case.context,
        concurrency=case.concurrency,
        runtime=case.runtime,
    )
    assert report.fits, report.summary()

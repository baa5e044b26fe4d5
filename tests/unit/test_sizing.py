"""Memory fit, tensor parallelism, cost and decode bounds of one replica."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from inferstack import catalog, sizing
from inferstack.catalog import ModelInfo

GIB = 2**30 / 1e9  # GB per GiB: runtimes log GiB, the sizing model speaks GB
LLAMA_8B = "meta-llama/Llama-3.1-8B-Instruct"
LLAMA_70B = "meta-llama/Llama-3.1-70B-Instruct"


def within(estimate: float, measured: float, tolerance: float = 0.15) -> bool:
    return abs(estimate - measured) <= tolerance * measured


# --- the arithmetic ---------------------------------------------------------------------------


def test_llama_8b_on_one_a10g_matches_vllms_startup_arithmetic() -> None:
    report = sizing.fit(LLAMA_8B, "sagemaker", "ml.g5.2xlarge", context=8192, concurrency=2)
    weights = 8.03 * 2  # 8.03 B parameters x 2 bytes
    kv_per_token = 2 * 32 * 8 * 128 * 2 / 1e9  # K and V x layers x KV heads x head dim x 2 B
    # vLLM: 1.0 GB non-torch + the profiling pass of 2048 batched tokens (its default below
    # 70 GiB) x 4096 hidden x (4 + 10) x 2 bytes.
    overhead = 1.0 + 2048 * 4096 * 14 * 2 / 1e9
    usable = 24 * 0.90
    assert report.memory.weights_gb == pytest.approx(weights)
    # It must hold one max-length sequence to start, not one per concurrent sequence.
    assert report.memory.kv_cache_gb == pytest.approx(kv_per_token * 8192)
    assert report.memory.overhead_gb == pytest.approx(overhead)
    assert report.usable_gb == pytest.approx(usable)
    assert report.fits and report.tensor_parallel == 1
    budget = usable - weights - overhead
    assert report.kv_cache_tokens == math.floor(budget / kv_per_token) == 32845
    assert report.max_context == 32845
    assert report.max_concurrency == math.floor(32845 / 8192) == 4
    assert report.sequences_at_context == pytest.approx(32845 / 8192)
    assert report.advisory is None  # 2 sequences of 8,192 tokens fit at once
    assert report.decode_tokens_per_s_ceiling == pytest.approx(600 / weights)


def test_to_json_has_the_fit_contract_keys_and_what_was_evaluated() -> None:
    data = sizing.fit(LLAMA_8B, "sagemaker", "ml.g5.2xlarge", context=8192).to_json()
    assert list(data)[:8] == [
        "fits",
        "memory_gb",
        "usable_gb",
        "tensor_parallel",
        "smallest_fitting",
        "max_context",
        "max_concurrency",
        "decode_tokens_per_s_ceiling",
    ]
    memory = data["memory_gb"]
    assert isinstance(memory, dict)
    assert list(memory) == ["weights", "kv_cache", "overhead", "total"]
    assert memory == {"weights": 16.06, "kv_cache": 1.07, "overhead": 1.23, "total": 18.37}
    assert data["usable_gb"] == 21.6
    assert data["fits"] is True
    assert data["hardware"] == "ml.g5.2xlarge" and data["runtime"] == "vllm"
    assert data["context"] == 8192 and data["concurrency"] == 1
    assert data["kv_cache_tokens"] == 32845 and data["sequences_at_context"] == 4.01


def test_issue_case_llama_8b_bf16_on_g5_2xlarge_8_x_8192_fits_with_queueing_advisory() -> None:
    # JumpStart's default instance for Llama 3.1 8B. vLLM starts (one 8,192-token sequence
    # fits) and holds 4 at once; the other 4 queue, they do not crash the server.
    report = sizing.fit(
        LLAMA_8B, "sagemaker", "ml.g5.2xlarge", dtype="bf16", context=8192, concurrency=8
    )
    assert report.fits
    assert report.advisory == "at 8,192 tokens 4 of 8 sequences fit at once; the rest queue"
    assert report.advisory in report.summary()
    assert report.to_json()["advisory"] == report.advisory


def test_issue_case_3b_q4_on_orin_nano_8gb_fits_without_naming_a_runtime() -> None:
    report = sizing.fit(
        "meta-llama/Llama-3.2-3B-Instruct", "jetson", "orin-nano-8gb", dtype="gguf-q4_k_m"
    )
    assert report.runtime == "ollama"  # GGUF on Jetson: Ollama, not vLLM
    assert report.fits
    # No gpu_memory_utilization: unified memory less the 2 GB OS + k3s reserve.
    assert report.usable_gb == pytest.approx(8 - 2.0)
    assert report.context == 8192  # the spec's default, min(model's, 8192)
    # Ollama allocates n_ctx x n_parallel up front: two slots need twice the KV.
    two = sizing.fit(
        "meta-llama/Llama-3.2-3B-Instruct",
        "jetson",
        "orin-nano-8gb",
        dtype="gguf-q4_k_m",
        concurrency=2,
    )
    assert two.memory.kv_cache_gb == pytest.approx(2 * report.memory.kv_cache_gb)


def test_default_context_is_the_spec_default() -> None:
    report = sizing.fit(LLAMA_8B, "sagemaker", "ml.g5.2xlarge")
    assert report.context == 8192 == sizing.default_context(LLAMA_8B)
    small = ModelInfo(
        id="acme/short", parameters_b=1.0, layers=16, kv_heads=8, head_dim=64, default_context=2048
    )
    assert sizing.fit(small, "sagemaker", "ml.g5.2xlarge").context == 2048


def test_default_runtime_follows_target_and_dtype() -> None:
    assert sizing.default_runtime("sagemaker", "bf16") == "vllm"
    assert sizing.default_runtime("jetson", "gguf-q4_k_m") == "ollama"
    assert sizing.default_runtime("onprem", "gguf-q8_0") == "ollama"
    with pytest.raises(ValueError, match="no runtime offered on sagemaker loads gguf-q4_k_m"):
        sizing.default_runtime("sagemaker", "gguf-q4_k_m")


def test_issue_case_gpu_count_is_honoured_in_the_answer() -> None:
    report = sizing.fit(LLAMA_70B, "onprem", "A100-40GB", context=8192, gpu_count=1)
    assert not report.fits and report.tensor_parallel == 1
    # The smallest GPU model that holds 70B bf16 on ONE GPU, never the A100-40GB itself.
    assert report.smallest_fitting != "A100-40GB"
    assert report.smallest_fitting is not None
    one = sizing.fit(LLAMA_70B, "onprem", report.smallest_fitting, context=8192, gpu_count=1)
    assert one.fits and one.tensor_parallel == 1
    assert sizing.smallest_fitting(LLAMA_70B, "onprem", context=8192, gpu_count=1) == (
        report.smallest_fitting
    )
    # Suggestions, cheapest change first; more GPUs is the last resort.
    assert report.suggestions[-1] == "set compute.gpu_count: 8 (tensor parallel 8)"
    assert sizing.fit(LLAMA_70B, "onprem", "A100-40GB", context=8192, gpu_count=8).fits


def test_suggestions_rank_a_quantized_format_before_bigger_hardware() -> None:
    report = sizing.fit(LLAMA_8B, "sagemaker", "ml.g4dn.xlarge", context=8192)
    assert not report.fits
    assert report.suggestions[0] == "use model.dtype fp8"
    assert sizing.fit(LLAMA_8B, "sagemaker", "ml.g4dn.xlarge", dtype="fp8", context=8192).fits
    assert any(s.startswith("use ml.") for s in report.suggestions)


def test_more_context_needs_more_memory_and_holds_fewer_sequences() -> None:
    totals, kvs, headroom = [], [], []
    for context in (1024, 4096, 16384, 65536):
        report = sizing.fit(LLAMA_8B, "vertex", "a2-ultragpu-1g", context=context)
        totals.append(report.memory.total_gb)
        kvs.append(report.memory.kv_cache_gb)
        headroom.append(report.max_concurrency)
    assert totals == sorted(totals) and len(set(totals)) == len(totals)
    assert kvs[-1] == pytest.approx(kvs[0] * 64)
    assert headroom == sorted(headroom, reverse=True) and headroom[0] > headroom[-1]
    # vLLM's verdict and memory do not depend on the number of sequences; its advisory does.
    one, many = (
        sizing.fit(LLAMA_8B, "vertex", "a2-ultragpu-1g", context=65536, concurrency=n)
        for n in (1, 64)
    )
    assert many.memory == one.memory and many.fits
    assert one.advisory is None and many.advisory is not None


def test_smaller_formats_need_less_memory_for_weights() -> None:
    weights = [
        sizing.fit(LLAMA_8B, "onprem", "L4", dtype=d, context=4096).memory.weights_gb
        for d in ("bf16", "fp8", "int4-awq")
    ]
    assert weights[0] > weights[1] > weights[2]
    # AWQ keeps embeddings and lm_head in 16 bits: 2 x 128256 x 4096 parameters.
    embeddings = 2 * 128256 * 4096 / 1e9
    assert weights[2] == pytest.approx((8.03 - embeddings) * 0.52 + embeddings * 2)


# --- the reference cases ------------------------------------------------------------------------


def test_llama_70b_bf16_does_not_fit_one_a10g() -> None:
    report = sizing.fit(LLAMA_70B, "sagemaker", "ml.g5.2xlarge")
    assert not report.fits
    assert report.memory.weights_gb == pytest.approx(141.1, abs=0.1)
    assert report.max_context == 0 and report.max_concurrency == 0
    summary = report.summary()
    assert summary.startswith(
        f"Llama-3.1-70B-Instruct bf16 on vllm needs {report.memory.total_gb:.1f} GB"
    )
    assert "ml.g5.2xlarge has 21.6 GB usable (1 x A10G 24 GB, vllm takes 0.90)" in summary
    assert summary.endswith(
        f"smallest SageMaker instance type that fits: {report.smallest_fitting}"
    )


def test_smallest_sagemaker_sku_for_llama_70b_is_the_cheapest_that_fits() -> None:
    answer = sizing.smallest_fitting(LLAMA_70B, "sagemaker")
    assert answer is not None
    assert sizing.fit(LLAMA_70B, "sagemaker", answer).fits
    price = catalog.instance_type("sagemaker", answer).usd_per_hour
    assert price is not None
    for sku in catalog.instance_types("sagemaker").values():
        if sku.usd_per_hour is not None and sku.usd_per_hour < price:
            assert not sizing.fit(LLAMA_70B, "sagemaker", sku.name).fits, sku.name


def test_llama_70b_fits_p4de_with_tensor_parallel_2_or_more() -> None:
    report = sizing.fit(LLAMA_70B, "sagemaker", "ml.p4de.24xlarge", concurrency=4)
    assert report.fits
    assert report.tensor_parallel >= 2
    assert report.usable_gb == pytest.approx(report.tensor_parallel * 80 * 0.9)


def test_longer_context_needs_dearer_skus_for_llama_70b() -> None:
    short = sizing.smallest_fitting(LLAMA_70B, "sagemaker", context=8192)
    full = sizing.smallest_fitting(LLAMA_70B, "sagemaker", context=131072)
    assert short is not None and full is not None
    cheaper = catalog.instance_type("sagemaker", short).usd_per_hour
    dearer = catalog.instance_type("sagemaker", full).usd_per_hour
    assert cheaper is not None and dearer is not None and cheaper <= dearer


def test_jetson_vllm_takes_nvidias_family_fraction_of_the_whole_memory() -> None:
    report = sizing.fit(LLAMA_8B, "jetson", "orin-nano-8gb")
    assert report.runtime == "vllm" and not report.fits
    # vLLM requests total x gpu_memory_utilization (the family's 0.50), leaving the OS 4 GB.
    assert report.usable_gb == pytest.approx(8 * 0.50)
    assert report.context == 4096  # the Orin Nano family limit for vLLM
    assert "orin-nano-8gb has 4.0 GB usable (8 GB unified - 2 GB OS reserve, vllm takes 0.50)" in (
        report.summary()
    )


def test_jetson_llama_8b_q4_k_m_on_llama_cpp_takes_no_fraction() -> None:
    report = sizing.fit(
        LLAMA_8B, "jetson", "agx-orin-64gb", dtype="gguf-q4_k_m", runtime="llamacpp"
    )
    assert report.fits
    assert report.usable_gb == pytest.approx(64 - 3.0)
    vllm = sizing.fit(LLAMA_8B, "jetson", "agx-orin-64gb", dtype="fp8")
    assert vllm.usable_gb == pytest.approx(64 * 0.70)
    assert report.context == 8192
    assert report.decode_tokens_per_s_ceiling == pytest.approx(204.8 / (8.03 * 0.6118), rel=1e-3)
    smallest = sizing.smallest_fitting(LLAMA_8B, "jetson", dtype="gguf-q4_k_m", runtime="llamacpp")
    # At 8,192 tokens the 8 GB modules are 0.5 GB short; 16 GB is the smallest.
    assert smallest == "orin-nx-16gb"


def test_nothing_fits_reports_none() -> None:
    assert sizing.smallest_fitting(LLAMA_70B, "jetson") is None
    report = sizing.fit(LLAMA_70B, "jetson", "thor-t5000")
    assert not report.fits and report.smallest_fitting is None
    assert report.summary().endswith("none in the catalog (jetson)")


# --- tensor parallelism ---------------------------------------------------------------------


def test_onprem_picks_the_smallest_power_of_two_that_fits() -> None:
    report = sizing.fit(LLAMA_70B, "onprem", "H100-80GB", context=8192)
    assert report.fits and report.tensor_parallel == 4
    limited = sizing.fit(LLAMA_70B, "onprem", "H100-80GB", context=8192, gpu_count=2)
    assert not limited.fits and limited.tensor_parallel == 2


def _model(**fields: object) -> ModelInfo:
    base: dict[str, object] = {
        "id": "acme/custom",
        "parameters_b": 60.0,
        "layers": 60,
        "kv_heads": 4,
        "head_dim": 128,
        "default_context": 4096,
        "attention_heads": 28,
        "hidden_size": 3584,
    }
    base.update(fields)
    return ModelInfo(**base)  # type: ignore[arg-type]


def test_sharding_runtimes_need_tp_to_divide_the_attention_heads() -> None:
    # 120 GB of fp16 weights need 8 L4s; 28 heads do not split 8 ways.
    model = _model()
    sharded = sizing.fit(model, "onprem", "L4", dtype="fp16", gpu_count=8)
    assert not sharded.fits and sharded.tensor_parallel == 4
    layered = sizing.fit(model, "onprem", "L4", dtype="fp16", gpu_count=8, runtime="llamacpp")
    assert layered.fits and layered.tensor_parallel == 8


def test_tensor_parallel_beyond_kv_heads_replicates_the_cache() -> None:
    model = _model(parameters_b=30.0, layers=40, kv_heads=2, attention_heads=16, hidden_size=2048)
    sharded = sizing.fit(model, "onprem", "L4", dtype="fp16", gpu_count=4)
    layered = sizing.fit(model, "onprem", "L4", dtype="fp16", gpu_count=4, runtime="llamacpp")
    assert sharded.tensor_parallel == 4
    assert sharded.memory.kv_cache_gb == pytest.approx(2 * layered.memory.kv_cache_gb)


def test_mixture_of_experts_sizes_all_experts_and_decodes_the_active_ones() -> None:
    report = sizing.fit("Mixtral-8x7B-Instruct-v0.1", "onprem", "A100-80GB", context=8192)
    assert report.memory.weights_gb == pytest.approx(46.70 * 2)
    assert report.fits and report.tensor_parallel == 2
    ceiling = 2 * 2039 / (12.88 * 2)
    assert report.decode_tokens_per_s_ceiling == pytest.approx(ceiling)


# --- inputs -----------------------------------------------------------------------------------


def test_custom_model_without_architecture_details_is_sized() -> None:
    model = ModelInfo(
        id="acme/internal-7b",
        parameters_b=7.0,
        layers=32,
        kv_heads=8,
        head_dim=128,
        default_context=8192,
    )
    report = sizing.fit(model, "sagemaker", "ml.g5.2xlarge", context=4096)
    assert report.fits and report.memory.weights_gb == pytest.approx(14.0)
    assert report.summary().startswith("internal-7b bf16 fits ml.g5.2xlarge")
    # Without vocab_size, 10% of the parameters stay in 16 bits under AWQ.
    awq = sizing.fit(model, "sagemaker", "ml.g5.2xlarge", dtype="int4-awq", context=4096)
    assert awq.memory.weights_gb == pytest.approx(6.3 * 0.52 + 0.7 * 2)


def test_runtime_memory_fraction_can_be_overridden() -> None:
    report = sizing.fit(LLAMA_8B, "sagemaker", "ml.g5.2xlarge", gpu_memory_utilization=0.95)
    assert report.usable_gb == pytest.approx(24 * 0.95)
    assert "vllm takes 0.95)" in report.summary()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"model": "Llama-3.1-8B-Instruc"}, KeyError, "did you mean meta-llama/Llama-3.1-8B"),
        ({"target": "aws"}, ValueError, "'aws' is not a target"),
        ({"hardware": "ml.g5.2xl"}, KeyError, r"did you mean ml\.g5\.2xlarge"),
        ({"dtype": "bf32"}, KeyError, "unknown dtype 'bf32'"),
        ({"runtime": "ollama"}, ValueError, "not offered on sagemaker; use one of vllm, tgi, lmi"),
        ({"concurrency": 0}, ValueError, "at least 1 sequence"),
        ({"context": 0}, ValueError, "at least 1 token"),
    ],
)
def test_bad_inputs_raise_helpful_errors(
    kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    call: dict[str, object] = {
        "model": LLAMA_8B,
        "target": "sagemaker",
        "hardware": "ml.g5.2xlarge",
    }
    call.update(kwargs)
    with pytest.raises(error, match=message):
        sizing.fit(**call)  # type: ignore[arg-type]


# --- cost -------------------------------------------------------------------------------------


def test_monthly_cost_is_hourly_price_times_730_times_replicas() -> None:
    assert sizing.monthly_cost_usd("sagemaker", "ml.g5.2xlarge", 2) == pytest.approx(
        1.515 * 730 * 2
    )
    assert sizing.monthly_cost_usd("vertex", "g2-standard-8", 0) == 0
    assert sizing.monthly_cost_usd("sagemaker", "ml.p5e.48xlarge", 1) is None
    assert sizing.monthly_cost_usd("onprem", "L4", 3) is None
    with pytest.raises(ValueError, match="negative"):
        sizing.monthly_cost_usd("sagemaker", "ml.g5.2xlarge", -1)


# --- accuracy against published measurements ----------------------------------------------------


def test_bf16_weights_match_vllm_log_for_llama_8b() -> None:
    # "Loading model weights took 14.99 GiB" (DeepSeek-R1-Distill-Llama-8B, the Llama 3.1 8B
    # architecture, bf16, on an A10G), awslabs/data-on-eks,
    # https://github.com/awslabs/data-on-eks/blob/main/website/docs/gen-ai/inference/GPUs/ray-vllm-deepseek.md
    report = sizing.fit(LLAMA_8B, "sagemaker", "ml.g5.2xlarge", context=8192)
    assert within(report.memory.weights_gb, 14.99 * GIB)


def test_vllm_footprint_besides_kv_matches_its_log() -> None:
    # Same log: "Model weights: 14.99 GiB | Activation memory: 0.85 GiB | KV Cache: 4.17 GiB".
    # The estimate of everything but the KV cache must land within 15% of 14.99 + 0.85 GiB.
    report = sizing.fit(LLAMA_8B, "sagemaker", "ml.g5.2xlarge", context=8192)
    estimate = report.memory.weights_gb + report.memory.overhead_gb
    assert within(estimate, (14.99 + 0.85) * GIB)
    assert estimate >= (14.99 + 0.85) * GIB  # and errs on the safe side


@pytest.mark.parametrize(
    ("dtype", "measured_gib"),
    [("gguf-q4_k_m", 4.58), ("gguf-q5_k_m", 5.33), ("gguf-q8_0", 7.95), ("fp16", 14.96)],
)
def test_gguf_weights_match_llama_cpp_file_sizes(dtype: str, measured_gib: float) -> None:
    # llama.cpp's quantize README, table for meta-llama/Llama-3.1-8B (size in GiB),
    # https://github.com/ggml-org/llama.cpp/blob/master/tools/quantize/README.md
    report = sizing.fit(LLAMA_8B, "onprem", "L4", dtype=dtype, runtime="llamacpp", context=4096)
    assert within(report.memory.weights_gb, measured_gib * GIB)


def test_llama_70b_q4_k_m_weights_match_llama_cpp() -> None:
    # Same README, "Memory/Disk Requirements": Llama 3.1 70B Q4_K_M is 43.1 GB.
    report = sizing.fit(LLAMA_70B, "onprem", "A100-80GB", dtype="gguf-q4_k_m", runtime="llamacpp")
    assert within(report.memory.weights_gb, 43.1)


# --- import cost ------------------------------------------------------------------------------


def test_importing_sizing_loads_no_pulumi_and_no_yaml() -> None:
    probe = (
        "import sys, inferstack.sizing; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'yaml')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_fp8_kv_cache_doubles_the_kv_token_capacity_of_a_bf16_model() -> None:
    model, sku = "meta-llama/Llama-3.1-8B-Instruct", "ml.g5.2xlarge"
    auto = sizing.fit(model, "sagemaker", sku, dtype="bf16", context=8192)
    fp8 = sizing.fit(model, "sagemaker", sku, dtype="bf16", context=8192, kv_cache_dtype="fp8")

    assert fp8.to_json()["kv_cache_tokens"] == pytest.approx(
        2 * auto.to_json()["kv_cache_tokens"], rel=0.01
    )
    assert fp8.memory.weights_gb == auto.memory.weights_gb


def test_fp8_kv_cache_is_what_lets_a_long_context_start() -> None:
    model, sku = "meta-llama/Llama-3.1-8B-Instruct", "ml.g5.2xlarge"
    capacity = sizing.fit(model, "sagemaker", sku, dtype="bf16").to_json()["kv_cache_tokens"]
    context = int(capacity * 1.5)

    assert not sizing.fit(model, "sagemaker", sku, dtype="bf16", context=context).fits
    assert sizing.fit(
        model, "sagemaker", sku, dtype="bf16", context=context, kv_cache_dtype="fp8"
    ).fits

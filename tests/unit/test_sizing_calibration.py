"""The fit against published measurements: vLLM startup logs and vendors' default deployments.

Each row names its source (URL and what it says). Runtimes log GiB; the sizing model speaks GB.
The errors measured here are reported in docs/sizing.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from inferstack import catalog, sizing
from inferstack.catalog import ModelInfo

GIB = 2**30 / 1e9  # GB per GiB
LLAMA_8B = "meta-llama/Llama-3.1-8B-Instruct"
VERTEX = (
    "GoogleCloudPlatform/vertex-ai-samples (commit cc0d791e), notebooks/community/model_garden/"
)
AZUREML = "Azure/azureml-examples (commit 085cd6ea), "


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
    utilization: float | None = None


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
    # Vertex AI Model Garden's vLLM deployment notebooks: the machine each model is deployed on
    # by default, with the notebook's max_model_len and gpu_memory_utilization.
    VendorDefault(
        source=VERTEX
        + "model_garden_pytorch_llama3_1_deployment.ipynb: 8B -> g2-standard-12, 1 x "
        + "L4, max_model_len 8192",
        model="meta-llama/Llama-3.1-8B-Instruct",
        target="vertex",
        hardware="g2-standard-12",
        dtype="bf16",
        context=8192,
    ),
    VendorDefault(
        source=VERTEX
        + "model_garden_pytorch_llama3_1_deployment.ipynb: 70B -> a3-highgpu-4g, 4 x "
        + "H100 80GB, max_model_len 8192",
        model="meta-llama/Llama-3.1-70B-Instruct",
        target="vertex",
        hardware="a3-highgpu-4g",
        dtype="bf16",
        context=8192,
    ),
    VendorDefault(
        source=VERTEX
        + "model_garden_pytorch_llama3_2_deployment.ipynb: 3.2-1B -> g2-standard-8, 1 "
        + "x L4, max_model_len 4096",
        model="meta-llama/Llama-3.2-1B-Instruct",
        target="vertex",
        hardware="g2-standard-8",
        dtype="bf16",
        context=4096,
    ),
    VendorDefault(
        source=VERTEX
        + "model_garden_pytorch_llama3_2_deployment.ipynb: 3.2-3B -> g2-standard-8, 1 "
        + "x L4, max_model_len 4096",
        model="meta-llama/Llama-3.2-3B-Instruct",
        target="vertex",
        hardware="g2-standard-8",
        dtype="bf16",
        context=4096,
    ),
    VendorDefault(
        source=VERTEX
        + "model_garden_gemma2_deployment_on_vertex.ipynb: 2b -> g2-standard-12, 1 x "
        + "L4 (vLLM max_model_len 4096)",
        model="google/gemma-2-2b-it",
        target="vertex",
        hardware="g2-standard-12",
        dtype="bf16",
        context=4096,
    ),
    VendorDefault(
        source=VERTEX
        + "model_garden_gemma2_deployment_on_vertex.ipynb: 9b -> g2-standard-24, 2 x L4",
        model="google/gemma-2-9b-it",
        target="vertex",
        hardware="g2-standard-24",
        dtype="bf16",
        context=4096,
    ),
    VendorDefault(
        source=VERTEX
        + "model_garden_gemma2_deployment_on_vertex.ipynb: 27b -> g2-standard-48, 4 x L4",
        model="google/gemma-2-27b-it",
        target="vertex",
        hardware="g2-standard-48",
        dtype="bf16",
        context=4096,
    ),
    VendorDefault(
        source=VERTEX
        + "model_garden_phi3_deployment.ipynb: Phi-3-mini-4k-instruct, 4096, 1 x L4 "
        + "g2-standard-12, utilization 0.85",
        model="microsoft/Phi-3-mini-4k-instruct",
        target="vertex",
        hardware="g2-standard-12",
        dtype="bf16",
        context=4096,
        utilization=0.85,
    ),
    VendorDefault(
        source=VERTEX
        + "model_garden_phi3_deployment.ipynb: Phi-3-mini-128k-instruct, 131072, 4 x "
        + "L4 g2-standard-48, utilization 0.90",
        model="microsoft/Phi-3-mini-128k-instruct",
        target="vertex",
        hardware="g2-standard-48",
        dtype="bf16",
        context=131072,
        utilization=0.9,
    ),
    VendorDefault(
        source=VERTEX
        + "model_garden_phi3_deployment.ipynb: Phi-3-medium-4k-instruct, 4096, 2 x L4 "
        + "g2-standard-24, utilization 0.85",
        model="microsoft/Phi-3-medium-4k-instruct",
        target="vertex",
        hardware="g2-standard-24",
        dtype="bf16",
        context=4096,
        utilization=0.85,
    ),
    VendorDefault(
        source=VERTEX
        + "model_garden_phi3_deployment.ipynb: Phi-3-medium-128k-instruct, 20000, 2 x "
        + "L4 g2-standard-24, utilization 0.85",
        model="microsoft/Phi-3-medium-128k-instruct",
        target="vertex",
        hardware="g2-standard-24",
        dtype="bf16",
        context=20000,
        utilization=0.85,
    ),
    VendorDefault(
        source=VERTEX
        + "model_garden_pytorch_qwen2_deployment.ipynb: Qwen2.5-0.5B, 1 x L4 "
        + "g2-standard-12, 32768, utilization 0.85",
        model="Qwen/Qwen2.5-0.5B-Instruct",
        target="vertex",
        hardware="g2-standard-12",
        dtype="bf16",
        context=32768,
        utilization=0.85,
    ),
    VendorDefault(
        source=VERTEX
        + "model_garden_pytorch_qwen2_deployment.ipynb: Qwen2.5-1.5B, 1 x L4 "
        + "g2-standard-12, 32768, utilization 0.85",
        model="Qwen/Qwen2.5-1.5B-Instruct",
        target="vertex",
        hardware="g2-standard-12",
        dtype="bf16",
        context=32768,
        utilization=0.85,
    ),
    VendorDefault(
        source=VERTEX
        + "model_garden_pytorch_qwen2_deployment.ipynb: Qwen2.5-7B, 2 x L4 "
        + "g2-standard-24, 32768, utilization 0.85",
        model="Qwen/Qwen2.5-7B-Instruct",
        target="vertex",
        hardware="g2-standard-24",
        dtype="bf16",
        context=32768,
        utilization=0.85,
    ),
    VendorDefault(
        source=VERTEX
        + "model_garden_pytorch_qwen2_deployment.ipynb: Qwen2.5-7B, 1 x A100 40GB "
        + "a2-highgpu-1g, 32768, utilization 0.85",
        model="Qwen/Qwen2.5-7B-Instruct",
        target="vertex",
        hardware="a2-highgpu-1g",
        dtype="bf16",
        context=32768,
        utilization=0.85,
    ),
    VendorDefault(
        source=VERTEX
        + "model_garden_pytorch_qwen2_deployment.ipynb: Qwen2.5-14B, 4 x L4 "
        + "g2-standard-48, 32768, utilization 0.85",
        model="Qwen/Qwen2.5-14B-Instruct",
        target="vertex",
        hardware="g2-standard-48",
        dtype="bf16",
        context=32768,
        utilization=0.85,
    ),
    VendorDefault(
        source=VERTEX
        + "model_garden_pytorch_qwen2_deployment.ipynb: Qwen2.5-14B, 1 x A100 80GB "
        + "a2-ultragpu-1g, 32768, utilization 0.85",
        model="Qwen/Qwen2.5-14B-Instruct",
        target="vertex",
        hardware="a2-ultragpu-1g",
        dtype="bf16",
        context=32768,
        utilization=0.85,
    ),
    VendorDefault(
        source=VERTEX
        + "model_garden_pytorch_qwen2_deployment.ipynb: Qwen2.5-32B, 4 x L4 "
        + "g2-standard-48, 32768, utilization 0.95",
        model="Qwen/Qwen2.5-32B-Instruct",
        target="vertex",
        hardware="g2-standard-48",
        dtype="bf16",
        context=32768,
        utilization=0.95,
    ),
    VendorDefault(
        source=VERTEX
        + "model_garden_pytorch_qwen2_deployment.ipynb: Qwen2.5-32B, 1 x A100 80GB "
        + "a2-ultragpu-1g, 32768, utilization 0.96",
        model="Qwen/Qwen2.5-32B-Instruct",
        target="vertex",
        hardware="a2-ultragpu-1g",
        dtype="bf16",
        context=32768,
        utilization=0.96,
    ),
    VendorDefault(
        source=VERTEX
        + "model_garden_pytorch_mistral_deployment.ipynb: Mistral-7B-Instruct-v0.3 -> "
        + "g2-standard-24, 2 x L4, 4096, utilization 0.85",
        model="mistralai/Mistral-7B-Instruct-v0.3",
        target="vertex",
        hardware="g2-standard-24",
        dtype="bf16",
        context=4096,
        utilization=0.85,
    ),
    VendorDefault(
        source=VERTEX
        + "model_garden_pytorch_mixtral_deployment.ipynb: H100 -> a3-highgpu-8g, 8 x "
        + "H100, max_model_len 8192",
        model="mistralai/Mixtral-8x7B-Instruct-v0.1",
        target="vertex",
        hardware="a3-highgpu-8g",
        dtype="bf16",
        context=8192,
    ),
    VendorDefault(
        source=VERTEX
        + "model_garden_pytorch_mixtral_deployment.ipynb: L4 -> g2-standard-96, 8 x "
        + "L4, 4096, utilization 0.85",
        model="mistralai/Mixtral-8x7B-Instruct-v0.1",
        target="vertex",
        hardware="g2-standard-96",
        dtype="bf16",
        context=4096,
        utilization=0.85,
    ),
    # Azure ML model catalog samples: the managed online endpoint SKU each model is deployed on
    # (deploy.yml `instance_type` and the script's `deployment_sku`, the same SKU in the SDK
    # notebook). The samples set no context: each model's own window is evaluated.
    VendorDefault(
        source=AZUREML
        + "cli/foundation-models/meta-llama-3/inference/meta-llama-3-8b-instruct/deploy.yml: "
        + "Meta-Llama-3-8B-instruct -> Standard_NC24ads_A100_v4",
        model="meta-llama/Meta-Llama-3-8B-Instruct",
        target="azureml",
        hardware="Standard_NC24ads_A100_v4",
        dtype="bf16",
        context=8192,
    ),
    VendorDefault(
        source=AZUREML
        + "cli/foundation-models/meta-llama-3/inference/meta-llama-3-8b/deploy.yml: "
        + "Meta-Llama-3-8B -> Standard_NC24ads_A100_v4",
        model="meta-llama/Meta-Llama-3-8B",
        target="azureml",
        hardware="Standard_NC24ads_A100_v4",
        dtype="bf16",
        context=8192,
    ),
    VendorDefault(
        source=AZUREML
        + "cli/foundation-models/system/inference/visual-chat-completion/deploy.yml: "
        + "Phi-3-vision-128k-instruct -> Standard_NC48ads_A100_v4",
        model="microsoft/Phi-3-vision-128k-instruct",
        target="azureml",
        hardware="Standard_NC48ads_A100_v4",
        dtype="bf16",
        context=131072,
    ),
    VendorDefault(
        source=AZUREML
        + "sdk/python/foundation-models/huggingface/inference/text-generation-streaming/"
        + "text-generation-streaming-online-endpoint.ipynb: tiiuae-falcon-40b -> "
        + "Standard_ND96amsr_A100_v4, streamed with the text-generation-inference client",
        model="tiiuae/falcon-40b",
        target="azureml",
        hardware="Standard_ND96amsr_A100_v4",
        dtype="bf16",
        context=2048,
        runtime="tgi",
    ),
]


# Models of the Azure rows that the catalog does not hold, from their config.json and cards.
# Phi-3-vision-128k-instruct: the Phi-3-mini-128k language model (32 layers, 32 attention and
# KV heads of 96, 131072 positions) with a CLIP vision tower; 4.2 B parameters in all (card).
PHI3_VISION = replace(
    catalog.model("microsoft/Phi-3-mini-128k-instruct"),
    id="microsoft/Phi-3-vision-128k-instruct",
    parameters_b=4.2,
    aliases=(),
)
# falcon-40b: 60 layers, 128 query heads and 8 KV heads of 64 (new_decoder_architecture),
# hidden 8192, vocabulary 65024, 2048 positions; 41.8 B parameters (safetensors total). It fits
# eight A100 80GB with a wide margin, so the verdict does not hang on these numbers.
FALCON_40B = ModelInfo(
    id="tiiuae/falcon-40b",
    parameters_b=41.8,
    layers=60,
    kv_heads=8,
    head_dim=64,
    default_context=2048,
    attention_heads=128,
    hidden_size=8192,
    vocab_size=65024,
)
CUSTOM_MODELS = {model.id: model for model in (PHI3_VISION, FALCON_40B)}


@pytest.mark.parametrize("case", VENDOR_DEFAULTS, ids=lambda case: case.hardware)
def test_vendor_default_deployments_fit(case: VendorDefault) -> None:
    report = sizing.fit(
        CUSTOM_MODELS.get(case.model, case.model),
        case.target,
        case.hardware,
        dtype=case.dtype,
        context=case.context,
        concurrency=case.concurrency,
        runtime=case.runtime,
        gpu_memory_utilization=case.utilization,
    )
    assert report.fits, report.summary()


@dataclass(frozen=True)
class Refused:
    """A published report of a runtime refusing to start (or running out of memory at start)."""

    source: str
    model: str | ModelInfo
    hardware: str  # on-prem GPU model
    gpus: int
    dtype: str
    context: int
    utilization: float | None = None


MIXTRAL = "mistralai/Mixtral-8x7B-Instruct-v0.1"
# Qwen1.5-72B-Chat's config.json: 80 layers, 64 attention and 64 KV heads of 128, 32768
# positions; 72 B parameters is the lower bound its name gives.
QWEN15_72B = ModelInfo(
    id="Qwen/Qwen1.5-72B-Chat",
    parameters_b=72.0,
    layers=80,
    kv_heads=64,
    head_dim=128,
    default_context=32768,
    attention_heads=64,
    hidden_size=8192,
)
# Qwen1.5 7B and 14B (config.json): no grouped-query attention below 32B (model card), 32768
# positions; 7B: 32 layers, 32 heads of 128, hidden 4096, vocabulary 151936; 14B: 40 layers,
# 40 heads of 128, hidden 5120, vocabulary 152064. Parameters: the lower bound the name gives.
QWEN15_7B_GPTQ = ModelInfo(
    id="Qwen/Qwen1.5-7B-Chat-GPTQ-Int4",
    parameters_b=7.0,
    layers=32,
    kv_heads=32,
    head_dim=128,
    default_context=32768,
    attention_heads=32,
    hidden_size=4096,
    vocab_size=151936,
)
QWEN15_14B = ModelInfo(
    id="Qwen/Qwen1.5-14B-Chat",
    parameters_b=14.0,
    layers=40,
    kv_heads=40,
    head_dim=128,
    default_context=32768,
    attention_heads=40,
    hidden_size=5120,
    vocab_size=152064,
)
REFUSED = [
    Refused(
        # "python -m vllm.entrypoints.openai.api_server --model mistralai/Mixtral-8x7B-v0.1"
        # on a GPU of 39.39 GiB (A100 40GB): torch.cuda.OutOfMemoryError while loading.
        # Mixtral-8x7B-v0.1 and -Instruct-v0.1 share the architecture; vLLM's default
        # max_model_len for it is 32768.
        source="https://github.com/vllm-project/vllm/issues/2363",
        model=MIXTRAL,
        hardware="A100-40GB",
        gpus=1,
        dtype="bf16",
        context=32768,
    ),
    Refused(
        # Same issue, comment: Mixtral-8x7B-Instruct-v0.1 with --tensor-parallel-size 2
        # --max-model-len 8000 on 2 x A6000 (96 GB) does not fit; "it runs fine with 128GB".
        source="https://github.com/vllm-project/vllm/issues/2363",
        model=MIXTRAL,
        hardware="RTX-A6000",
        gpus=2,
        dtype="bf16",
        context=8000,
    ),
    Refused(
        # TheBloke/Mixtral-8x7B-Instruct-v0.1-AWQ, --gpu-memory-utilization 0.5
        # --max-model-len 4096 on an RTX 3090 (24 GB): CUDA out of memory.
        source="https://github.com/vllm-project/vllm/issues/2312",
        model=MIXTRAL,
        hardware="RTX-3090",
        gpus=1,
        dtype="int4-awq",
        context=4096,
        utilization=0.5,
    ),
    Refused(
        # Llama 3.1 FAQ thread: Meta-Llama-3.1-8B-Instruct on one L4 needed --max-model-len
        # (1024 ran); at the default 131072 vLLM refused with "The model's max seq len (...) is
        # larger than the maximum number of tokens that can be stored in KV cache".
        source="https://github.com/vllm-project/vllm/issues/6689",
        model=LLAMA_8B,
        hardware="L4",
        gpus=1,
        dtype="bf16",
        context=131072,
    ),
    Refused(
        # "Running Llama 3 70B on A100 GPU": one NVIDIA A100 80GB PCIe, CUDA out of memory
        # ("Tried to allocate 160MiB"). Llama 3 70B has Llama 3.1 70B's architecture and an
        # 8,192-token context.
        source="https://github.com/vllm-project/vllm/issues/5711",
        model="meta-llama/Llama-3.1-70B-Instruct",
        hardware="A100-80GB-PCIE",
        gpus=1,
        dtype="bf16",
        context=8192,
    ),
    Refused(
        # Qwen2.5-VL-72B-Instruct with --tensor-parallel-size 4 --gpu_memory_utilization 0.95
        # --max_model_len 8192 on 4 x A100-PCIE-40GB (vLLM 0.8.3): out of memory. Sized as its
        # language model, Qwen2.5-72B, without the vision tower: a lower bound of its memory.
        source="https://github.com/vllm-project/vllm/issues/16570",
        model="Qwen/Qwen2.5-72B-Instruct",
        hardware="A100-40GB",
        gpus=4,
        dtype="bf16",
        context=8192,
        utilization=0.95,
    ),
    Refused(
        # "python -m vllm.entrypoints.openai.api_server --model qwen/Qwen1.5-72B-Chat" on A800
        # 80GB GPUs without --tensor-parallel-size (so one GPU): CUDA out of memory at load.
        source="https://github.com/QwenLM/Qwen3/issues/67",
        model=QWEN15_72B,
        hardware="A100-80GB",
        gpus=1,
        dtype="bf16",
        context=32768,
    ),
    Refused(
        # "python -m vllm.entrypoints.openai.api_server --model data/Qwen1.5-14B-Chat --dtype half
        # --gpu-memory-utilization 0.95" on a V100 32GB: "ValueError: No available memory for the
        # cache blocks". No --max-model-len, so the model's 32768.
        source="https://github.com/QwenLM/Qwen3/issues/12",
        model=QWEN15_14B,
        hardware="V100-32GB",
        gpus=1,
        dtype="fp16",
        context=32768,
        utilization=0.95,
    ),
    Refused(
        # Qwen1.5-7B-Chat-GPTQ-Int4 with --quantization gptq on an RTX 3090 24G, default
        # utilization: "The model's max seq len (32768) is larger than the maximum number of
        # tokens that can be stored in KV cache (24320)".
        source="https://github.com/QwenLM/Qwen3/issues/16",
        model=QWEN15_7B_GPTQ,
        hardware="RTX-3090",
        gpus=1,
        dtype="int4-gptq",
        context=32768,
    ),
    Refused(
        # "python -m vllm.entrypoints.openai.api_server --model
        # 'PatronusAI/Patronus-Lynx-70B-Instruct'" (a Llama 3 70B Instruct fine-tune, 8,192
        # positions) on a Colab T4: "torch.cuda.OutOfMemoryError: CUDA out of memory". Defaults:
        # one GPU, utilization 0.90, fp16 (the T4 has no bf16). A gross case: the weights alone
        # are nine times the GPU.
        source="https://github.com/NVIDIA-NeMo/Guardrails/issues/658",
        model="meta-llama/Meta-Llama-3-70B-Instruct",
        hardware="T4",
        gpus=1,
        dtype="fp16",
        context=8192,
    ),
]


@pytest.mark.parametrize("case", REFUSED, ids=lambda case: f"{case.hardware}x{case.gpus}")
def test_published_refusals_do_not_fit(case: Refused) -> None:
    report = sizing.fit(
        case.model,
        "onprem",
        case.hardware,
        dtype=case.dtype,
        context=case.context,
        runtime="vllm",
        gpu_count=case.gpus,
        gpu_memory_utilization=case.utilization,
    )
    assert not report.fits, report.summary()


def test_the_same_l4_runs_llama_8b_at_the_context_that_worked() -> None:
    # vllm-project/vllm#6689: "run the 8B model on L4:1 with ... --max-model-len 1024".
    assert sizing.fit(LLAMA_8B, "onprem", "L4", context=1024, gpu_count=1).fits


def test_the_calibration_set_keeps_its_coverage() -> None:
    # At least 20 vendor defaults across SageMaker, Azure ML, Vertex AI and Jetson, and at least
    # 10 published refusals: dropping a platform or a case must be a visible decision.
    assert {case.target for case in VENDOR_DEFAULTS} == {"sagemaker", "azureml", "vertex", "jetson"}
    assert len(VENDOR_DEFAULTS) >= 20
    assert len(REFUSED) >= 10

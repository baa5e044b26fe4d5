"""The catalog data files are consistent with each other and with the platforms' facts."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from inferstack import catalog
from inferstack.catalog import architecture
from inferstack.catalog.config import model_from_config

ROOT = Path(__file__).resolve().parents[2]
CLOUD_TARGETS = ("sagemaker", "azureml", "vertex")
DESIGN_DTYPES = (
    "bf16",
    "fp16",
    "fp8",
    "int8",
    "int4-awq",
    "int4-gptq",
    "gguf-q4_k_m",
    "gguf-q5_k_m",
    "gguf-q8_0",
)
DESIGN_JETSON = (
    "orin-nano-4gb",
    "orin-nano-8gb",
    "orin-nx-8gb",
    "orin-nx-16gb",
    "agx-orin-32gb",
    "agx-orin-64gb",
    "thor-t4000",
    "thor-t5000",
)


# --- GPUs and instance types -------------------------------------------------------------------


def test_gpu_models_carry_datasheet_memory_and_bandwidth() -> None:
    expected = {
        "V100": (16, 900),
        "T4": (16, 320),
        "A10G": (24, 600),
        "A10": (24, 600),
        "L4": (24, 300),
        "L40S": (48, 864),
        "A100-40GB": (40, 1555),
        "A100-80GB": (80, 2039),
        "H100-80GB": (80, 3350),
        "H100-NVL-94GB": (94, 3938),
        "H200-141GB": (141, 4800),
        "V100-32GB": (32, 900),
        "A30": (24, 933),
        "A40": (48, 696),
        "L40": (48, 864),
        "A100-80GB-PCIE": (80, 1935),
        "H100-PCIE-80GB": (80, 2000),
        "B200": (180, 7700),
        "RTX-A6000": (48, 768),
        "RTX-6000-Ada": (48, 960),
        "RTX-PRO-6000": (96, 1792),
        "RTX-3090": (24, 936),
        "RTX-4090": (24, 1008),
        "RTX-5090": (32, 1792),
    }
    got = {name: (g.memory_gb, g.bandwidth_gbs) for name, g in catalog.gpus().items()}
    assert got == expected
    for card in catalog.gpus().values():
        assert card.source and card.product_label, card.name
        # GPU Feature Discovery's value: the NVML name with spaces as hyphens.
        assert " " not in card.product_label
        assert card.product_label.startswith(("NVIDIA-", "Tesla-")), card.product_label
    assert catalog.gpu("a100-80gb").name == "A100-80GB"


@pytest.mark.parametrize("target", [*CLOUD_TARGETS, "onprem"])
def test_every_instance_type_names_a_known_gpu(target: str) -> None:
    skus = catalog.instance_types(target)
    assert skus
    for sku in skus.values():
        assert sku.gpu in catalog.gpus(), sku
        assert sku.gpu_count >= 1
        assert sku.target == target
        assert sku.usd_per_hour is None or sku.usd_per_hour > 0


@pytest.mark.parametrize(
    ("target", "name", "gpu", "count"),
    [
        ("sagemaker", "ml.g5.xlarge", "A10G", 1),
        ("sagemaker", "ml.g5.16xlarge", "A10G", 1),
        ("sagemaker", "ml.g5.12xlarge", "A10G", 4),
        ("sagemaker", "ml.g5.24xlarge", "A10G", 4),
        ("sagemaker", "ml.g5.48xlarge", "A10G", 8),
        ("sagemaker", "ml.g6.2xlarge", "L4", 1),
        ("sagemaker", "ml.g6.48xlarge", "L4", 8),
        ("sagemaker", "ml.g6e.12xlarge", "L40S", 4),
        ("sagemaker", "ml.g6e.48xlarge", "L40S", 8),
        ("sagemaker", "ml.g4dn.12xlarge", "T4", 4),
        ("sagemaker", "ml.p4d.24xlarge", "A100-40GB", 8),
        ("sagemaker", "ml.p4de.24xlarge", "A100-80GB", 8),
        ("sagemaker", "ml.p5.48xlarge", "H100-80GB", 8),
        ("sagemaker", "ml.p5e.48xlarge", "H200-141GB", 8),
        ("azureml", "Standard_NC8ads_A10_v4", "A10", 1),
        ("azureml", "Standard_NC32ads_A10_v4", "A10", 2),
        ("azureml", "Standard_NC24ads_A100_v4", "A100-80GB-PCIE", 1),
        ("azureml", "Standard_NC96ads_A100_v4", "A100-80GB-PCIE", 4),
        ("azureml", "Standard_ND96asr_v4", "A100-40GB", 8),
        ("azureml", "Standard_ND96amsr_A100_v4", "A100-80GB", 8),
        ("azureml", "Standard_NC80adis_H100_v5", "H100-NVL-94GB", 2),
        ("azureml", "Standard_ND96isr_H200_v5", "H200-141GB", 8),
        ("vertex", "g2-standard-4", "L4", 1),
        ("vertex", "g2-standard-24", "L4", 2),
        ("vertex", "g2-standard-48", "L4", 4),
        ("vertex", "g2-standard-96", "L4", 8),
        ("vertex", "a2-highgpu-8g", "A100-40GB", 8),
        ("vertex", "a2-ultragpu-2g", "A100-80GB", 2),
        ("vertex", "a3-megagpu-8g", "H100-80GB", 8),
        ("vertex", "a3-ultragpu-8g", "H200-141GB", 8),
        ("sagemaker", "ml.p5en.48xlarge", "H200-141GB", 8),
        ("sagemaker", "ml.p6-b200.48xlarge", "B200", 8),
        ("sagemaker", "ml.gr6.4xlarge", "L4", 1),
        ("azureml", "Standard_NV36ads_A10_v5", "A10", 1),
        ("azureml", "Standard_ND96isr_H100_v5", "H100-80GB", 8),
        ("vertex", "a3-highgpu-1g", "H100-80GB", 1),
        ("vertex", "a4-highgpu-8g", "B200", 8),
        ("vertex", "g4-standard-48", "RTX-PRO-6000", 1),
    ],
)
def test_reference_skus_have_their_gpus(target: str, name: str, gpu: str, count: int) -> None:
    sku = catalog.instance_type(target, name)
    assert (sku.gpu, sku.gpu_count) == (gpu, count)


@pytest.mark.parametrize("target", CLOUD_TARGETS)
def test_every_cloud_sku_names_its_source(target: str) -> None:
    for sku in catalog.instance_types(target).values():
        assert sku.source, sku.name


def test_azure_ml_online_endpoints_offer_only_their_sku_list() -> None:
    skus = catalog.instance_types("azureml")
    offered = {name for name, sku in skus.items() if sku.online}
    assert {"Standard_NC24ads_A100_v4", "Standard_NC40ads_H100_v5", "Standard_NC4as_T4_v3"} <= (
        offered
    )
    assert not skus["Standard_NV36ads_A10_v5"].online
    assert not skus["Standard_ND96isr_H200_v5"].online
    # Every SageMaker and Vertex AI SKU listed is one their endpoints take.
    for target in ("sagemaker", "vertex"):
        assert all(sku.online for sku in catalog.instance_types(target).values())


def test_every_g5_g6_g6e_size_is_listed() -> None:
    sizes = [f"{n}xlarge" for n in ("", 2, 4, 8, 12, 16, 24, 48)]
    skus = catalog.instance_types("sagemaker")
    for family in ("g5", "g6", "g6e"):
        assert {f"ml.{family}.{size}" for size in sizes} <= set(skus)


def test_spot_for_realtime_inference_only_on_vertex() -> None:
    assert not any(s.spot for s in catalog.instance_types("sagemaker").values())
    assert not any(s.spot for s in catalog.instance_types("azureml").values())
    assert all(s.spot for s in catalog.instance_types("vertex").values())


def test_onprem_hardware_is_the_gpu_models() -> None:
    onprem = catalog.instance_types("onprem")
    assert set(onprem) == set(catalog.gpus())
    assert all(s.usd_per_hour is None and not s.spot for s in onprem.values())


def test_jetson_and_unknown_targets_are_rejected_with_a_pointer() -> None:
    with pytest.raises(ValueError, match="jetson_modules"):
        catalog.instance_types("jetson")
    with pytest.raises(ValueError, match="unknown target 'aws'"):
        catalog.instance_types("aws")


def test_unknown_instance_type_suggests_close_names() -> None:
    with pytest.raises(KeyError, match=r"did you mean ml\.g5\.2xlarge"):
        catalog.instance_type("sagemaker", "ml.g5.2xl")
    assert catalog.instance_type("sagemaker", "ML.G5.2XLARGE").name == "ml.g5.2xlarge"


def test_catalog_mappings_are_read_only() -> None:
    with pytest.raises(TypeError):
        catalog.gpus()["X"] = catalog.gpu("L4")  # type: ignore[index]


# --- Jetson ---------------------------------------------------------------------------------


def test_every_jetson_module_of_the_design_is_present() -> None:
    assert set(catalog.jetson_modules()) == set(DESIGN_JETSON)


def test_jetson_modules_carry_memory_and_family_limits() -> None:
    modules = catalog.jetson_modules()
    assert modules["thor-t5000"].memory_gb == 128
    assert modules["thor-t4000"].memory_gb == 64
    assert modules["orin-nano-8gb"].bandwidth_gbs == 68
    limits = {
        (m.family, m.gpu_memory_fraction, m.max_num_seqs, m.max_context) for m in modules.values()
    }
    assert limits == {
        ("orin-nano", 0.50, 4, 4096),
        ("orin-nx", 0.60, 8, 4096),
        ("agx-orin", 0.70, 16, 8192),
        ("thor", 0.75, 32, 8192),
    }
    for module in modules.values():
        # L4T takes 1.5 to 2.5 GB, k3s about 0.5 GB.
        assert 2.0 <= module.reserve_gb <= 3.0
        assert module.reserve_gb <= module.memory_gb / 2
        assert module.jetpack.split(".")[0] in {"6", "7"}


# --- Models ---------------------------------------------------------------------------------


def test_catalog_has_the_open_model_families() -> None:
    ids = set(catalog.models())
    assert len(ids) >= 14
    for needle in (
        "Llama-3.2-1B",
        "Llama-3.2-3B",
        "Llama-3.1-8B",
        "Llama-3.1-70B",
        "Mistral-7B",
        "Mixtral-8x7B",
        "gemma-2-2b",
        "gemma-2-9b",
        "gemma-2-27b",
        "Phi-3-mini",
        "Phi-3-medium",
        *(f"Qwen2.5-{size}-" for size in ("0.5B", "1.5B", "3B", "7B", "14B", "32B", "72B")),
        *(f"Qwen3-{size}" for size in ("0.6B", "1.7B", "4B", "8B", "14B", "32B", "30B-A3B")),
        "Qwen3-235B-A22B",
        *(f"gemma-3-{size}-it" for size in ("1b", "4b", "12b", "27b")),
        "phi-4",
        "Phi-4-mini",
        "Mistral-Nemo",
        "Mistral-Small-3.1",
        "Meta-Llama-3-8B",
        "Meta-Llama-3-70B",
        "Llama-3.1-405B",
        "Llama-3.2-11B-Vision",
        *(f"DeepSeek-R1-Distill-Qwen-{size}" for size in ("1.5B", "7B", "14B", "32B")),
        "DeepSeek-R1-Distill-Llama-8B",
        "DeepSeek-R1-Distill-Llama-70B",
        "gpt-oss-20b",
        "gpt-oss-120b",
        "DeepSeek-V3",
    ):
        assert any(needle in model_id for model_id in ids), needle


def test_every_model_has_positive_architecture_numbers() -> None:
    for info in catalog.models().values():
        assert info.parameters_b > 0, info.id
        assert info.layers > 0 and info.kv_heads > 0 and info.head_dim > 0, info.id
        assert info.default_context >= 4096, info.id
        assert info.attention_heads is not None and info.attention_heads % info.kv_heads == 0
        assert info.hidden_size and info.vocab_size and info.license


# Gemma 2/3, Qwen3, Mistral NeMo / Small and gpt-oss decouple head_dim from hidden_size /
# heads (their config.json sets head_dim); MLA caches a latent vector, not heads.
HEAD_DIM_EXCEPTIONS = {
    *(f"google/gemma-2-{size}-it" for size in ("2b", "9b", "27b")),
    *(f"google/gemma-3-{size}-it" for size in ("1b", "4b", "12b", "27b")),
    *(f"Qwen/Qwen3-{size}" for size in ("0.6B", "4B", "32B", "30B-A3B", "235B-A22B")),
    "mistralai/Mistral-Nemo-Instruct-2407",
    "mistralai/Mistral-Small-3.1-24B-Instruct-2503",
    "openai/gpt-oss-20b",
    "openai/gpt-oss-120b",
    "deepseek-ai/DeepSeek-V3",
}


def test_head_dim_times_heads_is_the_hidden_size() -> None:
    for info in catalog.models().values():
        assert info.attention_heads is not None and info.hidden_size is not None
        matches = info.head_dim * info.attention_heads == info.hidden_size
        assert matches != (info.id in HEAD_DIM_EXCEPTIONS), info.id


HUB = Path(__file__).resolve().parents[1] / "fixtures" / "hub"
SAVED_CONFIGS = {
    path.stem.replace("__", "/"): path for path in sorted((HUB / "configs").glob("*.json"))
} | {
    "Qwen/Qwen3-30B-A3B": HUB / "Qwen/Qwen3-30B-A3B/config.json",
    "meta-llama/Llama-3.1-8B-Instruct": HUB / "meta-llama/Llama-3.1-8B-Instruct/config.json",
}


@pytest.mark.parametrize("model_id", sorted(SAVED_CONFIGS))
def test_catalog_entry_agrees_with_the_saved_config(model_id: str) -> None:
    """Every number of a catalog entry that its config.json states, and its parameter count."""
    entry = catalog.models()[model_id]
    config = model_from_config(SAVED_CONFIGS[model_id], model_id=model_id)
    for field in ("layers", "kv_heads", "head_dim", "hidden_size", "attention_heads",
                  "vocab_size", "tied_embeddings", "default_context", "moe", "experts",
                  "experts_per_token", "sliding_window", "sliding_layers", "kv_lora_rank",
                  "qk_rope_head_dim"):  # fmt: skip
        assert getattr(entry, field) == getattr(config, field), field
    # Counted from the shape; model cards' safetensors totals agree within 1.5%.
    assert entry.parameters_b == pytest.approx(config.parameters_b, rel=0.015)
    if entry.moe:
        assert entry.active_parameters_b == pytest.approx(config.active_parameters_b, rel=0.015)
    if entry.vision_parameters_b:
        assert config.vision_parameters_b > 0.25  # the config has a vision tower
    bf16 = catalog.dtype("bf16")
    assert architecture.kv_gb_per_token(entry, 2.0, context=32768) == pytest.approx(
        architecture.kv_gb_per_token(config, 2.0, context=32768)
    )
    assert (
        architecture.weights_gb(entry, bf16)
        == pytest.approx(architecture.weights_gb(config, bf16), rel=0.015)
        or entry.weight_gb is not None
    )


def test_lookup_falls_back_to_the_models_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = json.loads((HUB / "Qwen/Qwen3-30B-A3B/config.json").read_text())
    lock_file = tmp_path / "models.lock.yaml"
    lock_file.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "models": {
                    "acme/moe-finetune": {
                        "revision": "0" * 40,
                        "config": config,
                        "parameter_bytes": 61064245248,
                    }
                },
            }
        )
    )
    with pytest.raises(KeyError, match="inferstack models lock"):
        catalog.model("acme/moe-finetune")
    monkeypatch.setenv("INFERSTACK_MODELS_LOCK", str(lock_file))
    locked = catalog.model("moe-finetune")
    assert locked.id == "acme/moe-finetune" and locked.revision == "0" * 40
    assert locked.parameters_b == pytest.approx(30.53, abs=0.01)
    # The built-in catalog answers first.
    assert catalog.model("Qwen/Qwen3-30B-A3B") is catalog.models()["Qwen/Qwen3-30B-A3B"]


def test_mixture_of_experts_keeps_all_experts_resident() -> None:
    mixtral = catalog.model("mistralai/Mixtral-8x7B-Instruct-v0.1")
    assert mixtral.moe and mixtral.parameters_b == pytest.approx(46.7, abs=0.1)
    assert mixtral.active_parameters_b == pytest.approx(12.9, abs=0.1)
    dense = [m for m in catalog.models().values() if not m.moe]
    assert all(m.active_parameters_b is None for m in dense)


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B-Instruct"),
        ("Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B-Instruct"),
        ("META-LLAMA/LLAMA-3.1-8B-INSTRUCT", "meta-llama/Llama-3.1-8B-Instruct"),
        ("meta-llama/Meta-Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B-Instruct"),
        ("hf://meta-llama/Llama-3.1-8B-Instruct@0e9e39f", "meta-llama/Llama-3.1-8B-Instruct"),
        ("meta-llama/Llama-3.3-70B-Instruct", "meta-llama/Llama-3.1-70B-Instruct"),
        ("Qwen2.5-7B", "Qwen/Qwen2.5-7B-Instruct"),
        ("gemma-2-9b-it", "google/gemma-2-9b-it"),
    ],
)
def test_model_lookup_accepts_ids_aliases_and_bare_names(spelling: str, expected: str) -> None:
    assert catalog.model(spelling).id == expected


def test_no_two_models_share_a_spelling() -> None:
    seen: dict[str, str] = {}
    for info in catalog.models().values():
        for name in (info.id, *info.aliases):
            for spelling in {name.lower(), name.rsplit("/", 1)[-1].lower()}:
                assert seen.setdefault(spelling, info.id) == info.id, spelling


def test_unknown_model_raises_key_error_with_close_matches() -> None:
    with pytest.raises(KeyError) as caught:
        catalog.model("Llama-3.1-8B-Instruc")
    assert "did you mean meta-llama/Llama-3.1-8B-Instruct" in str(caught.value)


# --- Formats and runtimes -------------------------------------------------------------------


def test_every_design_dtype_has_its_byte_counts() -> None:
    table = catalog.dtypes()
    assert set(table) == set(DESIGN_DTYPES)
    assert table["bf16"].bytes_per_param == table["fp16"].bytes_per_param == 2.0
    assert table["fp8"].bytes_per_param == table["int8"].bytes_per_param == 1.0
    assert 0.5 < table["int4-awq"].bytes_per_param < 0.55  # 4 bits + group-128 scales
    # llama.cpp bits per weight on Llama-3.1-8B: 4.8944, 5.7036, 8.5008.
    assert table["gguf-q4_k_m"].bytes_per_param * 8 == pytest.approx(4.8944, abs=1e-3)
    assert table["gguf-q5_k_m"].bytes_per_param * 8 == pytest.approx(5.7036, abs=1e-3)
    assert table["gguf-q8_0"].bytes_per_param * 8 == pytest.approx(8.5008, abs=1e-3)
    assert all(d.kv_bytes == 2.0 for d in table.values())


def test_runtimes_cover_the_design_and_their_targets() -> None:
    table = catalog.runtimes()
    assert set(table) == {"vllm", "tgi", "lmi", "ollama", "llamacpp", "mlc"}
    assert table["vllm"].gpu_memory_fraction == 0.90
    assert table["vllm"].image.startswith("vllm/vllm-openai:")
    assert table["tgi"].image.startswith("ghcr.io/huggingface/text-generation-inference:")
    assert table["ollama"].image.startswith("ollama/ollama:")
    assert table["llamacpp"].image.startswith("ghcr.io/ggml-org/llama.cpp:server-cuda")
    assert table["lmi"].targets == ("sagemaker",)
    assert "jetson" not in table["tgi"].targets
    assert set(table["ollama"].targets) == set(table["llamacpp"].targets) == {"onprem", "jetson"}
    for runtime in table.values():
        assert set(runtime.targets) <= set(catalog.TARGETS)
        assert set(runtime.dtypes) <= set(DESIGN_DTYPES)
        assert ":" in runtime.image.rsplit("/", 1)[-1], "images are pinned to a tag"
        assert not runtime.image.endswith(":latest")
        assert runtime.digest is None or re.fullmatch(r"sha256:[0-9a-f]{64}", runtime.digest)
        assert runtime.health_path.startswith("/")


def test_runtime_pinned_image_joins_tag_and_digest() -> None:
    vllm = catalog.runtime("vllm")
    assert vllm.digest is not None
    assert vllm.pinned_image == f"{vllm.image}@{vllm.digest}"
    assert catalog.runtime("tgi").pinned_image == catalog.runtime("tgi").image


def test_lmi_runtime_image_is_the_sagemaker_container() -> None:
    assert catalog.runtime("lmi").image == catalog.sagemaker_image("lmi", "us-east-1")


# --- Regions and residency ------------------------------------------------------------------

OUTSIDE_EU = {
    "sagemaker": ("eu-west-2", "eu-central-2"),
    "azureml": ("uksouth", "ukwest", "switzerlandnorth", "switzerlandwest"),
    "vertex": ("europe-west2", "europe-west6"),
}
INSIDE_EU = {
    "sagemaker": (
        "eu-central-1",
        "eu-west-1",
        "eu-west-3",
        "eu-south-1",
        "eu-south-2",
        "eu-north-1",
    ),
    "azureml": ("westeurope", "northeurope", "germanywestcentral", "norwayeast"),
    "vertex": ("europe-west1", "europe-west3", "europe-west4", "europe-north1"),
}


@pytest.mark.parametrize("target", CLOUD_TARGETS)
def test_eu_residency_excludes_london_and_zurich(target: str) -> None:
    allowed = catalog.residency_regions(target, ["eu"])
    assert set(INSIDE_EU[target]) <= set(allowed)
    assert not set(OUTSIDE_EU[target]) & set(allowed)
    assert all(catalog.regions(target)[name].eu_eea for name in allowed)


def test_aws_eu_list_is_exactly_the_reference_list() -> None:
    assert catalog.residency_regions("sagemaker", ["eu"]) == list(INSIDE_EU["sagemaker"])


def test_explicit_regions_and_jurisdictions_extend_residency() -> None:
    allowed = catalog.residency_regions("sagemaker", ["eu", "eu-west-2"])
    assert "eu-west-2" in allowed and "eu-central-2" not in allowed
    assert catalog.residency_regions("azureml", ["uk"]) == ["uksouth", "ukwest"]
    assert catalog.regions("aws") is catalog.regions("aws")  # cached, same table


def test_unknown_residency_entry_and_regionless_targets_are_rejected() -> None:
    with pytest.raises(KeyError, match=r"did you mean .*eu-west-1"):
        catalog.residency_regions("sagemaker", ["eu-west-9"])
    with pytest.raises(ValueError, match="no cloud regions"):
        catalog.regions("onprem")


# --- SageMaker images -----------------------------------------------------------------------


def test_sagemaker_image_uses_the_regional_ecr_account() -> None:
    uri = catalog.sagemaker_image("tgi", "eu-central-1")
    assert uri.startswith("763104351884.dkr.ecr.eu-central-1.amazonaws.com/")
    assert re.fullmatch(r"[^:]+/huggingface-pytorch-tgi-inference:[\w.-]+-tgi[\d.]+-gpu-\S+", uri)
    lmi = catalog.sagemaker_image("lmi", "eu-central-1")
    assert re.fullmatch(
        r"763104351884\.dkr\.ecr\.eu-central-1\.amazonaws\.com/djl-inference:\S+", lmi
    )
    # Regions outside the main DLC account have their own (Zurich, Milan).
    assert catalog.sagemaker_image("tgi", "eu-central-2").startswith("380420809688.")
    assert catalog.sagemaker_image("lmi", "eu-south-1").startswith("692866216735.")


def test_vllm_on_sagemaker_runs_in_the_lmi_container() -> None:
    assert catalog.sagemaker_image("vllm", "us-west-2") == catalog.sagemaker_image(
        "lmi", "us-west-2"
    )


def test_sagemaker_image_rejects_other_runtimes_and_unknown_regions() -> None:
    with pytest.raises(ValueError, match="no SageMaker image"):
        catalog.sagemaker_image("ollama", "eu-central-1")
    with pytest.raises(KeyError, match="eu-central-1"):
        catalog.sagemaker_image("tgi", "eu-centrl-1")


def test_generated_sagemaker_table_records_its_source_and_regions() -> None:
    import yaml

    data = yaml.safe_load(
        (ROOT / "components/inferstack/catalog/sagemaker_images.yaml").read_text()
    )
    assert data["source"]["package"] == "sagemaker-core"
    assert re.fullmatch(r"\d+\.\d+\.\d+", data["source"]["version"])
    for image in data["images"].values():
        regions = set(image["accounts"])
        assert {"us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "eu-north-1"} <= regions
        assert not any(r.startswith(("cn-", "us-iso")) for r in regions)
        assert all(re.fullmatch(r"\d{12}", account) for account in image["accounts"].values())


def _generator() -> ModuleType:
    path = ROOT / "scripts" / "gen_sagemaker_images.py"
    spec = importlib.util.spec_from_file_location("gen_sagemaker_images", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generator_builds_tags_like_the_sagemaker_sdk() -> None:
    gen = _generator()
    config = {
        "processors": ["gpu"],
        "versions": {
            "3.2.3": {"tag_prefix": "old", "repository": "r", "registries": {}},
            "3.10.0": {
                "tag_prefix": "2.7.0-tgi3.10.0",
                "py_versions": ["py311"],
                "container_version": {"gpu": "cu124-ubuntu22.04"},
                "repository": "huggingface-pytorch-tgi-inference",
                "registries": {"eu-central-1": "763104351884", "cn-north-1": "727897471807"},
            },
        },
    }
    entry = gen.image_entry("huggingface-llm", config)
    assert entry["framework_version"] == "3.10.0"  # numeric, not lexical, order
    assert entry["tag"] == "2.7.0-tgi3.10.0-gpu-py311-cu124-ubuntu22.04"
    assert entry["accounts"] == {"eu-central-1": "763104351884"}
    lmi = {
        "versions": {
            "0.38.0": {"tag_prefix": "0.38.0-lmi29.0.0-cu130", "repository": "d", "registries": {}}
        }
    }
    assert gen.image_entry("djl-lmi", lmi)["tag"] == "0.38.0-lmi29.0.0-cu130"


@pytest.mark.parametrize(
    ("instance_type", "local"),
    [("ml.g5.2xlarge", True), ("ml.g6e.48xlarge", True), ("ml.p4de.24xlarge", True),
     ("ml.p3.2xlarge", False), ("ml.m5.xlarge", False), ("not-an-instance", False)],
)  # fmt: skip
def test_sagemaker_instance_storage(instance_type: str, local: bool) -> None:
    assert catalog.sagemaker_has_instance_storage(instance_type) is local

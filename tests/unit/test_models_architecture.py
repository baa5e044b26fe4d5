"""Architectures computed from config.json: GQA/MQA, MoE, sliding windows, MLA, vision towers,
tied embeddings, pre-quantized checkpoints, fp8 KV cache; and private models by their config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from inferstack import catalog, cli
from inferstack.catalog import architecture
from inferstack.catalog.config import ModelConfigError, model_from_config
from inferstack.deployment import DeploymentSpec
from inferstack.deployment.targets import model_info, validate_for_target
from inferstack.errors import SpecError

HUB = Path(__file__).resolve().parents[1] / "fixtures" / "hub"
BF16 = catalog.dtype("bf16")
KB = 1e3

# Shapes as the models' config.json files state them (the fields sizing reads).
DEEPSEEK_V3 = {
    "model_type": "deepseek_v3", "hidden_size": 7168, "num_hidden_layers": 61,
    "num_attention_heads": 128, "num_key_value_heads": 128, "kv_lora_rank": 512,
    "qk_rope_head_dim": 64, "qk_nope_head_dim": 128, "v_head_dim": 128, "q_lora_rank": 1536,
    "vocab_size": 129280, "max_position_embeddings": 163840, "n_routed_experts": 256,
    "n_shared_experts": 1, "num_experts_per_tok": 8, "moe_intermediate_size": 2048,
    "intermediate_size": 18432, "first_k_dense_replace": 3, "moe_layer_freq": 1,
    "tie_word_embeddings": False,
}  # fmt: skip
GEMMA3_12B = {
    "model_type": "gemma3",
    "text_config": {
        "model_type": "gemma3_text", "hidden_size": 3840, "intermediate_size": 15360,
        "num_attention_heads": 16, "num_hidden_layers": 48, "num_key_value_heads": 8,
        "head_dim": 256, "sliding_window": 1024, "vocab_size": 262208,
        "max_position_embeddings": 131072,
    },
    "vision_config": {
        "model_type": "siglip_vision_model", "hidden_size": 1152, "intermediate_size": 4304,
        "num_attention_heads": 16, "num_hidden_layers": 27, "patch_size": 14,
    },
}  # fmt: skip
GPT_OSS_20B = {
    "model_type": "gpt_oss", "hidden_size": 2880, "intermediate_size": 2880,
    "num_hidden_layers": 24, "num_attention_heads": 64, "num_key_value_heads": 8, "head_dim": 64,
    "num_local_experts": 32, "num_experts_per_tok": 4, "sliding_window": 128,
    "layer_types": ["sliding_attention", "full_attention"] * 12, "vocab_size": 201088,
    "tie_word_embeddings": False, "max_position_embeddings": 131072,
    "quantization_config": {"quant_method": "mxfp4"},
}  # fmt: skip
MIXTRAL = {
    "model_type": "mixtral", "hidden_size": 4096, "intermediate_size": 14336,
    "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
    "num_local_experts": 8, "num_experts_per_tok": 2, "vocab_size": 32000,
    "tie_word_embeddings": False, "max_position_embeddings": 32768, "sliding_window": None,
}  # fmt: skip


def _llama() -> dict[str, Any]:
    config: dict[str, Any] = json.loads(
        (HUB / "meta-llama/Llama-3.1-8B-Instruct/config.json").read_text()
    )
    return config


def test_gqa_from_config_matches_the_catalog() -> None:
    model = model_from_config(_llama(), model_id="llama")
    built_in = catalog.model("meta-llama/Llama-3.1-8B-Instruct")
    assert (model.layers, model.kv_heads, model.head_dim) == (32, 8, 128)
    assert model.parameters_b == pytest.approx(built_in.parameters_b, abs=0.01)
    # 2 x 32 layers x 8 heads x 128 x 2 bytes = 131,072 bytes per token
    assert architecture.kv_gb_per_token(model, 2.0, context=8192) * 1e9 == 131072


@pytest.mark.parametrize(
    ("config", "kv_heads"),
    [
        ({"multi_query": True, "new_decoder_architecture": False}, 1),  # Falcon-7B
        ({"new_decoder_architecture": True, "num_kv_heads": 8}, 8),  # Falcon-40B / 180B
        ({"multi_query": False}, 71),
    ],
)
def test_falcon_multi_query_and_new_decoder_architecture(
    config: dict[str, Any], kv_heads: int
) -> None:
    base = {"model_type": "falcon", "hidden_size": 4544, "num_attention_heads": 71,
            "num_hidden_layers": 32, "vocab_size": 65024}  # fmt: skip
    model = model_from_config({**base, **config}, model_id="falcon")
    assert model.kv_heads == kv_heads
    assert model.head_dim == 64


def test_moe_keeps_every_expert_resident_and_reads_the_active_ones() -> None:
    mixtral = model_from_config(MIXTRAL, model_id="mixtral")
    assert mixtral.moe and mixtral.experts == 8 and mixtral.experts_per_token == 2
    assert mixtral.parameters_b == pytest.approx(46.70, abs=0.05)  # the catalog's 46.70
    assert mixtral.active_parameters_b == pytest.approx(12.88, abs=0.05)
    resident = architecture.weights_gb(mixtral, BF16)
    active = architecture.weights_gb(mixtral, BF16, active=True)
    assert resident == pytest.approx(2 * 46.70, rel=0.01)
    assert active == pytest.approx(2 * 12.88, rel=0.01)


def test_mla_caches_one_latent_vector_per_layer() -> None:
    model = model_from_config(DEEPSEEK_V3, model_id="deepseek-v3")
    assert model.mla and model.kv_lora_rank == 512 and model.qk_rope_head_dim == 64
    # 61 layers x (512 + 64) x 2 bytes, not 2 x 128 heads x 192
    assert architecture.kv_gb_per_token(model, 2.0, context=4096) * 1e9 == 61 * 576 * 2
    # Every tensor-parallel GPU keeps the whole latent cache.
    assert architecture.kv_gb_per_token(model, 2.0, context=4096, tp=8) * 1e9 == 8 * 61 * 576 * 2
    assert model.parameters_b == pytest.approx(671, rel=0.01)
    assert model.active_parameters_b == pytest.approx(37, rel=0.03)


def test_sliding_window_layers_hold_only_the_window() -> None:
    model = model_from_config(GEMMA3_12B, model_id="gemma-3-12b")
    assert model.sliding_window == 1024 and model.sliding_layers == 40  # 5 of every 6 layers
    per_layer = 2 * 8 * 256 * 2.0
    short = architecture.kv_gb_per_token(model, 2.0, context=1024) * 1e9
    long = architecture.kv_gb_per_token(model, 2.0, context=32768) * 1e9
    assert short == pytest.approx(48 * per_layer)  # within the window every layer holds all
    assert long == pytest.approx((8 + 40 * 1024 / 32768) * per_layer)
    assert long < short / 4


def test_gpt_oss_layer_types_and_quantized_checkpoint_bytes() -> None:
    model = model_from_config(GPT_OSS_20B, model_id="gpt-oss-20b", parameter_bytes=13_761_264_768)
    assert model.sliding_layers == 12 and model.sliding_window == 128
    assert model.quantization == "mxfp4" and model.moe
    # The checkpoint's bytes are what loads, whatever dtype is asked for.
    assert architecture.weights_gb(model, BF16) == pytest.approx(13.761, abs=0.001)
    assert architecture.weights_gb(model, catalog.dtype("fp8")) == pytest.approx(13.761, abs=0.001)
    assert architecture.weights_gb(model, BF16, active=True) < 13.761 / 3


def test_awq_checkpoint_uses_its_bytes_not_the_requested_dtype() -> None:
    awq = {**_llama(), "quantization_config": {"quant_method": "awq", "bits": 4}}
    model = model_from_config(awq, model_id="llama-awq", parameter_bytes=5_734_000_000)
    assert model.quantization == "awq"
    assert model.parameters_b == pytest.approx(8.03, abs=0.01)  # counted from the shape
    assert architecture.weights_gb(model, BF16) == pytest.approx(5.734)


def test_vision_tower_counts_in_the_weights_not_in_decode() -> None:
    model = model_from_config(GEMMA3_12B, model_id="gemma-3-12b")
    text_only = model_from_config(
        {"text_config": GEMMA3_12B["text_config"]}, model_id="gemma-3-12b-text"
    )
    assert model.vision_parameters_b == pytest.approx(0.42, abs=0.03)  # SigLIP-So400m
    assert model.parameters_b == pytest.approx(
        text_only.parameters_b + model.vision_parameters_b, abs=0.002
    )
    assert architecture.weights_gb(model, BF16) > architecture.weights_gb(text_only, BF16) + 0.8
    assert architecture.weights_gb(model, BF16, active=True) == pytest.approx(
        architecture.weights_gb(text_only, BF16, active=True), abs=0.005
    )


def test_tied_embeddings_count_once() -> None:
    untied = model_from_config(_llama(), model_id="untied")
    tied = model_from_config({**_llama(), "tie_word_embeddings": True}, model_id="tied")
    assert untied.parameters_b - tied.parameters_b == pytest.approx(128256 * 4096 / 1e9, abs=1e-3)


def test_fp8_kv_cache_halves_the_cache() -> None:
    model = catalog.model("meta-llama/Llama-3.1-8B-Instruct")
    auto = architecture.kv_bytes(BF16)
    fp8 = architecture.kv_bytes(BF16, "fp8")
    assert (auto, fp8) == (2.0, 1.0)
    assert architecture.kv_gb_per_token(model, fp8, context=8192) == pytest.approx(
        architecture.kv_gb_per_token(model, auto, context=8192) / 2
    )


def test_gguf_dtype_uses_the_published_file_size() -> None:
    model = model_from_config(_llama(), model_id="llama", gguf_bytes={"gguf-q4_k_m": 4_920_734_016})
    assert architecture.weights_gb(model, catalog.dtype("gguf-q4_k_m")) == pytest.approx(4.920734)
    # Without a published size the format's bits per weight apply.
    assert architecture.weights_gb(model, catalog.dtype("gguf-q8_0")) == pytest.approx(
        8.03 * 1.0626, rel=0.01
    )


def test_model_directory_reads_index_and_gguf_files(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(_llama()))
    index = {"metadata": {"total_size": 16060522496}, "weight_map": {}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    (tmp_path / "llama-3.1-8b-instruct-Q4_K_M.gguf").write_bytes(b"\0" * 4096)
    model = model_from_config(tmp_path, model_id="private/llama")
    assert model.parameters_b == pytest.approx(8.03, abs=0.001)  # 16060522496 / 2 bytes
    assert dict(model.gguf_gb) == {"gguf-q4_k_m": pytest.approx(4096 / 1e9, abs=1e-6)}


def test_a_config_without_a_transformer_shape_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "resnet"}))
    with pytest.raises(ModelConfigError, match="num_hidden_layers"):
        model_from_config(tmp_path)


def test_fit_model_config_sizes_a_private_model(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["fit", "--model-config", str(HUB / "Qwen/Qwen3-30B-A3B"), "--target", "onprem"]
    args += ["--instance-type", "H100-80GB", "--gpu-count", "1", "--context", "8192"]
    assert cli.main([*args, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["fits"] is True
    assert report["memory_gb"]["weights"] == pytest.approx(61.06, abs=0.01)
    one_l4 = [*args[:5], "--instance-type", "L4", "--gpu-count", "1", "--context", "8192"]
    assert cli.main(one_l4) == 1  # 61 GB of weights on one 24 GB GPU


def _spec(model: dict[str, Any]) -> DeploymentSpec:
    return DeploymentSpec.model_validate(
        {
            "name": "private",
            "environment": "dev",
            "model": model,
            "compute": {"gpu_type": "H100-80GB", "gpu_count": 1},
            "serving": {"max_concurrency": 4, "kv_cache_dtype": "fp8"},
        }
    )


def test_spec_model_config_sizes_a_private_model() -> None:
    spec = _spec({"id": "acme/private-moe", "config": str(HUB / "Qwen/Qwen3-30B-A3B")})
    info = model_info(spec)
    assert info.id == "acme/private-moe" and info.moe
    assert spec.serving.kv_cache_dtype == "fp8"
    assert validate_for_target(spec, "onprem").name == "H100-80GB"


def test_spec_model_config_that_does_not_exist_names_the_field() -> None:
    spec = _spec({"id": "acme/private", "config": "no/such/config.json"})
    with pytest.raises(SpecError, match=r"model\.config: "):
        validate_for_target(spec, "onprem")


def test_a_jetson_fleet_sizes_a_model_given_by_its_config(tmp_path: Path) -> None:
    import yaml

    from inferstack.deployment import parse_deployment

    root = Path(__file__).resolve().parents[2]
    stack = yaml.safe_load((root / "stacks" / "Pulumi.jetson-dev.yaml").read_text())
    deployment = stack["config"]["inferstack:deployment"]
    config = HUB / "configs" / "deepseek-ai__DeepSeek-R1-Distill-Qwen-1.5B.json"
    deployment["model"] = {**deployment["model"], "id": "acme/triage-1.5b", "config": str(config)}
    spec = parse_deployment(deployment)
    assert validate_for_target(spec, "jetson").name == "orin-nano-8gb"
    too_big = HUB / "configs" / "Qwen__Qwen3-32B.json"
    deployment["model"]["config"] = str(too_big)
    with pytest.raises(SpecError) as caught:
        validate_for_target(parse_deployment(deployment), "jetson")
    assert "device_groups[0]" in str(caught.value) and "orin-nano-8gb" in str(caught.value)

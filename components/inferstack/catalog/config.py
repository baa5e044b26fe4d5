"""A model's shape from its own files: config.json, safetensors index or headers, GGUF sizes.

``model_from_config`` reads the Hugging Face ``config.json`` of the families served today
(llama, mistral, mixtral, qwen2/qwen3 dense and MoE, gemma2/gemma3, phi3/phi4, falcon,
deepseek_v2/v3, gpt_oss, mllama) into a :class:`ModelInfo`. Parameter counts come from the
checkpoint when its size is known (``metadata.total_size`` of ``model.safetensors.index.json``
or the tensors in the safetensors headers); otherwise they are counted from the config.
"""

from __future__ import annotations

import json
import math
import re
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from inferstack.catalog.types import ModelInfo

GB = 1e9
CONFIG_FILE = "config.json"
INDEX_FILE = "model.safetensors.index.json"
# Bytes per element of safetensors dtypes and of config.json's torch_dtype names.
TENSOR_BYTES = {
    "F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2,
    "I16": 2, "U16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1, "I8": 1, "U8": 1, "BOOL": 1,
}  # fmt: skip
TORCH_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float8_e4m3fn": 1}
# Families whose sliding-window layers runtimes allocate as windows; others are sized as full
# attention whatever their config says (Qwen2 ships use_sliding_window: false, Phi-3's window
# is not applied by vLLM), which over-counts rather than under-counts.
SLIDING_FAMILIES = {"mistral", "mixtral", "gemma2", "gemma3_text", "gpt_oss", "cohere2"}
GGUF_QUANT = re.compile(r"(?i)[-_.](q\d_k_[sml]|q\d_k|q\d_\d|f16|bf16)[-_.]")


class ModelConfigError(ValueError):
    """A config.json that does not describe a transformer this module can size."""


def model_from_config(
    source: str | Path | Mapping[str, Any],
    *,
    model_id: str | None = None,
    parameter_bytes: int | None = None,
    gguf_bytes: Mapping[str, int] | None = None,
    revision: str | None = None,
) -> ModelInfo:
    """The :class:`ModelInfo` of a config.json (a path, a model directory, or its dict).

    A directory also contributes its safetensors index or headers (parameter bytes) and the
    sizes of its GGUF files. ``parameter_bytes`` (the checkpoint's tensor bytes) and
    ``gguf_bytes`` (GGUF dtype name -> file bytes) override what the directory holds.
    """
    if isinstance(source, Mapping):
        config: Mapping[str, Any] = source
        name = model_id or str(config.get("_name_or_path") or "custom-model")
    else:
        path = Path(source)
        directory = path if path.is_dir() else path.parent
        config_path = directory / CONFIG_FILE if path.is_dir() else path
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelConfigError(f"cannot read {config_path}: {exc}") from None
        if not isinstance(config, dict):
            raise ModelConfigError(f"{config_path} is not a JSON object")
        name = model_id or str(config.get("_name_or_path") or directory.name)
        if parameter_bytes is None:
            parameter_bytes = directory_parameter_bytes(directory)
        if gguf_bytes is None:
            gguf_bytes = {f"gguf-{q}": size for q, size in directory_gguf_bytes(directory).items()}
    return _build(config, name, parameter_bytes, dict(gguf_bytes or {}), revision)


def _build(
    config: Mapping[str, Any],
    model_id: str,
    parameter_bytes: int | None,
    gguf_bytes: dict[str, int],
    revision: str | None,
) -> ModelInfo:
    text = _text_config(config)
    family = str(text.get("model_type") or config.get("model_type") or "")
    layers = _int(text, "num_hidden_layers", "n_layer", "num_layers")
    hidden = _int(text, "hidden_size", "n_embd", "d_model")
    heads = _int(text, "num_attention_heads", "n_head")
    if not (layers and hidden and heads):
        raise ModelConfigError(
            f"{model_id}: config.json has no num_hidden_layers, hidden_size or "
            f"num_attention_heads (model_type {family or 'unknown'})"
        )
    head_dim = _int(text, "head_dim") or hidden // heads
    kv_heads = _kv_heads(text, heads)
    cross = len(text.get("cross_attention_layers") or ())  # mllama: image-only KV
    experts = _int(text, "num_local_experts", "num_experts", "n_routed_experts")
    per_token = _int(text, "num_experts_per_tok", "experts_per_token")
    moe = bool(experts and experts > 1)
    quant = _quantization(config, text)
    vision_b = _vision_parameters(config) / GB
    text_b, inactive_b = _text_parameters(text, family, hidden, heads, kv_heads, head_dim)
    weight_gb: float | None = None
    if parameter_bytes:
        weight_gb = parameter_bytes / GB
        if quant is None:
            width = TORCH_BYTES.get(str(_dtype_name(config, text)), 2)
            parameters_b = parameter_bytes / width / GB
        else:
            parameters_b = text_b + vision_b
    else:
        parameters_b = text_b + vision_b
    active_b = parameters_b - vision_b - inactive_b if moe else None
    window, sliding = _sliding(text, family, layers - cross)
    kv_lora = _int(text, "kv_lora_rank")
    rope_dim = _int(text, "qk_rope_head_dim") if kv_lora else None
    return ModelInfo(
        id=model_id,
        parameters_b=round(parameters_b, 3),
        layers=layers - cross,
        kv_heads=1 if kv_lora else kv_heads,
        head_dim=(kv_lora + (rope_dim or 0)) if kv_lora else head_dim,
        default_context=_context(text, config),
        moe=moe,
        active_parameters_b=round(active_b, 3) if active_b is not None else None,
        hidden_size=hidden,
        attention_heads=heads,
        vocab_size=_int(text, "vocab_size") or _int(config, "vocab_size"),
        tied_embeddings=_tied(config, text),
        sliding_window=window,
        sliding_layers=sliding,
        kv_lora_rank=kv_lora,
        qk_rope_head_dim=rope_dim,
        experts=experts if moe else None,
        experts_per_token=per_token if moe else None,
        vision_parameters_b=round(vision_b, 3),
        quantization=quant,
        weight_gb=round(weight_gb, 6) if weight_gb is not None else None,
        gguf_gb=tuple(sorted((k, round(v / GB, 6)) for k, v in gguf_bytes.items())),
        revision=revision,
    )


def _text_config(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """The language model's section: ``text_config`` of a multimodal config, else the whole."""
    text = config.get("text_config")
    if isinstance(text, Mapping):
        return {**{k: v for k, v in config.items() if k != "text_config"}, **text}
    llm = config.get("llm_config")
    return {**config, **llm} if isinstance(llm, Mapping) else config


def _int(config: Mapping[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = config.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _kv_heads(text: Mapping[str, Any], heads: int) -> int:
    explicit = _int(text, "num_key_value_heads", "n_head_kv")
    if explicit:
        return explicit
    if text.get("model_type") == "falcon" or "multi_query" in text:
        # Falcon: the new decoder architecture (40B, 180B) has num_kv_heads groups; the old
        # one (7B) shares one K/V head when multi_query is set.
        if text.get("new_decoder_architecture"):
            return _int(text, "num_kv_heads") or heads
        return 1 if text.get("multi_query", True) else heads
    return _int(text, "num_kv_heads") or heads


def _context(text: Mapping[str, Any], config: Mapping[str, Any]) -> int:
    for source in (text, config):
        found = _int(source, "max_position_embeddings", "n_positions", "seq_length")
        if found:
            return found
    return 4096


def _tied(config: Mapping[str, Any], text: Mapping[str, Any]) -> bool:
    # transformers' default is tied when the key is absent (Gemma configs omit it).
    for source in (config, text):
        if "tie_word_embeddings" in source:
            return bool(source["tie_word_embeddings"])
    return True


def _dtype_name(config: Mapping[str, Any], text: Mapping[str, Any]) -> str | None:
    for source in (config, text):
        for key in ("torch_dtype", "dtype"):
            if isinstance(source.get(key), str):
                return str(source[key])
    return None


def _quantization(config: Mapping[str, Any], text: Mapping[str, Any]) -> str | None:
    for source in (config, text):
        quant = source.get("quantization_config") or source.get("compression_config")
        if isinstance(quant, Mapping):
            method = quant.get("quant_method") or quant.get("format") or "quantized"
            return str(method).lower()
    return None


def _sliding(text: Mapping[str, Any], family: str, layers: int) -> tuple[int | None, int]:
    window = _int(text, "sliding_window")
    types = text.get("layer_types")
    if window and isinstance(types, list) and types:
        return window, sum(1 for kind in types if kind == "sliding_attention")
    if not window or family not in SLIDING_FAMILIES:
        return None, 0
    if family == "gemma2":  # even layers slide
        return window, math.ceil(layers / 2)
    pattern = _int(text, "sliding_window_pattern")
    if family == "gemma3_text":  # every pattern-th layer is global
        pattern = pattern or 6
        return window, layers - layers // pattern
    if family == "gpt_oss":  # alternating, starting with a sliding layer
        return window, math.ceil(layers / 2)
    return window, layers


def _text_parameters(
    text: Mapping[str, Any], family: str, hidden: int, heads: int, kv_heads: int, head_dim: int
) -> tuple[float, float]:
    """(parameters in billions, parameters of the experts a token does not use, in billions)."""
    layers = _int(text, "num_hidden_layers", "n_layer", "num_layers") or 0
    if _int(text, "kv_lora_rank"):
        attention = _mla_parameters(text, hidden, heads)
    else:
        attention = 2 * hidden * heads * head_dim + 2 * hidden * kv_heads * head_dim
    intermediate = _int(text, "intermediate_size", "ffn_hidden_size", "n_inner") or 4 * hidden
    matrices = 2 if family in ("falcon", "gpt2", "gpt_bigcode") else 3
    dense_mlp = matrices * hidden * intermediate
    experts = _int(text, "num_local_experts", "num_experts", "n_routed_experts") or 0
    moe_layers = _moe_layers(text, layers) if experts > 1 else 0
    expert = 3 * hidden * (_int(text, "moe_intermediate_size") or intermediate)
    shared = (
        3
        * hidden
        * (
            _int(text, "shared_expert_intermediate_size")
            or (_int(text, "n_shared_experts") or 0) * (_int(text, "moe_intermediate_size") or 0)
        )
    )
    moe_mlp = experts * expert + shared + hidden * experts
    per_token = _int(text, "num_experts_per_tok", "experts_per_token") or experts
    vocab = _int(text, "vocab_size") or 0
    embeddings = vocab * hidden * (1 if _tied(text, text) else 2)
    total = (
        layers * attention + (layers - moe_layers) * dense_mlp + moe_layers * moe_mlp + embeddings
    )
    inactive = moe_layers * (experts - per_token) * expert
    return total / GB, inactive / GB


def _mla_parameters(text: Mapping[str, Any], hidden: int, heads: int) -> int:
    nope = _int(text, "qk_nope_head_dim") or 0
    rope = _int(text, "qk_rope_head_dim") or 0
    value = _int(text, "v_head_dim") or nope
    kv_lora = _int(text, "kv_lora_rank") or 0
    q_lora = _int(text, "q_lora_rank")
    qk = heads * (nope + rope)
    query = hidden * q_lora + q_lora * qk if q_lora else hidden * qk
    key_value = hidden * (kv_lora + rope) + kv_lora * heads * (nope + value)
    return query + key_value + heads * value * hidden


def _moe_layers(text: Mapping[str, Any], layers: int) -> int:
    dense_first = _int(text, "first_k_dense_replace") or 0
    dense = set(range(dense_first)) | set(text.get("mlp_only_layers") or ())
    step = _int(text, "decoder_sparse_step", "moe_layer_freq") or 1
    return sum(1 for i in range(layers) if i not in dense and (i + 1) % step == 0)


def _vision_parameters(config: Mapping[str, Any]) -> int:
    """An estimate of the vision tower (a ViT) and its projector from ``vision_config``."""
    vision = config.get("vision_config")
    if not isinstance(vision, Mapping):
        return 0
    width = _int(vision, "hidden_size", "width", "embed_dim") or 0
    depth = _int(vision, "num_hidden_layers", "depth", "num_layers") or 0
    depth += _int(vision, "num_global_layers") or 0
    mlp = _int(vision, "intermediate_size") or 4 * width
    text = _text_config(config)
    projector = width * (_int(text, "hidden_size") or 0)
    return depth * (4 * width * width + 2 * width * mlp) + projector


# --- checkpoint files -----------------------------------------------------------------------


def index_parameter_bytes(index: Mapping[str, Any]) -> int | None:
    """``metadata.total_size`` of a model.safetensors.index.json (bytes of all tensors)."""
    metadata = index.get("metadata")
    size = metadata.get("total_size") if isinstance(metadata, Mapping) else None
    return int(size) if isinstance(size, int | float) and size > 0 else None


def safetensors_header_bytes(header: Mapping[str, Any]) -> int:
    """Bytes of the tensors a safetensors header describes."""
    total = 0
    for name, tensor in header.items():
        if name == "__metadata__" or not isinstance(tensor, Mapping):
            continue
        count = math.prod(int(d) for d in tensor.get("shape", ()))
        total += count * TENSOR_BYTES.get(str(tensor.get("dtype")), 2)
    return total


def read_safetensors_header(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        header: dict[str, Any] = json.loads(handle.read(length))
    return header


def directory_parameter_bytes(directory: Path) -> int | None:
    index = directory / INDEX_FILE
    if index.is_file():
        return index_parameter_bytes(json.loads(index.read_text(encoding="utf-8")))
    shards = sorted(directory.glob("*.safetensors"))
    if not shards:
        return None
    return sum(safetensors_header_bytes(read_safetensors_header(p)) for p in shards)


def gguf_quant(filename: str) -> str | None:
    """The quantization a GGUF file name states ("...-Q4_K_M.gguf" -> "q4_k_m")."""
    found = GGUF_QUANT.search(filename.replace(".gguf", ".gguf."))
    return found.group(1).lower() if found and filename.endswith(".gguf") else None


def directory_gguf_bytes(directory: Path) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for path in sorted(directory.glob("*.gguf")):
        quant = gguf_quant(path.name)
        if quant:
            sizes[quant] = sizes.get(quant, 0) + path.stat().st_size
    return sizes

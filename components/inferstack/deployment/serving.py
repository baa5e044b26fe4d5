"""The model to serve and the runtime that serves it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from inferstack.deployment.base import (
    _SOURCE,
    SecretRef,
    Section,
    _FieldError,
    is_digest_pinned,
)
from inferstack.deployment.types import DType, Runtime

# Runtimes that store the KV cache in fp8 when asked (vLLM and LMI --kv-cache-dtype, TGI
# --kv-cache-dtype); llama.cpp and Ollama keep f16 unless their own quantized caches are set.
FP8_KV_RUNTIMES = ("vllm", "lmi", "tgi")


class ModelSpec(Section):
    id: Annotated[str, Field(min_length=1, max_length=200)]
    """Catalog model id (e.g. meta-llama/Llama-3.1-8B-Instruct) or any id described in full
    below."""
    source: str | None = None
    """Where weights come from: hf://org/name@revision, s3://bucket/prefix, gs://bucket/prefix or
    pvc://claim/path; default hf://<id>."""
    dtype: DType = "bf16"
    """Weight precision or quantization; sizes memory and selects runtime flags."""
    max_context: Annotated[int, Field(ge=256, le=1_048_576)] | None = None
    """Context length served; default: the model's own (capped by Jetson family limits)."""
    hf_token_secret: SecretRef | None = None
    """Existing secret holding a Hugging Face token for gated models; never a literal."""
    parameters_b: Annotated[float, Field(gt=0, le=2000)] | None = None
    """Parameters in billions, for a model outside the catalog."""
    layers: Annotated[int, Field(gt=0, le=1000)] | None = None
    """Transformer layers, for a model outside the catalog."""
    kv_heads: Annotated[int, Field(gt=0, le=1024)] | None = None
    """Key/value heads (GQA), for a model outside the catalog."""
    head_dim: Annotated[int, Field(gt=0, le=4096)] | None = None
    """Attention head dimension, for a model outside the catalog."""
    config: Annotated[str, Field(min_length=1, max_length=1024)] | None = None
    """A private model's config.json, or its directory (safetensors index and GGUF files are
    read too); relative to the working directory. Sizes the model instead of the catalog."""

    @model_validator(mode="before")
    @classmethod
    def _no_literal_token(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in ("hf_token", "token", "huggingface_token"):
                if key in data:
                    raise _FieldError(
                        f"model.{key}",
                        "would store the token in plain text",
                        "reference an existing secret with model.hf_token_secret: "
                        "{name: <secret>, key: token}",
                    )
        return data

    @field_validator("source")
    @classmethod
    def _source_scheme(cls, value: str | None) -> str | None:
        if value is not None and not _SOURCE.match(value):
            raise ValueError(
                f"'{value}' is not a model source; use hf://<org>/<name>@<revision>, "
                "s3://<bucket>/<prefix>, gs://<bucket>/<prefix> or pvc://<claim>/<path>"
            )
        return value

    @model_validator(mode="after")
    def _custom_shape_complete(self) -> ModelSpec:
        custom = [self.parameters_b, self.layers, self.kv_heads, self.head_dim]
        if self.config is not None and any(v is not None for v in custom):
            raise _FieldError(
                "model.config",
                "describes the model already",
                "remove parameters_b, layers, kv_heads and head_dim, or remove model.config",
            )
        if any(v is not None for v in custom) and not all(v is not None for v in custom):
            raise ValueError(
                "a model described in full needs all of parameters_b, layers, kv_heads and head_dim"
            )
        return self

    @property
    def described_in_full(self) -> bool:
        """The spec itself says what the model is: its shape, or its config.json."""
        return self.parameters_b is not None or self.config is not None

    @property
    def revision(self) -> str | None:
        if self.source and self.source.startswith("hf://") and "@" in self.source:
            return self.source.rsplit("@", 1)[1]
        return None


# Flags with a spec field of their own: set there, where the policy packs can read them.
_DECLARED_FLAGS = {
    "--trust-remote-code": "trust_remote_code",
    "--enable-auto-tool-choice": "tool_calling",
}


class ServingSpec(Section):
    runtime: Runtime = "vllm"
    """Serving engine: vllm, tgi, lmi (SageMaker), ollama, llamacpp or mlc."""
    image: Annotated[str, Field(min_length=1, max_length=512)] | None = None
    """Container image; default: the catalog image of the runtime. prod requires @sha256 digest."""
    max_concurrency: Annotated[int, Field(ge=1, le=4096)] = 16
    """Sequences in flight per replica; the KV cache is sized for it."""
    mode: Literal["realtime", "async"] = "realtime"
    """realtime, or async (SageMaker only: queued requests, can scale to zero)."""
    port: Annotated[int, Field(ge=1024, le=65535)] = 8000
    """Port the server listens on inside the container."""
    gpu_memory_utilization: Annotated[float, Field(gt=0.1, le=0.98)] | None = None
    """Fraction of GPU memory the runtime may use; default from the runtime catalog."""
    kv_cache_dtype: Literal["auto", "fp8"] = "auto"
    """KV-cache element type: auto (the activations' 16 bits) or fp8 (1 byte: twice the
    tokens, vLLM's --kv-cache-dtype fp8)."""
    extra_args: list[str] = Field(default_factory=list)
    """Extra command-line flags passed to the runtime as-is."""
    trust_remote_code: bool = False
    """Run Python code shipped in the model repository (vLLM/TGI --trust-remote-code); the
    owasp-llm pack flags it (supply chain)."""
    tool_calling: bool = False
    """Let the model call tools (vLLM --enable-auto-tool-choice); the owasp-llm pack flags it
    (excessive agency)."""

    @field_validator("extra_args")
    @classmethod
    def _declared_not_smuggled(cls, value: list[str]) -> list[str]:
        for arg in value:
            flag = arg.split("=", 1)[0]
            if flag in _DECLARED_FLAGS:
                raise ValueError(
                    f"'{flag}' is set by serving.{_DECLARED_FLAGS[flag]}: true, "
                    "not by extra_args, so the packs see it"
                )
        return value

    @model_validator(mode="after")
    def _kv_cache_dtype_runtime(self) -> ServingSpec:
        if self.kv_cache_dtype == "fp8" and self.runtime not in FP8_KV_RUNTIMES:
            raise _FieldError(
                "serving.kv_cache_dtype",
                f"'fp8' is not a KV-cache format of {self.runtime} (it keeps an f16 cache)",
                f"use kv_cache_dtype: auto, or runtime {' or '.join(FP8_KV_RUNTIMES)}",
            )
        return self

    @field_validator("image")
    @classmethod
    def _no_latest(cls, value: str | None) -> str | None:
        if value is None or is_digest_pinned(value):
            return value
        # A tag is a ':' in the last path segment (a registry port sits before a '/').
        tagged = ":" in value.rsplit("/", 1)[-1]
        if value.endswith(":latest") or not tagged:
            what = "floats with every push" if tagged else "has no tag, so it pulls :latest"
            raise ValueError(
                f"'{value}' {what}; pin a version tag and a digest (<image>:<tag>@sha256:<digest>)"
            )
        return value

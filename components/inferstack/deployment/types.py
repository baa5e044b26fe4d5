"""The value sets the spec's fields choose from, shared by its modules."""

from __future__ import annotations

from typing import Literal

Environment = Literal["dev", "staging", "prod"]
DType = Literal[
    "bf16",
    "fp16",
    "fp8",
    "int8",
    "int4-awq",
    "int4-gptq",
    "gguf-q4_k_m",
    "gguf-q5_k_m",
    "gguf-q8_0",
]
Runtime = Literal["vllm", "tgi", "lmi", "ollama", "llamacpp", "mlc"]
Auth = Literal["iam", "api_key", "entra", "iap", "mtls", "oidc"]
Framework = Literal["hipaa", "gdpr"]
ScalingMetric = Literal["concurrency", "queue_depth", "invocations", "gpu_utilization"]

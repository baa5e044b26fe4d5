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
Framework = Literal["hipaa", "gdpr", "owasp-llm"]
ScalingMetric = Literal["concurrency", "queue_depth", "invocations", "gpu_utilization"]
GuardProvider = Literal[
    "auto", "llm-guard", "bedrock", "content-safety", "model-armor", "llama-guard", "none"
]
OutputScreening = Literal["on", "non_streaming", "off"]
PiiAction = Literal["block", "anonymize", "off"]
# OWASP Top 10 for LLM Applications risks by name (the edition maps number them differently).
OwaspRisk = Literal[
    "prompt_injection",
    "sensitive_information_disclosure",
    "supply_chain",
    "data_and_model_poisoning",
    "improper_output_handling",
    "excessive_agency",
    "system_prompt_leakage",
    "vector_and_embedding_weaknesses",
    "misinformation",
    "unbounded_consumption",
]
RedTeamTarget = Literal["gateway", "model"]

"""Prometheus: the series each runtime exports, and the queries built from them."""

from __future__ import annotations

from inferstack.kubernetes.runtime_data import RuntimeMetrics

RUNTIME_METRICS: dict[str, RuntimeMetrics] = {
    "vllm": RuntimeMetrics(
        running=("vllm:num_requests_running",),
        waiting=("vllm:num_requests_waiting",),
        kv_cache_usage=("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"),
        ttft_bucket=("vllm:time_to_first_token_seconds_bucket",),
        tpot_bucket=(
            "vllm:inter_token_latency_seconds_bucket",
            "vllm:time_per_output_token_seconds_bucket",
        ),
        generation_tokens=("vllm:generation_tokens_total",),
        prompt_tokens=("vllm:prompt_tokens_total",),
        requests=("vllm:request_success_total",),
    ),
    "tgi": RuntimeMetrics(
        running=("tgi_batch_current_size",),
        waiting=("tgi_queue_size",),
        tpot_bucket=("tgi_request_mean_time_per_token_duration_bucket",),
        generation_tokens=("tgi_request_generated_tokens_sum",),
        prompt_tokens=("tgi_request_input_length_sum",),
        requests=("tgi_request_success",),
    ),
    "llamacpp": RuntimeMetrics(
        running=("llamacpp:requests_processing",),
        waiting=("llamacpp:requests_deferred",),
        kv_cache_usage=("llamacpp:kv_cache_usage_ratio",),
        generation_tokens=("llamacpp:tokens_predicted_total",),
        prompt_tokens=("llamacpp:prompt_tokens_total",),
    ),
    # Ollama exports no Prometheus metrics.
}


def series(names: tuple[str, ...], selector: str) -> str:
    """``name{selector}``, or ``(a{selector} or b{selector})`` across renamed metrics."""
    if not names:
        raise ValueError("no metric names")
    parts = [f"{name}{{{selector}}}" for name in names]
    return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"


def rate(names: tuple[str, ...], selector: str, window: str) -> str:
    """``rate(name{selector}[window])``, across renamed metrics with ``or``."""
    if not names:
        raise ValueError("no metric names")
    parts = [f"rate({name}{{{selector}}}[{window}])" for name in names]
    return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"

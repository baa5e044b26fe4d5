"""`inferstack fit`: the issue's cases, shared defaults with the spec, and its JSON contract."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from inferstack.cli import build_parser, main
from inferstack.deployment import parse_deployment
from inferstack.deployment.targets import serving_context

LLAMA_8B = "meta-llama/Llama-3.1-8B-Instruct"
LLAMA_70B = "meta-llama/Llama-3.1-70B-Instruct"


def fit_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["fit", *argv, "--format", "json"])
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return code, data


def test_8b_bf16_on_g5_2xlarge_with_8_x_8192_fits_and_warns_that_requests_queue(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--model", LLAMA_8B, "--target", "sagemaker", "--instance-type", "ml.g5.2xlarge"]
    argv += ["--dtype", "bf16", "--context", "8192", "--concurrency", "8"]
    code, data = fit_json(capsys, *argv)
    assert code == 0 and data["fits"] is True
    assert data["hardware"] == "ml.g5.2xlarge" and data["runtime"] == "vllm"
    assert data["context"] == 8192 and data["concurrency"] == 8
    assert data["kv_cache_tokens"] > 8192
    assert data["max_concurrency"] < 8
    assert data["advisory"].endswith("sequences fit at once; the rest queue")
    assert main(["fit", *argv]) == 0
    table = capsys.readouterr().out
    assert re.search(r"warning: at 8,192 tokens \d of 8 sequences fit at once", table)


def test_3b_q4_on_orin_nano_fits_without_naming_a_runtime(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, data = fit_json(
        capsys,
        "--model",
        "meta-llama/Llama-3.2-3B-Instruct",
        "--target",
        "jetson",
        "--instance-type",
        "orin-nano-8gb",
        "--dtype",
        "gguf-q4_k_m",
    )
    assert code == 0 and data["fits"] is True
    assert data["runtime"] == "ollama"


def test_fit_without_context_uses_the_spec_default(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--model", LLAMA_8B, "--target", "sagemaker", "--instance-type", "ml.g5.2xlarge"]
    code, data = fit_json(capsys, *argv)
    spec = parse_deployment({"name": "bot", "model": {"id": LLAMA_8B}})
    assert data["context"] == serving_context(spec) == 8192
    assert code == 0 and data["fits"] is True


def test_gpu_count_is_honoured_in_the_suggested_gpu(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--model", LLAMA_70B, "--target", "onprem", "--instance-type", "A100-40GB"]
    code, data = fit_json(capsys, *argv, "--gpu-count", "1", "--context", "8192")
    assert code == 1 and data["fits"] is False
    assert data["tensor_parallel"] == 1
    smallest = data["smallest_fitting"]
    assert smallest not in (None, "A100-40GB")
    code, again = fit_json(
        capsys,
        "--model",
        LLAMA_70B,
        "--target",
        "onprem",
        "--instance-type",
        smallest,
        "--gpu-count",
        "1",
        "--context",
        "8192",
    )
    assert code == 0 and again["tensor_parallel"] == 1
    assert data["suggestions"][-1].startswith("set compute.gpu_count: ")


def test_nothing_fits_still_names_what_was_evaluated(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = fit_json(capsys, "--model", LLAMA_70B, "--target", "jetson")
    assert code == 1 and data["fits"] is False
    assert data["runtime"] == "vllm" and data["context"] == 8192 and data["concurrency"] == 1


def test_every_fit_flag_is_described_in_help() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command" or a.choices)
    fit = commands.choices["fit"]  # type: ignore[index]
    flags = [a for a in fit._actions if a.option_strings and a.dest != "help"]
    assert {a.dest for a in flags} >= {
        "model",
        "target",
        "instance_type",
        "dtype",
        "context",
        "concurrency",
        "runtime",
        "gpu_count",
        "format",
    }
    for action in flags:
        assert action.help, action.dest

"""The `inferstack` command: exit codes, outputs, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from inferstack.cli import main
from inferstack.errors import SpecError

VENV_BIN = Path(sys.executable).parent


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


def test_preview_of_a_compliant_stack_exits_0(
    offline_project: Path,
    tiny_pack: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(offline_project / "packs")  # --stack finds the project root above

    code = main(["preview", "--stack", "good", "--policy-pack", str(tiny_pack)])

    out = capsys.readouterr().out
    assert code == 0
    assert out.rstrip().splitlines()[-1].startswith("PASS: 0 mandatory")


def test_preview_without_a_pack_says_nothing_was_checked(
    offline_project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(offline_project / "packs")

    code = main(["preview", "--stack", "good"])

    last = capsys.readouterr().out.rstrip().splitlines()[-1]
    assert code == 0
    assert last.startswith("NOT CHECKED: no policy pack was applied"), last
    assert "PASS" not in last


def test_markdown_without_a_pack_says_nothing_was_checked(
    offline_project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(offline_project / "packs")

    assert main(["preview", "--stack", "good", "--format", "markdown"]) == 0

    (result,) = [line for line in capsys.readouterr().out.splitlines() if "| Result |" in line]
    assert "NOT CHECKED" in result and "PASS" not in result


def test_mandatory_violation_exits_1_and_writes_the_report(
    offline_project: Path, tiny_pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "report.json"

    code = main(
        [
            "preview",
            "--config",
            str(offline_project / "stacks" / "Pulumi.dev.yaml"),
            "--policy-pack",
            str(tiny_pack),
            "--format",
            "json",
            "--output",
            str(output),
        ]
    )

    assert code == 1
    document = json.loads(output.read_text(encoding="utf-8"))
    assert document["summary"]["mandatory"] == 1
    assert "FAIL: 1 mandatory" in capsys.readouterr().out


def test_pack_config_can_lower_a_policy(
    offline_project: Path, tiny_pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "policy-config.json"
    config.write_text(json.dumps({"aws-kms-key-enable-rotation": "advisory"}), encoding="utf-8")

    code = main(
        [
            "preview",
            "--config",
            str(offline_project / "stacks" / "Pulumi.dev.yaml"),
            "--policy-pack",
            str(tiny_pack),
            "--policy-pack-config",
            str(config),
            "--format",
            "sarif",
        ]
    )

    assert code == 0
    sarif = json.loads(capsys.readouterr().out)
    levels = {r["ruleId"]: r["level"] for r in sarif["runs"][0]["results"]}
    assert levels["aws-kms-key-enable-rotation"] == "warning"


def test_update_mode_runs_with_known_outputs(
    offline_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(offline_project / "stacks" / "Pulumi.good.yaml")

    assert main(["preview", "--config", config, "--format", "json", "--update"]) == 0
    bucket = next(
        r
        for r in json.loads(capsys.readouterr().out)["resources"]
        if r["type"] == "aws:s3/bucket:Bucket"
    )
    assert bucket["inputs"]["kmsKeyArn"].startswith("arn:aws:kms:eu-west-1:123456789012:key/")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["preview", "--config", "{tmp}/missing.yaml"], "missing.yaml does not exist"),
        (["preview", "--config", "{tmp}/broken.yaml"], "broken.yaml is not valid YAML (line "),
        (
            ["preview", "--config", "{project}/stacks/Pulumi.bad.yaml"],
            "error: inferstack:deployment.name: 'bad' is reserved (pick another name)",
        ),
        (
            ["preview", "--config", "{project}/stacks/Pulumi.dev.yaml", "--policy-pack", "{tmp}"],
            "has no PulumiPolicy.yaml",
        ),
        (
            [
                "preview",
                "--config",
                "{project}/stacks/Pulumi.dev.yaml",
                "--policy-pack-config",
                "{tmp}/broken.yaml",
            ],
            "is not valid JSON",
        ),
    ],
)
def test_invalid_input_exits_2_with_one_line(
    argv: list[str],
    expected: str,
    offline_project: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "broken.yaml").write_text("config:\n  a: [b\n", encoding="utf-8")
    args = [a.format(tmp=tmp_path, project=offline_project) for a in argv]

    assert main(args) == 2
    assert expected in one_error_line(capsys)


def test_unknown_stack_lists_the_known_ones(
    offline_project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(offline_project)

    assert main(["preview", "--stack", "prod"]) == 2
    assert "stack 'prod' not found" in (line := one_error_line(capsys))
    assert "stacks: bad, dev, good" in line


def test_pack_that_cannot_start_exits_2_with_its_error(
    offline_project: Path,
    tmp_path: Path,
    make_pack: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    broken = make_pack(tmp_path / "broken", "raise SystemExit('pack refuses to start')\n")

    code = main(
        [
            "preview",
            "--config",
            str(offline_project / "stacks" / "Pulumi.good.yaml"),
            "--policy-pack",
            str(broken),
        ]
    )

    assert code == 2
    assert "failed to start: pack refuses to start (exit code 1)" in one_error_line(capsys)


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview"]) == 2
    assert "give --stack NAME, --config FILE, or --all" in capsys.readouterr().err


def test_debug_env_reraises(offline_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFERSTACK_DEBUG", "1")

    with pytest.raises(SpecError):
        main(["preview", "--config", str(offline_project / "stacks" / "Pulumi.bad.yaml")])


def test_render_writes_manifests(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: inferstack\nruntime: python\n", encoding="utf-8")
    (tmp_path / "__main__.py").write_text(
        "import pulumi_kubernetes as k8s\nk8s.core.v1.Namespace('ns', metadata={'name': 'llm'})\n",
        encoding="utf-8",
    )
    (tmp_path / "Pulumi.edge.yaml").write_text(
        "config:\n  inferstack:target: onprem\n", encoding="utf-8"
    )

    code = main(
        ["render", "--config", str(tmp_path / "Pulumi.edge.yaml"), "--out", str(tmp_path / "out")]
    )

    assert code == 0
    assert (tmp_path / "out" / "01-namespace-llm.yaml").is_file()
    assert "wrote 1 manifests" in capsys.readouterr().out


def test_render_of_a_cloud_stack_is_invalid_input(
    offline_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(offline_project / "stacks" / "Pulumi.good.yaml")

    assert main(["render", "--config", config, "--out", str(tmp_path)]) == 2
    assert "registers no Kubernetes objects" in one_error_line(capsys)


LLAMA_70B = "meta-llama/Llama-3.1-70B-Instruct"


def test_fit_70b_on_g5_2xlarge_exits_1_with_breakdown_and_smallest_sku(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["fit", "--model", LLAMA_70B, "--target", "sagemaker", "--dtype", "bf16"]
    assert main([*argv, "--instance-type", "ml.g5.2xlarge", "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["fits"] is False
    assert set(data["memory_gb"]) == {"weights", "kv_cache", "overhead", "total"}
    assert data["memory_gb"]["weights"] > 130  # 70.6 B parameters x 2 bytes
    assert data["usable_gb"] < 24
    smallest = data["smallest_fitting"]
    assert smallest is not None and smallest.startswith("ml.")
    assert set(data) >= {"tensor_parallel", "max_context", "max_concurrency"}
    assert "decode_tokens_per_s_ceiling" in data

    # The SKU it names really fits, and so does an 8 x A100 80 GB instance.
    assert main([*argv, "--instance-type", smallest, "--format", "json"]) == 0
    capsys.readouterr()
    assert main([*argv, "--instance-type", "ml.p4de.24xlarge"]) == 0
    table = capsys.readouterr().out
    assert "fits" in table.splitlines()[0]
    assert "tensor parallel" in table


def test_fit_defaults_to_the_smallest_fitting(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["fit", "--model", "meta-llama/Llama-3.1-8B-Instruct", "--target", "sagemaker"]
    assert main([*argv, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["fits"] is True


def test_fit_unknown_model_is_invalid_input(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["fit", "--model", "meta-llama/Llama-3.1-8B-Instruk", "--target", "sagemaker"]
    assert main(argv) == 2
    assert "Llama-3.1-8B-Instruct" in one_error_line(capsys)


def test_installed_command_runs_as_a_process(offline_project: Path, tiny_pack: Path) -> None:
    result = subprocess.run(
        [
            str(VENV_BIN / "inferstack"),
            "preview",
            "--stack",
            "dev",
            "--policy-pack",
            str(tiny_pack),
            "--format",
            "json",
        ],
        cwd=offline_project / "stacks",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["summary"]["mandatory"] == 1


def test_cli_import_stays_light() -> None:
    code = "import sys, inferstack.cli; print(sorted(m for m in sys.modules if 'pulumi' in m))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


FIT_KEYS = {
    "fits",
    "memory_gb",
    "usable_gb",
    "tensor_parallel",
    "smallest_fitting",
    "max_context",
    "max_concurrency",
    "decode_tokens_per_s_ceiling",
    # What was evaluated, and the KV capacity (DESIGN.md, CLI contract).
    "model",
    "dtype",
    "target",
    "hardware",
    "runtime",
    "context",
    "concurrency",
    "kv_cache_tokens",
    "sequences_at_context",
    "advisory",
    "suggestions",
}


@pytest.mark.parametrize(
    ("model", "instance_type", "code"),
    [
        ("meta-llama/Llama-3.1-8B-Instruct", "ml.g6e.xlarge", 0),
        ("meta-llama/Llama-3.1-70B-Instruct", "ml.g5.2xlarge", 1),
    ],
)
def test_fit_with_the_real_sizing_model(
    model: str, instance_type: str, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["fit", "--model", model, "--target", "sagemaker", "--instance-type", instance_type]

    assert main([*argv, "--format", "json"]) == code
    document = json.loads(capsys.readouterr().out)
    assert set(document) == FIT_KEYS
    assert document["fits"] is (code == 0)
    assert set(document["memory_gb"]) == {"weights", "kv_cache", "overhead", "total"}


def test_fit_of_an_unknown_model_is_invalid_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fit", "--model", "nope/model", "--target", "sagemaker"]) == 2
    assert "nope/model" in one_error_line(capsys)


def test_version_prints_the_installed_distribution(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"inferstack {version('inferstack')}"

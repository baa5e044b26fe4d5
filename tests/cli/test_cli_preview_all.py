"""`inferstack preview --all` and the table a person reads: plan, resources, grouped findings."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from inferstack.cli import main
from inferstack.preview.batch import preview_stacks
from inferstack.preview.packs import PackProcesses

ROOT = Path(__file__).resolve().parents[2]

PROGRAM = """
import pulumi

config = pulumi.Config("inferstack")
name = config.require_object("deployment")["name"]
rotate = config.get_bool("rotate") is not False


class Key(pulumi.CustomResource):
    def __init__(self, name, props):
        super().__init__("aws:kms/key:Key", name, props)


for suffix in ("logs", "models"):
    Key(f"{name}-key-{suffix}", {"enableKeyRotation": rotate})
"""

# Not an inferstack rule, so --all gives it a process per stack, as `pulumi preview` would.
PACK = """
from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy, Severity


def rotation(args, report_violation):
    if args.resource_type == "aws:kms/key:Key" and not args.props.get("enableKeyRotation"):
        report_violation("enableKeyRotation is false")


PolicyPack(
    "site",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        ResourceValidationPolicy(
            name="kms-key-rotation",
            description="KMS keys rotate yearly.",
            validate=rotation,
            severity=Severity.HIGH,
            remediation_steps="Set security.encryption.rotate: true.",
        )
    ],
)
"""

DEPLOYMENT = """\
  inferstack:target: onprem
  inferstack:deployment:
    name: {name}
    environment: dev
    model:
      id: meta-llama/Llama-3.2-3B-Instruct
      dtype: bf16
    compute:
      gpu_type: L4
      gpu_count: 1
"""


@pytest.fixture
def project(tmp_path: Path, make_pack: object) -> Path:
    (tmp_path / "Pulumi.yaml").write_text(
        "name: inferstack\nruntime: python\nmain: stacks/\nstackConfigDir: stacks\n",
        encoding="utf-8",
    )
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "__main__.py").write_text(PROGRAM, encoding="utf-8")
    for stack, rotate in (("good", "true"), ("dev", "false")):
        text = "config:\n" + DEPLOYMENT.format(name="chat") + f"  inferstack:rotate: {rotate}\n"
        (stacks / f"Pulumi.{stack}.yaml").write_text(text, encoding="utf-8")
    pack = tmp_path / "policy_packs" / "baseline"
    pack.mkdir(parents=True)
    (pack / "PulumiPolicy.yaml").write_text("runtime: python\nversion: 1.0.0\n", encoding="utf-8")
    (pack / "__main__.py").write_text(textwrap.dedent(PACK), encoding="utf-8")
    return tmp_path


def test_all_exits_1_naming_the_stack_with_a_mandatory_violation(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project)

    code = main(["preview", "--all"])

    out = capsys.readouterr().out
    assert code == 1
    last = out.rstrip().splitlines()[-1]
    assert last.startswith("FAIL: 2 stacks, 1 failed; 2 mandatory")
    assert last.endswith("(failed: dev)")
    matrix = out[out.index("Summary: findings per stack and pack") :].splitlines()
    assert next(line for line in matrix if line.strip().startswith("dev ")).split()[1:] == [
        "2/0/0",
        "FAIL",
    ]


def test_all_with_named_stacks_and_json(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project)

    code = main(["preview", "--all", "--stack", "good", "--format", "json"])

    document = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [s["stack"] for s in document["stacks"]] == ["good"]
    assert document["summary"]["failed"] == []


def test_a_pack_that_is_not_inferstack_rules_gets_a_process_per_stack(project: Path) -> None:
    processes = PackProcesses()
    paths = [project / "stacks" / f"Pulumi.{name}.yaml" for name in ("good", "dev")]

    previews = preview_stacks(paths, project / "policy_packs", processes=processes)

    assert processes.started == 2  # it could read pulumi.get_stack(): never shared
    assert [p.evaluation.mandatory for p in previews] == [0, 2]


def test_all_exits_2_naming_an_invalid_stack(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = project / "stacks" / "Pulumi.typo.yaml"
    bad.write_text(
        "config:\n" + DEPLOYMENT.format(name="chat").replace("    model:", "    modle:"),
        encoding="utf-8",
    )
    monkeypatch.chdir(project)

    code = main(["preview", "--all"])

    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("error: stack typo: ")


def test_all_rejects_an_unknown_stack_name(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project)

    assert main(["preview", "--all", "--stack", "prod"]) == 2
    assert "stack 'prod' not found" in capsys.readouterr().err


def test_table_starts_with_the_plan_and_groups_findings_by_policy(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["preview", "--config", str(project / "stacks" / "Pulumi.dev.yaml"),
                 "--policy-pack", str(project / "policy_packs" / "baseline")])  # fmt: skip

    text = capsys.readouterr().out
    assert code == 1
    lines = text.splitlines()
    plan = lines[lines.index("Plan") + 1 : lines.index("Plan") + 7]
    assert [line.split()[0] for line in plan] == [
        "target",
        "model",
        "hardware",
        "tensor",
        "fit",
        "monthly",
    ]
    assert "meta-llama/Llama-3.2-3B-Instruct (bf16 on vllm)" in plan[1]
    assert "1 x L4" in plan[2]
    assert " of 21.6 GB usable per replica (" in plan[4]
    assert "not priced" in plan[5]
    assert text.index("Plan") < text.index("Resources (2)") < text.index("FINDINGS (2)")
    assert "  Key (aws kms)  key-logs, key-models" in lines  # deployment name not repeated
    findings = text[text.index("FINDINGS (2)") :]
    assert findings.count("kms-key-rotation") == 1  # one block for both keys
    assert "resources: Key key-logs, Key key-models" in findings
    assert findings.count("fix: Set security.encryption.rotate: true.") == 1


def test_quiet_prints_only_the_findings_and_the_verdict(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(project / "stacks" / "Pulumi.dev.yaml")
    pack = str(project / "policy_packs" / "baseline")

    code = main(["preview", "--config", config, "--policy-pack", pack, "--quiet"])

    text = capsys.readouterr().out
    assert code == 1
    assert text.startswith("FINDINGS (2)")
    assert "Plan" not in text and "Resources (" not in text
    assert text.rstrip().splitlines()[-1].startswith("FAIL: 2 mandatory")


def test_all_over_the_repository_stacks_exits_0_with_a_table_per_stack(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)

    code = main(["preview", "--all"])

    text = capsys.readouterr().out
    assert code == 0
    configs = (ROOT / "stacks").glob("Pulumi.*.yaml")
    stacks = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in configs)
    for stack in stacks:
        assert f"Stack {stack} (target " in text
    assert text.count("\nPlan\n") == len(stacks)
    assert text.rstrip().splitlines()[-1].startswith(f"PASS: {len(stacks)} stacks, 0 failed")


def test_all_applies_one_pack_config_to_every_stack_and_checks_its_names(
    project: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configs = tmp_path_factory.mktemp("configs")
    lowered = configs / "lowered.json"
    lowered.write_text('{"kms-key-rotation": "advisory"}', encoding="utf-8")
    typo = configs / "typo.json"
    typo.write_text('{"kms-key-rotaton": "advisory"}', encoding="utf-8")
    monkeypatch.chdir(project)

    assert main(["preview", "--all", "--policy-pack-config", str(lowered)]) == 0
    assert "0 mandatory, 2 advisory" in capsys.readouterr().out.rstrip().splitlines()[-1]
    assert main(["preview", "--all", "--policy-pack-config", str(typo)]) == 2
    assert "names unknown policies: kms-key-rotaton" in capsys.readouterr().err

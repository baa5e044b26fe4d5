"""The azureml-dev and azureml-prod stacks: valid configs, offline preview and update, packs.

These run the real program (``stacks/__main__.py``) under the recording mocks, evaluate the
baseline, HIPAA and GDPR packs over the analyzer protocol, and drive the ``inferstack`` CLI the
way CI does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cloud_stacks import (
    PACKS,
    ROOT,
    cli_preview,
    config,
    of,
    pack_args,
    preview_and_update,
    variant,
)

from inferstack import catalog
from inferstack.deployment import load_stack_config
from inferstack.preview import PreviewRun, evaluate

ML = "azure-native:machinelearningservices"
OWASP = ROOT / "policy_packs" / "owasp-llm"
# What the issue's "Done when" names, as resource types with the least count of each.
REQUIRED = {
    "azure-native:keyvault:Vault": 1,
    "azure-native:keyvault:Key": 1,
    "azure-native:managedidentity:UserAssignedIdentity": 1,
    "azure-native:authorization:RoleAssignment": 3,
    "azure-native:storage:StorageAccount": 1,
    "azure-native:containerregistry:Registry": 1,
    "azure-native:operationalinsights:Workspace": 1,
    f"{ML}:Workspace": 1,
    "azure-native:network:PrivateEndpoint": 5,
    f"{ML}:OnlineEndpoint": 1,
    f"{ML}:OnlineDeployment": 1,
    "azure-native:monitor:AutoscaleSetting": 1,
    "azure-native:monitor:DiagnosticSetting": 2,
    "azure-native:monitor:MetricAlert": 3,
    "azure-native:monitor:ActionGroup": 1,
    "azure-native:consumption:Budget": 1,
    # The gateway (issue 13): API Management, its API and policy, the screening accounts.
    "azure-native:apimanagement:ApiManagementService": 1,
    "azure-native:apimanagement:Api": 1,
    "azure-native:apimanagement:ApiPolicy": 1,
    "azure-native:apimanagement:Backend": 2,
    "azure-native:cognitiveservices:Account": 2,
    "azure-native:authorization:RoleDefinition": 1,
}


@pytest.fixture(scope="module", params=["azureml-dev", "azureml-prod"])
def runs(request: pytest.FixtureRequest) -> dict[bool, PreviewRun]:
    return preview_and_update(request.param)


@pytest.mark.parametrize("stack", ["azureml-dev", "azureml-prod"])
def test_configs(stack: str) -> None:
    loaded = load_stack_config(config(stack))
    spec = loaded.deployment
    assert loaded.target == "azureml"
    assert loaded.region in catalog.residency_regions("azureml", ["eu"])
    owasp = {"owasp-llm"} if spec.environment == "prod" else set()
    assert set(spec.compliance.frameworks) == {"hipaa", "gdpr", *owasp}
    assert spec.compliance.residency == ["eu"]
    assert spec.model.id == "meta-llama/Llama-3.1-8B-Instruct"
    assert spec.model.revision is not None and len(spec.model.revision) == 40
    assert spec.compute.spot is False and not spec.scaling.scale_to_zero
    assert spec.alarms_enabled and spec.observability.alarms.email
    assert spec.cost.monthly_budget_usd is not None


def test_prod_is_an_eu_phi_workload_on_a100_or_h100_with_two_or_more_instances() -> None:
    loaded = load_stack_config(config("azureml-prod"))
    spec = loaded.deployment
    assert spec.environment == "prod" and spec.compliance.phi is True
    assert loaded.region in ("westeurope", "swedencentral")
    assert spec.compute.instance_type is not None
    gpu = catalog.instance_types("azureml")[spec.compute.instance_type].gpu
    assert gpu.startswith(("A100", "H100"))
    assert spec.min_replicas >= 2


def test_preview_lists_what_the_issue_requires(runs: dict[bool, PreviewRun]) -> None:
    for run in runs.values():
        for token, least in REQUIRED.items():
            assert len(of(run, token)) >= least, token
        (workspace,) = of(run, f"{ML}:Workspace")
        assert workspace.inputs["encryption"]["status"] == "Enabled"
        assert workspace.inputs["publicNetworkAccess"] == "Disabled"
        assert workspace.inputs["hbiWorkspace"] is True


def test_every_pack_passes_in_preview_and_update(runs: dict[bool, PreviewRun]) -> None:
    verdicts = {}
    for preview, run in runs.items():
        violations = evaluate(run, PACKS)
        mandatory = [v for v in violations if v.enforcement == "mandatory"]
        assert mandatory == [], [(v.policy, v.urn, v.message) for v in mandatory]
        verdicts[preview] = sorted((v.policy, v.urn) for v in violations)
    assert verdicts[True] == verdicts[False]


def test_cli_preview_of_prod_exits_zero_and_lists_the_resources() -> None:
    packs = pack_args(PACKS)
    result = cli_preview("--stack", "azureml-prod", *packs, "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    types = [r["type"] for r in report["resources"]]
    for token, least in REQUIRED.items():
        assert types.count(token) >= least, token
    assert report["summary"]["mandatory"] == 0


def test_prod_without_input_screening_fails_the_owasp_pack(tmp_path: Path) -> None:
    unscreened = variant(
        tmp_path, "azureml-prod", security={"guard": {"input": False, "output": "off"}}
    )
    result = cli_preview(
        "--config", str(unscreened), "--policy-pack", str(OWASP), "--format", "json"
    )
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    policies = {v["policy"] for v in report["violations"] if v["enforcement"] == "mandatory"}
    assert policies == {"azure-ml-onlineendpoint-require-content-safety-gateway"}


def test_a_defaults_only_spec_passes_every_pack(tmp_path: Path) -> None:
    document = {
        "config": {
            "azure-native:location": "westeurope",
            "inferstack:target": "azureml",
            "inferstack:deployment": {
                "name": "bot",
                # The one input no default can give: the Hub commit (owasp-llm pins revisions).
                "model": {
                    "id": "meta-llama/Llama-3.1-8B-Instruct",
                    "source": "hf://meta-llama/Llama-3.1-8B-Instruct"
                    "@0e9e39f249a16976918f6564b8830bc894c89659",
                },
            },
        }
    }
    path = tmp_path / "Pulumi.defaults.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    packs = pack_args((*PACKS, OWASP))
    result = cli_preview("--config", str(path), *packs, "--format", "json")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    report = json.loads(result.stdout)
    types = {r["type"] for r in report["resources"]}
    assert "azure-native:apimanagement:ApiPolicy" in types
    assert report["summary"]["mandatory"] == 0


def test_both_stacks_pass_the_owasp_pack(runs: dict[bool, PreviewRun]) -> None:
    for run in runs.values():
        violations = evaluate(run, [OWASP])
        assert [v for v in violations if v.enforcement == "mandatory"] == []


@pytest.mark.parametrize(
    ("stack", "region", "changes", "key", "words"),
    [
        (
            "azureml-prod",
            None,
            {"compute": {"spot": True}},
            "inferstack:deployment.compute.spot",
            "batch endpoints",
        ),
        (
            "azureml-dev",
            None,
            {"scaling": {"min_replicas": 0, "scale_to_zero": True}},
            "inferstack:deployment.scaling.scale_to_zero",
            "at least 1 instance",
        ),
        (
            "azureml-prod",
            "eastus",
            {},
            "inferstack:deployment.compliance.data_residency",
            "residency",
        ),
        (
            "azureml-prod",
            None,
            {"compute": {"instance_type": "Standard_NC24ads_A100"}},
            "inferstack:deployment.compute.instance_type",
            "Standard_NC24ads_A100_v4",
        ),
        (
            # all-serving-image-require-digest (owasp-llm) would fail the tagged TGI image.
            "azureml-dev",
            None,
            {
                "serving": {"runtime": "tgi"},
                "compliance": {"frameworks": ["hipaa", "gdpr", "owasp-llm"]},
            },
            "inferstack:deployment.serving.image",
            "owasp-llm",
        ),
        (
            "azureml-dev",
            None,
            {"observability": {"log_retention_days": 731}},
            "inferstack:deployment.observability.log_retention_days",
            "use 730",
        ),
    ],
)
def test_cli_refuses_bad_specs_with_exit_2(
    tmp_path: Path, stack: str, region: str | None, changes: dict[str, Any], key: str, words: str
) -> None:
    result = cli_preview("--config", str(variant(tmp_path, stack, region, **changes)))
    assert result.returncode == 2, result.stdout + result.stderr
    assert key in result.stderr and words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_preview_loads_neither_the_aws_nor_the_gcp_sdk() -> None:
    program = (
        "import sys\n"
        "from inferstack.preview import run_stack\n"
        f"run = run_stack({str(config('azureml-prod'))!r})\n"
        "assert any(r.type.startswith('azure-native:machinelearningservices') "
        "for r in run.resources)\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('pulumi_aws', 'pulumi_gcp', "
        "'pulumi_kubernetes')))\n"
        "print(loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"

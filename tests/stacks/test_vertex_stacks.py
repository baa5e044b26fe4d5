"""The vertex-dev and vertex-prod stacks: valid configs, offline preview and update, packs.

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
    one,
    pack_args,
    preview_and_update,
    variant,
)

from inferstack.deployment import load_stack_config
from inferstack.preview import PreviewRun, evaluate
from inferstack.preview.analyzer import analyze
from inferstack.tracing.content import CONTENT_PROCESSORS
from inferstack.vertex.gateway_config import CONFIG_ENV
from inferstack.vertex.tracing import COLLECTOR_CONFIG_ENV, CONTAINER

DEPLOYMENT = "pulumi-python:dynamic/vertex:ModelDeployment"
SECRET_MEMBER = "gcp:secretmanager/secretIamMember:SecretIamMember"


@pytest.fixture(scope="module", params=["vertex-dev", "vertex-prod"])
def runs(request: pytest.FixtureRequest) -> dict[bool, PreviewRun]:
    return preview_and_update(request.param)


@pytest.mark.parametrize("stack", ["vertex-dev", "vertex-prod"])
def test_configs(stack: str) -> None:
    loaded = load_stack_config(config(stack))
    spec = loaded.deployment
    assert (loaded.target, loaded.region) == ("vertex", "europe-west4")
    owasp = {"owasp-llm"} if spec.environment == "prod" else set()
    assert set(spec.compliance.frameworks) == {"hipaa", "gdpr", *owasp}
    assert spec.compliance.residency == ["eu"]
    assert spec.model.id == "meta-llama/Llama-3.1-8B-Instruct"
    assert spec.model.revision is not None
    assert spec.compute.instance_type is not None
    assert spec.compute.instance_type.startswith(("g2-standard-", "a2-"))
    assert spec.alarms_enabled and spec.observability.alarms.email
    assert spec.cost.monthly_budget_usd is not None


def test_prod_runs_two_or_more_replicas_on_demand() -> None:
    spec = load_stack_config(config("vertex-prod")).deployment
    assert spec.environment == "prod" and spec.compliance.phi is True
    assert spec.min_replicas >= 2 and spec.compute.spot is False


def test_preview_lists_what_the_issue_requires(runs: dict[bool, PreviewRun]) -> None:
    for run in runs.values():
        key = one(run, "gcp:kms/cryptoKey:CryptoKey")
        assert key["rotationPeriod"] == "7776000s"
        models = one(run, "gcp:storage/bucket:Bucket", "-models")
        assert models["publicAccessPrevention"] == "enforced"
        assert "defaultKmsKeyName" in models["encryption"]
        assert run.config_path is not None
        spec = load_stack_config(run.config_path).deployment
        repositories = of(run, "gcp:artifactregistry/repository:Repository")
        purposes = sorted(r.name.removeprefix(f"{spec.name}-") for r in repositories)
        traced = spec.observability.tracing is not None
        expected = ["gateway-images", "images", *(["collector-images"] if traced else [])]
        assert purposes == sorted(expected)
        assert all("kmsKeyName" in r.inputs for r in repositories)
        assert of(run, "gcp:serviceaccount/account:Account")
        serving = [r for r in of(run, "gcp:projects/iAMMember:IAMMember") if "-serving-" in r.name]
        assert len(serving) == 2
        assert of(run, "gcp:storage/bucketIAMMember:BucketIAMMember")
        assert of(run, "gcp:compute/network:Network") and of(
            run, "gcp:compute/subnetwork:Subnetwork"
        )
        endpoint = one(run, "gcp:vertex/aiEndpoint:AiEndpoint")
        assert "kmsKeyName" in endpoint["encryptionSpec"]
        assert endpoint["privateServiceConnectConfig"]["enablePrivateServiceConnect"] is True
        deployment = one(run, DEPLOYMENT)
        assert "kmsKeyName" in deployment["encryptionSpec"]
        assert deployment["deployments"]
        assert len(of(run, "gcp:monitoring/alertPolicy:AlertPolicy")) == 3
        assert of(run, "gcp:monitoring/notificationChannel:NotificationChannel")
        assert of(run, "gcp:billing/budget:Budget")


def test_preview_lists_the_guard_and_the_gateway(runs: dict[bool, PreviewRun]) -> None:
    for run in runs.values():
        template = one(run, "gcp:modelarmor/template:Template")
        filters = template["filterConfig"]
        assert filters["piAndJailbreakFilterSettings"]["filterEnforcement"] == "ENABLED"
        inspect = filters["sdpSettings"]["advancedConfig"]["inspectTemplate"]
        assert inspect.startswith("projects/") and "/inspectTemplates/" in inspect
        assert of(run, "gcp:dataloss/preventionInspectTemplate:PreventionInspectTemplate")
        service = one(run, "gcp:cloudrunv2/service:Service")
        assert service["ingress"] == "INGRESS_TRAFFIC_INTERNAL_ONLY"
        assert "encryptionKey" in service["template"]
        account = service["template"]["serviceAccount"]
        envs = {e["name"]: e["value"] for e in service["template"]["containers"][0]["envs"]}
        config = json.loads(envs[CONFIG_ENV])
        (guardrail,) = config["guardrails"]
        assert guardrail["litellm_params"]["template_id"] == template["templateId"]
        assert "pre_call" in guardrail["litellm_params"]["mode"]
        predict = one(run, "gcp:vertex/aiEndpointIamMember:AiEndpointIamMember")
        assert predict["member"] == f"serviceAccount:{account}"


def test_owasp_llm_passes_and_input_screening_off_fails(tmp_path: Path) -> None:
    pack = pack_args([ROOT / "policy_packs" / "owasp-llm"])
    secure = cli_preview("--stack", "vertex-prod", *pack, "--format", "json")
    assert secure.returncode == 0, secure.stderr
    off = _variant(tmp_path, security={"guard": {"input": False}})
    insecure = cli_preview("--config", str(off), *pack, "--format", "json")
    assert insecure.returncode == 1, insecure.stderr
    policies = {v["policy"] for v in json.loads(insecure.stdout)["violations"]}
    assert policies == {"gcp-vertex-endpoint-require-guarded-gateway"}


def test_prod_traces_the_gateway_through_a_collector_sidecar(
    runs: dict[bool, PreviewRun],
) -> None:
    for run in runs.values():
        assert run.config_path is not None
        loaded = load_stack_config(run.config_path)
        tracing = loaded.deployment.observability.tracing
        service = one(run, "gcp:cloudrunv2/service:Service")
        names = [c["name"] for c in service["template"]["containers"]]
        if tracing is None:
            assert names == ["gateway"] and of(run, SECRET_MEMBER) == []
            continue
        assert names == ["gateway", CONTAINER]
        sidecar = service["template"]["containers"][1]
        envs = {e["name"]: e.get("value") for e in sidecar["envs"]}
        config = yaml.safe_load(envs[COLLECTOR_CONFIG_ENV])
        assert config["exporters"]["otlphttp"]["endpoint"] == tracing.endpoint
        pipeline = config["service"]["pipelines"]["traces"]["processors"]
        assert set(CONTENT_PROCESSORS) <= set(pipeline)
        grant = one(run, SECRET_MEMBER)
        assert tracing.headers_secret is not None
        assert grant["secretId"] == tracing.headers_secret.name
        assert grant["member"] == f"serviceAccount:{service['template']['serviceAccount']}"


def test_cli_preview_of_prod_with_owasp_and_gdpr_lists_the_sidecar(tmp_path: Path) -> None:
    packs = pack_args(ROOT / "policy_packs" / pack for pack in ("owasp-llm", "gdpr"))
    secure = cli_preview("--stack", "vertex-prod", *packs, "--format", "json")
    assert secure.returncode == 0, secure.stderr
    report = json.loads(secure.stdout)
    assert report["summary"]["mandatory"] == 0
    names = {r["name"] for r in report["resources"]}
    assert {"support-bot-collector-images", "support-bot-gateway-trace-headers"} <= names
    # Content kept, sent over plain HTTP: GDPR refuses it, naming the Cloud Run rule.
    document = yaml.safe_load(config("vertex-prod").read_text(encoding="utf-8"))
    observability = document["config"]["inferstack:deployment"]["observability"]
    observability["tracing"].update(
        endpoint="http://langfuse.internal.example.com/api/public/otel",
        capture_content=True,
        content_retention_days=30,
    )
    variant = tmp_path / "Pulumi.variant.yaml"
    variant.write_text(yaml.safe_dump(document), encoding="utf-8")
    insecure = cli_preview("--config", str(variant), *packs, "--format", "json")
    assert insecure.returncode == 1, insecure.stderr
    policies = {v["policy"] for v in json.loads(insecure.stdout)["violations"]}
    assert policies == {"gcp-cloudrun-service-restrict-trace-content"}


def test_owasp_llm_decides_every_grant_at_preview(runs: dict[bool, PreviewRun]) -> None:
    """The serving account's email is computed before it exists, so no grant is unknown."""
    preview = runs[True]
    assert preview.config_path is not None
    project = load_stack_config(preview.config_path).config["gcp:project"]
    serving = one(preview, "gcp:serviceaccount/account:Account", "-serving")
    email = f"{serving['accountId']}@{project}.iam.gserviceaccount.com"
    members = {
        r.name: r.inputs["member"]
        for r in of(preview, "gcp:projects/iAMMember:IAMMember")
        if "-serving-" in r.name
    }
    assert members and set(members.values()) == {f"serviceAccount:{email}"}, members
    evaluation = analyze(preview, [ROOT / "policy_packs" / "owasp-llm"])
    assert [(v.policy, v.urn) for v in evaluation.unverifiable] == []
    assert [(v.policy, v.urn) for v in evaluation.violations] == []


def test_spot_settings_follow_each_spec(runs: dict[bool, PreviewRun]) -> None:
    for run in runs.values():
        assert run.config_path is not None
        spec = load_stack_config(run.config_path).deployment
        deployments = one(run, DEPLOYMENT)["deployments"]
        if spec.compute.spot:
            assert [(d["spot"], d["trafficPercent"]) for d in deployments] == [
                (True, 80),
                (False, 20),
            ]
        else:
            assert [(d["spot"], d["trafficPercent"]) for d in deployments] == [(False, 100)]
            assert deployments[0]["minReplicaCount"] >= 2


def test_prod_schedules_red_team_scans_of_the_gateway() -> None:
    """vertex-prod's security.red_team: Cloud Run jobs, their Cloud Scheduler jobs and the
    report bucket, and the baseline advisory about a prod stack without scans is gone."""
    dev, prod = (load_stack_config(config(s)).deployment for s in ("vertex-dev", "vertex-prod"))
    assert dev.security.red_team is None
    red = prod.security.red_team
    assert red is not None and red.targets == ["gateway"]
    assert red.image.startswith("europe-west4-docker.pkg.dev/")
    for preview, run in preview_and_update("vertex-prod").items():
        jobs = of(run, "gcp:cloudrunv2/job:Job")
        assert sorted(j.inputs["name"] for j in jobs) == [
            "support-bot-red-team-nightly",
            "support-bot-red-team-weekly",
        ]
        schedules = of(run, "gcp:cloudscheduler/job:Job")
        assert sorted(s.inputs["schedule"] for s in schedules) == ["0 2 * * *", "0 4 * * 0"]
        assert {s.inputs["timeZone"] for s in schedules} == {"Etc/UTC"}
        bucket = one(run, "gcp:storage/bucket:Bucket", "red-team-reports")
        assert bucket["labels"]["inferstack_purpose"] == "red-team-reports"
        violations = evaluate(run, PACKS)
        assert not [v for v in violations if "redteam" in v.policy], preview


def test_prod_without_scans_gets_the_red_team_advisory(tmp_path: Path) -> None:
    packs = pack_args(PACKS)
    result = cli_preview(
        "--config", str(_variant(tmp_path, security={"red_team": None})), *packs, "--format", "json"
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["summary"]["mandatory"] == 0
    advisories = [v for v in report["violations"] if "redteam" in v["policy"]]
    assert [v["policy"] for v in advisories] == ["all-redteam-schedule-require-prod-scan"]
    assert "no scheduled red-team scan" in advisories[0]["message"]


def test_every_pack_passes_in_preview_and_update(runs: dict[bool, PreviewRun]) -> None:
    verdicts = {}
    for preview, run in runs.items():
        violations = evaluate(run, PACKS)
        mandatory = [v for v in violations if v.enforcement == "mandatory"]
        assert mandatory == [], [(v.policy, v.urn, v.message) for v in mandatory]
        verdicts[preview] = sorted((v.policy, v.urn) for v in violations)
    assert verdicts[True] == verdicts[False]


def test_cli_preview_of_prod_exits_zero() -> None:
    packs = pack_args(PACKS)
    result = cli_preview("--stack", "vertex-prod", *packs, "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    types = {r["type"] for r in report["resources"]}
    assert {
        "gcp:kms/cryptoKey:CryptoKey",
        "gcp:storage/bucket:Bucket",
        "gcp:artifactregistry/repository:Repository",
        "gcp:serviceaccount/account:Account",
        "gcp:compute/network:Network",
        "gcp:vertex/aiEndpoint:AiEndpoint",
        DEPLOYMENT,
        "gcp:monitoring/alertPolicy:AlertPolicy",
        "gcp:monitoring/notificationChannel:NotificationChannel",
        "gcp:billing/budget:Budget",
        "gcp:modelarmor/template:Template",
        "gcp:cloudrunv2/service:Service",
        "gcp:vertex/aiEndpointIamMember:AiEndpointIamMember",
        "gcp:cloudrunv2/job:Job",
        "gcp:cloudscheduler/job:Job",
    } <= types
    assert report["summary"]["mandatory"] == 0


def _variant(tmp_path: Path, region: str | None = None, **changes: Any) -> Path:
    return variant(tmp_path, "vertex-prod", region, **changes)


@pytest.mark.parametrize(
    ("region", "changes", "key"),
    [
        ("us-central1", {}, "inferstack:deployment.compliance.data_residency"),
        (None, {"compute": {"instance_type": "n1-standard-8"}}, "compute.instance_type"),
        (None, {"compute": {"instance_type": "a4-highgpu-9g"}}, "compute.instance_type"),
        (None, {"scaling": {"target": {"metric": "queue_depth"}}}, "scaling.target.metric"),
        (
            None,
            {"security": {"network": {"public": True, "allowed_cidrs": ["203.0.113.0/24"]}}},
            "security.network.allowed_cidrs",
        ),
        (None, {"observability": {"log_retention_days": 3653}}, "log_retention_days"),
    ],
)
def test_cli_refuses_bad_specs_with_exit_2(
    tmp_path: Path, region: str | None, changes: dict[str, Any], key: str
) -> None:
    result = cli_preview("--config", str(_variant(tmp_path, region, **changes)))
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert key in line and "Traceback" not in line
    if region is not None:
        assert "residency" in line


def test_preview_loads_no_other_cloud_sdk() -> None:
    program = (
        "import sys\n"
        "from inferstack.preview import run_stack\n"
        f"run = run_stack({str(config('vertex-prod'))!r})\n"
        "assert any(r.type.startswith('gcp:vertex') for r in run.resources)\n"
        "others = ('pulumi_aws', 'pulumi_azure', 'google.cloud.aiplatform')\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(others))\n"
        "print(loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


DEPLOYMENT_PACK = """
from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy


def deployment_cmek(args, report_violation):
    if args.resource_type != "pulumi-python:dynamic/vertex:ModelDeployment":
        args.not_applicable("Vertex AI model deployments only")
    # Presence, not value: the key's name is unknown during preview.
    cmek = "kmsKeyName" in list(args.props["encryptionSpec"])
    spots = [d["spot"] for d in args.props["deployments"]]
    report_violation(f"kind={args.props['kind']} cmek={cmek} spot={spots}")


PolicyPack(
    "seen",
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=[
        ResourceValidationPolicy(
            name="vertex-deployment-seen", description="d", validate=deployment_cmek
        )
    ],
)
"""


def test_packs_see_the_model_deployment_inputs(
    tmp_path: Path, make_pack: Any, runs: dict[bool, PreviewRun]
) -> None:
    # A pack receives the deployment with a stable type and its camelCase inputs, in preview
    # (key name unknown) and in update mode alike: a rule can check its CMEK and spot settings.
    pack = make_pack(tmp_path / "seen", DEPLOYMENT_PACK, name="seen")
    for run in runs.values():
        (seen,) = [v for v in evaluate(run, [pack]) if v.policy == "vertex-deployment-seen"]
        assert "kind=inferstack:vertex:ModelDeployment cmek=True spot=[" in seen.message
        assert seen.urn.endswith(
            "pulumi-python:dynamic/vertex:ModelDeployment::" + seen.urn.rsplit("::", 1)[-1]
        )

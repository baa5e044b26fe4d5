"""The sagemaker-dev and sagemaker-prod stacks: valid configs, offline preview and update, packs.

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
from inferstack.errors import SpecError
from inferstack.preview import PreviewRun, evaluate, run_stack
from inferstack.testing import run_program


@pytest.fixture(scope="module", params=["sagemaker-dev", "sagemaker-prod"])
def runs(request: pytest.FixtureRequest) -> dict[bool, PreviewRun]:
    return preview_and_update(request.param)


@pytest.mark.parametrize("stack", ["sagemaker-dev", "sagemaker-prod"])
def test_configs(stack: str) -> None:
    loaded = load_stack_config(config(stack))
    spec = loaded.deployment
    assert (loaded.target, loaded.region) == ("sagemaker", "eu-central-1")
    owasp = {"owasp-llm"} if spec.environment == "prod" else set()
    assert set(spec.compliance.frameworks) == {"hipaa", "gdpr", *owasp}
    assert spec.compliance.residency == ["eu"]
    assert spec.model.id == "meta-llama/Llama-3.1-8B-Instruct"
    assert spec.compute.instance_type is not None
    assert spec.compute.instance_type.startswith(("ml.g5.", "ml.g6e."))
    assert spec.compute.spot is False
    assert spec.alarms_enabled and spec.observability.alarms.email
    assert spec.cost.monthly_budget_usd is not None
    assert spec.model.source is not None and spec.model.source.startswith("s3://")


def test_prod_runs_two_to_six_instances() -> None:
    spec = load_stack_config(config("sagemaker-prod")).deployment
    assert spec.environment == "prod"
    assert (spec.min_replicas, spec.scaling.max_replicas) == (2, 6)
    assert spec.compliance.phi is True


def test_preview_lists_what_the_issue_requires(runs: dict[bool, PreviewRun]) -> None:
    for run in runs.values():
        assert one(run, "aws:kms/key:Key")["enableKeyRotation"] is True
        encryption = one(
            run,
            "aws:s3/bucketServerSideEncryptionConfiguration:"
            "BucketServerSideEncryptionConfiguration",
            "artifacts-encryption",
        )
        assert encryption["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == (
            "aws:kms"
        )
        versioning = one(run, "aws:s3/bucketVersioning:BucketVersioning", "artifacts-versioning")
        assert versioning["versioningConfiguration"]["status"] == "Enabled"
        block = one(
            run,
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            "artifacts-public-access",
        )
        assert all(block[flag] is True for flag in ("blockPublicAcls", "restrictPublicBuckets"))
        policy = json.loads(
            one(run, "aws:s3/bucketPolicy:BucketPolicy", "artifacts-policy")["policy"]
        )
        assert any(
            s["Effect"] == "Deny" and s["Condition"].get("Bool") == {"aws:SecureTransport": "false"}
            for s in policy["Statement"]
        )
        assert of(run, "aws:iam/role:Role")
        model = one(run, "aws:sagemaker/model:Model")
        assert model["enableNetworkIsolation"] is True
        assert len(model["vpcConfig"]["subnets"]) == 2
        config = one(run, "aws:sagemaker/endpointConfiguration:EndpointConfiguration")
        # g5/g6e instance storage is hardware-encrypted; SageMaker refuses a KmsKeyId there,
        # and captured payloads still use the deployment's key.
        assert "kmsKeyArn" not in config
        assert of(run, "aws:sagemaker/endpoint:Endpoint")
        assert of(run, "aws:appautoscaling/target:Target")
        assert of(run, "aws:appautoscaling/policy:Policy")
        log_groups = of(run, "aws:cloudwatch/logGroup:LogGroup")
        # The endpoint's and the gateway Lambda's, and in prod the red-team scan's.
        scans = run.resources[0].name.endswith("-sagemaker-prod")
        assert sorted(g.name.rsplit("-", 2)[-2:][-1] for g in log_groups) == ["logs"] * (
            3 if scans else 2
        )
        assert len([g for g in log_groups if g.name.endswith("-gateway-logs")]) == 1
        for log_group in log_groups:
            assert "kmsKeyId" in log_group.inputs and log_group.inputs["retentionInDays"] >= 365
        assert len(of(run, "aws:cloudwatch/metricAlarm:MetricAlarm")) >= 3
        assert all("kmsMasterKeyId" in t.inputs for t in of(run, "aws:sns/topic:Topic"))
        assert of(run, "aws:sns/topic:Topic")
        assert of(run, "aws:budgets/budget:Budget")


def test_prod_schedules_red_team_scans_of_the_gateway() -> None:
    """sagemaker-prod's security.red_team: schedules, task definitions and the report bucket,
    and the baseline advisory about a prod stack without scans is gone."""
    dev, prod = (
        load_stack_config(config(s)).deployment for s in ("sagemaker-dev", "sagemaker-prod")
    )
    assert dev.security.red_team is None
    red = prod.security.red_team
    assert red is not None and red.targets == ["gateway"]
    assert red.image.startswith("111122223333.dkr.ecr.eu-central-1.amazonaws.com/")
    for preview, run in preview_and_update("sagemaker-prod").items():
        schedules = of(run, "aws:scheduler/schedule:Schedule")
        assert sorted(s.inputs["scheduleExpression"] for s in schedules) == [
            "cron(0 2 * * ? *)",
            "cron(0 4 ? * 1 *)",
        ]
        tasks = of(run, "aws:ecs/taskDefinition:TaskDefinition")
        assert sorted(t.inputs["family"] for t in tasks) == [
            "support-bot-red-team-nightly",
            "support-bot-red-team-weekly",
        ]
        bucket = one(run, "aws:s3/bucket:Bucket", "red-team-reports")
        assert bucket["tags"]["inferstack/purpose"] == "red-team-reports"
        violations = evaluate(run, PACKS)
        assert not [v for v in violations if "red-team" in v.policy or "redteam" in v.policy], (
            preview
        )


def test_every_pack_passes_in_preview_and_update(runs: dict[bool, PreviewRun]) -> None:
    verdicts = {}
    for preview, run in runs.items():
        violations = evaluate(run, PACKS)
        mandatory = [v for v in violations if v.enforcement == "mandatory"]
        assert mandatory == [], [(v.policy, v.urn, v.message) for v in mandatory]
        verdicts[preview] = sorted((v.policy, v.urn) for v in violations)
    assert verdicts[True] == verdicts[False]


OWASP = ROOT / "policy_packs" / "owasp-llm"
INVOKE_RULE = "aws-sagemaker-invoke-restrict-to-gateway"


def test_prod_passes_the_owasp_pack_with_its_image_by_digest() -> None:
    runs = preview_and_update("sagemaker-prod")
    for preview, run in runs.items():
        violations = evaluate(run, [OWASP])
        mandatory = [(v.policy, v.urn) for v in violations if v.enforcement == "mandatory"]
        assert mandatory == [], (preview, mandatory)
        image = one(run, "aws:sagemaker/model:Model")["primaryContainer"]["image"]
        assert image.startswith("123456789012.dkr.ecr.eu-central-1.amazonaws.com/mirror/")
        assert "@sha256:" in image and ":0." not in image  # the digest form SageMaker takes


def test_prod_without_its_image_is_refused_before_the_owasp_pack_sees_the_tag(
    tmp_path: Path,
) -> None:
    # The catalog's image is a tag, which all-serving-image-require-digest fails in every
    # environment; prod lists owasp-llm, so the component refuses it up front instead.
    document = yaml.safe_load(config("sagemaker-prod").read_text(encoding="utf-8"))
    del document["config"]["inferstack:deployment"]["serving"]["image"]
    path = tmp_path / "Pulumi.tagged.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")

    with pytest.raises(SpecError) as caught:
        run_stack(path)

    assert caught.value.key == "inferstack:deployment.serving.image"
    assert "owasp-llm" in caught.value.problem and "@sha256:<digest>" in str(caught.value.fix)


def _prod_with_invoke_grant(extra_principal: bool) -> list[str]:
    """Mandatory owasp-llm findings of sagemaker-prod as deployed (update mode), optionally with
    a role of the stack's own program granted sagemaker:InvokeEndpoint on the endpoint."""
    import pulumi_aws as aws

    from inferstack.aws import SageMakerEndpoint

    stack = load_stack_config(config("sagemaker-prod"))

    def program() -> None:
        bot = SageMakerEndpoint("support-bot", stack.deployment, region="eu-central-1")
        if extra_principal:
            aws.iam.RolePolicy(
                "analytics-direct-invoke",
                role="analytics",
                policy=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": "sagemaker:InvokeEndpoint",
                                "Resource": "arn:aws:sagemaker:eu-central-1:123456789012:"
                                f"endpoint/{bot.plan.endpoint_name}",
                            }
                        ],
                    }
                ),
            )

    result = run_program(
        program, packs=[OWASP], config={"aws:region": "eu-central-1"}, preview=False
    )
    return sorted(f"{v.policy} {v.urn.rsplit('::', 1)[-1]}" for v in result.mandatory)


def test_an_invoke_grant_to_any_other_principal_fails_the_owasp_pack() -> None:
    assert _prod_with_invoke_grant(extra_principal=False) == []
    assert _prod_with_invoke_grant(extra_principal=True) == [
        f"{INVOKE_RULE} analytics-direct-invoke"
    ]


def test_cli_preview_of_prod_exits_zero() -> None:
    packs = pack_args(PACKS)
    result = cli_preview("--stack", "sagemaker-prod", *packs, "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    types = {r["type"] for r in report["resources"]}
    assert {
        "aws:kms/key:Key",
        "aws:s3/bucket:Bucket",
        "aws:iam/role:Role",
        "aws:sagemaker/model:Model",
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
        "aws:sagemaker/endpoint:Endpoint",
        "aws:appautoscaling/target:Target",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:sns/topic:Topic",
        "aws:budgets/budget:Budget",
        "aws:scheduler/schedule:Schedule",
        "aws:ecs/taskDefinition:TaskDefinition",
        "aws:ecs/cluster:Cluster",
    } <= types
    assert report["summary"]["mandatory"] == 0
    assert not any("redteam" in v["policy"] for v in report.get("violations", [])), report


def _variant(tmp_path: Path, region: str | None = None, **changes: Any) -> Path:
    return variant(tmp_path, "sagemaker-dev", region, **changes)


def test_async_inference_passes_every_pack_with_its_payload_key_bound_by_alias(
    tmp_path: Path,
) -> None:
    # Async callers hand payloads over through S3 under the stack's key. The invoke policy names
    # that key by its alias (the key is created in the same run), and the wildcard-resources rule
    # must read the alias condition as the scope it is.
    path = _variant(
        tmp_path,
        serving={"mode": "async"},
        security={"guard": {"input": False, "output": "off"}},
    )
    for preview in (True, False):
        run = run_stack(path, preview=preview)
        statements = one(run, "aws:iam/policy:Policy", "-invoke-policy")["policy"]
        document = json.loads(statements) if isinstance(statements, str) else statements
        (grant,) = [s for s in document["Statement"] if s["Sid"] == "EncryptPayloads"]
        assert grant["Resource"].endswith(":key/*")
        assert "kms:ResourceAliases" in grant["Condition"]["ForAnyValue:StringEquals"]
        mandatory = [
            (v.policy, v.urn) for v in evaluate(run, PACKS) if v.enforcement == "mandatory"
        ]
        assert mandatory == [], (preview, mandatory)


OWASP_TOO = {"frameworks": ["hipaa", "gdpr", "owasp-llm"]}
ASYNC = {"serving": {"mode": "async"}, "security": {"guard": {"input": False, "output": "off"}}}
HUB = "hf://meta-llama/Llama-3.1-8B-Instruct@0e9e39f249a16976918f6564b8830bc894c89659"


@pytest.mark.parametrize(
    ("region", "changes", "key"),
    [
        (None, {"compute": {"spot": True}}, "inferstack:deployment.compute.spot"),
        ("us-east-1", {}, "inferstack:deployment.compliance.data_residency"),
        # The stack's own packs would refuse each of these after the run.
        (None, {"compliance": OWASP_TOO}, "inferstack:deployment.serving.image"),
        (None, {**ASYNC, "compliance": OWASP_TOO}, "inferstack:deployment.serving.mode"),
        (None, {"model": {"source": HUB}}, "inferstack:deployment.model.source"),
        (None, {"model": {"source": None}}, "inferstack:deployment.model.source"),
    ],
)
def test_cli_refuses_bad_specs_with_exit_2(
    tmp_path: Path, region: str | None, changes: dict[str, Any], key: str
) -> None:
    result = cli_preview("--config", str(_variant(tmp_path, region, **changes)))
    assert result.returncode == 2, result.stdout + result.stderr
    assert key in result.stderr
    assert "Traceback" not in result.stderr


def test_preview_loads_no_other_cloud_sdk() -> None:
    program = (
        "import sys\n"
        "from inferstack.preview import run_stack\n"
        f"run = run_stack({str(config('sagemaker-prod'))!r})\n"
        "assert any(r.type.startswith('aws:sagemaker') for r in run.resources)\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('pulumi_azure', 'pulumi_gcp')))\n"
        "print(loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"

"""SageMaker red-team scans: the schedules, the Fargate task, its roles, network and reports.

Argument names are checked against pulumi_aws's types by the recording mocks' registration;
the container definitions and the scheduler target follow ECS's and EventBridge Scheduler's
shapes in botocore's service models (tested here against those models directly).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore
import pytest
import yaml
from captured import Captured

from inferstack.aws import SageMakerEndpoint
from inferstack.aws.redteam import REFUSE_MODEL, container_definitions
from inferstack.deployment import DeploymentSpec
from inferstack.deployment.applicability import check_applicable
from inferstack.errors import SpecError
from inferstack.preview import CapturedResource
from inferstack.redteam import red_team_plan
from inferstack.redteam.garak import CONFIG_ENV

Recording = Callable[..., list[CapturedResource]]

REGION = "eu-central-1"
ACCOUNT = "123456789012"
IMAGE = f"111122223333.dkr.ecr.{REGION}.amazonaws.com/inferstack-garak@sha256:" + "a" * 64
WEIGHTS = "s3://acme-models/meta-llama/Llama-3.1-8B-Instruct/0e9e39f/"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
SCHEDULE = "aws:scheduler/schedule:Schedule"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE = "aws:iam/role:Role"
BOTOCORE_DATA = Path(botocore.__file__).parent / "data"


def spec(**red_team: Any) -> dict[str, Any]:
    return {
        "name": "bot",
        "environment": "prod",
        "model": {"id": "meta-llama/Llama-3.1-8B-Instruct", "source": WEIGHTS},
        "compute": {"instance_type": "ml.g6e.2xlarge"},
        "observability": {"log_retention_days": 365},
        "security": {
            "red_team": {"image": IMAGE, "weekly_schedule": "0 4 * * 0", **red_team},
        },
    }


_RUNS: dict[str, list[CapturedResource]] = {}


class Stack(Captured):
    def document(self, token: str, suffix: str, field: str = "policy") -> dict[str, Any]:
        value = self.named(token, suffix)[field]
        assert isinstance(value, str), f"{suffix}.{field} is not complete: {value!r}"
        parsed: dict[str, Any] = json.loads(value)
        return parsed

    def resource_name(self, token: str, suffix: str) -> str:
        """The resource's name, which the preview mocks give back as its id."""
        (found,) = [r.name for r in self.all(token) if r.name.endswith(suffix)]
        return found

    def statements(self, suffix: str) -> dict[str, dict[str, Any]]:
        return {s["Sid"]: s for s in self.document(ROLE_POLICY, suffix)["Statement"]}


def run(recording: Recording, given: dict[str, Any], *, preview: bool = False) -> Stack:
    key = json.dumps([given, preview], sort_keys=True)
    if key not in _RUNS:
        _RUNS[key] = recording(
            lambda: SageMakerEndpoint("bot", given), preview=preview, config={"aws:region": REGION}
        )
    return Stack(_RUNS[key])


@pytest.fixture(scope="module")
def stack() -> Stack:
    from inferstack.preview import record

    return Stack(
        record(
            lambda: SageMakerEndpoint("bot", spec()),
            preview=False,
            config={"aws:region": REGION},
        )
    )


def container(stack: Stack, tier: str = "nightly") -> dict[str, Any]:
    (only,) = json.loads(stack.named(TASK, f"red-team-{tier}")["containerDefinitions"])
    assert isinstance(only, dict)
    return only


def option(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def model(service: str) -> dict[str, Any]:
    (path,) = (BOTOCORE_DATA / service).glob("*/service-2.json.gz")
    loaded: dict[str, Any] = json.loads(gzip.decompress(path.read_bytes()))
    return loaded


# -- what is created -------------------------------------------------------------------------


def test_nothing_is_added_without_the_section(recording: Recording) -> None:
    plain = spec()
    del plain["security"]
    resources = run(recording, plain).resources
    assert not [r for r in resources if "red-team" in r.name]
    assert not [r for r in resources if r.type.startswith(("aws:ecs", "aws:scheduler"))]


def test_a_schedule_per_tier_runs_the_task_in_the_private_subnets(stack: Stack) -> None:
    nightly = stack.named(SCHEDULE, "red-team-nightly-schedule")
    weekly = stack.named(SCHEDULE, "red-team-weekly-schedule")
    assert nightly["scheduleExpression"] == "cron(0 3 * * ? *)"
    assert weekly["scheduleExpression"] == "cron(0 4 ? * 1 *)"
    subnets = stack.named("aws:sagemaker/model:Model", "-model")["vpcConfig"]["subnets"]
    task_group = stack.resource_name("aws:ec2/securityGroup:SecurityGroup", "-red-team-sg")
    for schedule, tier in ((nightly, "nightly"), (weekly, "weekly")):
        assert schedule["name"] == f"bot-red-team-{tier}"
        assert schedule["scheduleExpressionTimezone"] == "UTC"
        assert schedule["flexibleTimeWindow"] == {"mode": "OFF"}
        assert schedule["state"] == "ENABLED"
        target = schedule["target"]
        assert target["arn"] == f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/bot-red-team"
        assert target["retryPolicy"]["maximumRetryAttempts"] == 0
        ecs = target["ecsParameters"]
        assert ecs["taskDefinitionArn"] == (
            f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/bot-red-team-{tier}:1"
        )
        assert (ecs["launchType"], ecs["taskCount"]) == ("FARGATE", 1)
        network = ecs["networkConfiguration"]
        assert network["assignPublicIp"] is False
        assert network["subnets"] == subnets and len(subnets) == 2
        assert network["securityGroups"] == [task_group]


def test_the_task_runs_garak_through_the_proxy_as_a_non_root_read_only_container(
    stack: Stack,
) -> None:
    task = stack.named(TASK, "red-team-nightly")
    assert task["family"] == "bot-red-team-nightly"
    assert (task["networkMode"], task["requiresCompatibilities"]) == ("awsvpc", ["FARGATE"])
    assert (task["cpu"], task["memory"]) == ("2048", "4096")
    assert {v["name"] for v in task["volumes"]} == {"config", "reports", "tmp"}
    scan = container(stack)
    assert scan["image"] == IMAGE
    assert (scan["user"], scan["privileged"], scan["readonlyRootFilesystem"]) == (
        "1000:1000",
        False,
        True,
    )
    assert scan["linuxParameters"]["capabilities"] == {"drop": ["ALL"]}
    assert scan["essential"] is True and "dependsOn" not in scan
    command = scan["command"]
    bucket = stack.named("aws:s3/bucket:Bucket", "-red-team-reports")["bucket"]
    assert option(command, "--lambda-function") == "bot-gateway"
    assert option(command, "--upload-bucket") == bucket
    assert option(command, "--upload-prefix") == "reports/nightly"
    assert option(command, "--kms-key-id") == "alias/inferstack/bot"
    assert option(command, "--timeout-seconds") == str(4 * 3600)
    assert option(command, "--retention-days") == "90"
    garak = command[command.index("--") + 1 :]
    assert option(garak, "--target_name") == "meta-llama/Llama-3.1-8B-Instruct"
    env = {e["name"]: e["value"] for e in scan["environment"]}
    files = json.loads(env[CONFIG_ENV])
    generator = json.loads(files["nightly-gateway.generator.json"])
    uri = generator["openai"]["OpenAICompatible"]["uri"]
    assert uri == f"http://127.0.0.1:{option(command, '--proxy-port')}/v1"
    config = yaml.safe_load(files["nightly-gateway.yaml"])
    assert config["reporting"]["report_dir"] == "/reports"
    assert {m["containerPath"] for m in scan["mountPoints"]} == {"/etc/garak", "/reports", "/tmp"}
    logs = scan["logConfiguration"]
    group = stack.named("aws:cloudwatch/logGroup:LogGroup", "-red-team-logs")
    assert logs["logDriver"] == "awslogs"
    assert logs["options"]["awslogs-group"] == group["name"] == "/ecs/bot-red-team"
    assert group["retentionInDays"] == 365 and group["kmsKeyId"].startswith("arn:aws:kms:")
    weekly = container(stack, "weekly")["command"]
    assert option(weekly, "--timeout-seconds") == str(12 * 3600)


def test_container_definitions_follow_the_ecs_model() -> None:
    shapes = model("ecs")["shapes"]
    plan = red_team_plan(
        DeploymentSpec.model_validate(spec(targets=["gateway", "model"])),
        gateway_uri="http://127.0.0.1:8787/v1",
        model_uri="http://model/v1",
        model_name="m",
    )
    assert plan is not None
    first, second = container_definitions(
        plan.runs[0], plan, region=REGION, bucket="b", key_id="k", gateway="g", log_group="l"
    )
    for item in (first, second):
        assert set(item) <= set(shapes["ContainerDefinition"]["members"])
        assert set(item["linuxParameters"]) <= set(shapes["LinuxParameters"]["members"])
        for mount in item["mountPoints"]:
            assert set(mount) <= set(shapes["MountPoint"]["members"])
    # One after the other: ECS refuses COMPLETE on an essential container's dependents.
    assert first["essential"] is False and second["essential"] is True
    assert second["dependsOn"] == [{"containerName": "scan-gateway", "condition": "COMPLETE"}]
    assert "COMPLETE" in shapes["ContainerCondition"]["enum"]


def test_the_schedule_target_follows_the_scheduler_model(stack: Stack) -> None:
    shapes = model("scheduler")["shapes"]
    target = stack.named(SCHEDULE, "red-team-nightly-schedule")["target"]

    def pascal(name: str) -> str:
        return {"ecsParameters": "EcsParameters"}.get(name, name[0].upper() + name[1:])

    assert {pascal(k) for k in target} <= set(shapes["Target"]["members"])
    assert {pascal(k) for k in target["ecsParameters"]} <= set(shapes["EcsParameters"]["members"])
    assert shapes["RetryPolicy"]["members"]["MaximumRetryAttempts"]["shape"] == (
        "MaximumRetryAttempts"
    )
    assert shapes["MaximumRetryAttempts"]["min"] == 0
    assert "OFF" in shapes["FlexibleTimeWindowMode"]["enum"]


def test_the_report_bucket_is_encrypted_private_logged_and_expiring(stack: Stack) -> None:
    bucket = stack.named("aws:s3/bucket:Bucket", "-red-team-reports")
    assert bucket["tags"]["inferstack/purpose"] == "red-team-reports"
    kms_key = stack.all("aws:kms/key:Key")
    assert len(kms_key) == 1
    encryption = stack.named(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "red-team-reports-encryption",
    )["rules"][0]
    assert encryption["bucketKeyEnabled"] is True
    default = encryption["applyServerSideEncryptionByDefault"]
    assert default["sseAlgorithm"] == "aws:kms" and default["kmsMasterKeyId"].startswith(
        f"arn:aws:kms:{REGION}:{ACCOUNT}:key/"
    )
    versioning = stack.named(
        "aws:s3/bucketVersioning:BucketVersioning", "red-team-reports-versioning"
    )
    assert versioning["versioningConfiguration"]["status"] == "Enabled"
    block = stack.named(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "red-team-reports-public-access"
    )
    assert all(block[f] is True for f in ("blockPublicAcls", "blockPublicPolicy"))
    assert all(block[f] is True for f in ("ignorePublicAcls", "restrictPublicBuckets"))
    (rule,) = stack.named(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "red-team-reports-lifecycle",
    )["rules"]
    assert (rule["status"], rule["filter"], rule["expiration"]) == (
        "Enabled",
        {"prefix": ""},
        {"days": 90},
    )
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 1}
    policy = stack.document("aws:s3/bucketPolicy:BucketPolicy", "red-team-reports-policy")
    tls = next(s for s in policy["Statement"] if s["Sid"] == "DenyInsecureTransport")
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert f"arn:aws:s3:::{bucket['bucket']}/*" in tls["Resource"]
    logging = stack.named("aws:s3/bucketLogging:BucketLogging", "red-team-reports-logging")
    assert logging["targetPrefix"] == f"{bucket['bucket']}/"
    # S3 may deliver the report bucket's access logs to the access-log bucket.
    logs = stack.document("aws:s3/bucketPolicy:BucketPolicy", "access-logs-policy")
    deliver = next(s for s in logs["Statement"] if s["Sid"] == "AllowServerAccessLogDelivery")
    assert f"arn:aws:s3:::{bucket['bucket']}" in deliver["Condition"]["ArnLike"]["aws:SourceArn"]


def test_with_your_own_artifact_bucket_the_reports_still_log_and_pass_hipaa() -> None:
    from inferstack.aws.args import SageMakerArgs
    from inferstack.testing import run_program

    root = Path(__file__).resolve().parents[2]
    result = run_program(
        lambda: SageMakerEndpoint(
            "bot", spec(), args=SageMakerArgs(artifact_bucket="acme-ml-artifacts")
        ),
        packs=[root / "policy_packs" / "hipaa"],
        config={"aws:region": REGION},
        preview=False,
    )
    names = {r.name for r in result.of_type("aws:s3/bucket:Bucket")}
    assert not any(name.endswith("-artifacts") for name in names)  # yours, not created
    logging = result.named("bot-red-team-reports-logging").inputs
    assert logging["targetBucket"] == result.named("bot-access-logs").inputs["bucket"]
    assert [(v.policy, v.urn) for v in result.mandatory] == []


# -- identity --------------------------------------------------------------------------------


def test_every_trust_policy_names_its_service_and_this_account(stack: Stack) -> None:
    expected = {
        "red-team-execution-role": "ecs-tasks.amazonaws.com",
        "red-team-task-role": "ecs-tasks.amazonaws.com",
        "red-team-scheduler-role": "scheduler.amazonaws.com",
    }
    for suffix, service in expected.items():
        (trust,) = stack.document(ROLE, suffix, "assumeRolePolicy")["Statement"]
        assert trust["Principal"] == {"Service": service}
        assert trust["Action"] == "sts:AssumeRole"
        assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_the_execution_role_pulls_one_repository_and_writes_one_log_group(stack: Stack) -> None:
    grants = stack.statements("red-team-execution-policy")
    assert grants["PullScanImage"]["Resource"] == (
        f"arn:aws:ecr:{REGION}:111122223333:repository/inferstack-garak"
    )
    assert grants["GetRegistryToken"] == {
        "Sid": "GetRegistryToken",
        "Effect": "Allow",
        "Action": "ecr:GetAuthorizationToken",
        "Resource": "*",
    }
    assert grants["WriteScanLogs"]["Resource"] == (
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/ecs/bot-red-team:log-stream:*"
    )
    assert set(grants) == {"PullScanImage", "GetRegistryToken", "WriteScanLogs"}


def test_the_task_role_invokes_the_gateway_and_writes_reports_only(stack: Stack) -> None:
    bucket = stack.named("aws:s3/bucket:Bucket", "-red-team-reports")["bucket"]
    grants = stack.statements("red-team-task-policy")
    assert set(grants) == {"InvokeGateway", "WriteReports"}
    assert grants["InvokeGateway"]["Action"] == "lambda:InvokeFunction"
    assert grants["InvokeGateway"]["Resource"] == (
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:bot-gateway"
    )
    assert grants["WriteReports"]["Action"] == "s3:PutObject"
    assert grants["WriteReports"]["Resource"] == f"arn:aws:s3:::{bucket}/reports/*"
    assert grants["WriteReports"]["Condition"] == {
        "StringEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}
    }
    # A created key names the task role (and the scan's log group) in its own policy.
    key = json.loads(stack.all("aws:kms/key:Key")[0].inputs["policy"])
    users = next(s for s in key["Statement"] if s["Sid"] == "UseByDeploymentRoles")
    task_role = stack.named(ROLE, "red-team-task-role")["name"]
    assert f"arn:aws:iam::{ACCOUNT}:role/{task_role}" in users["Principal"]["AWS"]
    logs = next(s for s in key["Statement"] if s["Sid"] == "EncryptDeploymentLogs")
    assert (
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/ecs/bot-red-team"
        in (logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"])
    )


def test_the_scheduler_runs_these_tasks_and_passes_these_roles_only(stack: Stack) -> None:
    grants = stack.statements("red-team-scheduler-policy")
    assert set(grants) == {"RunScanTask", "PassScanRoles"}
    run_task = grants["RunScanTask"]
    assert run_task["Action"] == "ecs:RunTask"
    assert run_task["Resource"] == [
        f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/bot-red-team-nightly:*",
        f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/bot-red-team-weekly:*",
    ]
    assert run_task["Condition"] == {
        "ArnEquals": {"ecs:cluster": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/bot-red-team"}
    }
    passed = grants["PassScanRoles"]
    roles = [stack.named(ROLE, f"red-team-{k}-role")["name"] for k in ("execution", "task")]
    assert passed["Resource"] == [f"arn:aws:iam::{ACCOUNT}:role/{name}" for name in roles]
    assert passed["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }
    task = stack.named(TASK, "red-team-nightly")
    assert task["executionRoleArn"].endswith(f":role/{roles[0]}")
    assert task["taskRoleArn"].endswith(f":role/{roles[1]}")


def test_documents_are_complete_at_preview(recording: Recording) -> None:
    previewed = run(recording, spec(), preview=True)
    for suffix in ("execution", "task", "scheduler"):
        assert previewed.statements(f"red-team-{suffix}-policy")
        assert previewed.document(ROLE, f"red-team-{suffix}-role", "assumeRolePolicy")
    assert json.loads(previewed.named(TASK, "red-team-nightly")["containerDefinitions"])


def test_a_brought_key_is_granted_through_s3_and_named_in_uploads(recording: Recording) -> None:
    given = spec()
    given["security"]["encryption"] = {"kms_key": KEY}
    brought = run(recording, given)
    grant = brought.statements("red-team-task-policy")["EncryptReports"]
    assert grant["Action"] == ["kms:GenerateDataKey", "kms:Decrypt"]
    assert grant["Resource"] == KEY
    assert grant["Condition"] == {"StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}}
    assert option(container(brought)["command"], "--kms-key-id") == KEY


# -- network ---------------------------------------------------------------------------------


def test_the_task_reaches_only_the_vpc_endpoints(stack: Stack) -> None:
    group = stack.named("aws:ec2/securityGroup:SecurityGroup", "-red-team-sg")
    assert group["ingress"] == []
    assert [(r["fromPort"], r["toPort"]) for r in group["egress"]] == [(443, 443), (443, 443)]
    assert group["egress"][0]["cidrBlocks"] == ["10.80.0.0/16"]
    assert "prefixListIds" in group["egress"][1] and "cidrBlocks" not in group["egress"][1]
    endpoints = {
        r.inputs["serviceName"]: r.inputs for r in stack.all("aws:ec2/vpcEndpoint:VpcEndpoint")
    }
    admitted = stack.named("aws:ec2/securityGroup:SecurityGroup", "-red-team-endpoints-sg")
    group_id = stack.resource_name("aws:ec2/securityGroup:SecurityGroup", "-red-team-sg")
    admitted_id = stack.resource_name(
        "aws:ec2/securityGroup:SecurityGroup", "-red-team-endpoints-sg"
    )
    assert admitted["ingress"][0]["securityGroups"] == [group_id]
    for service in ("ecr.api", "ecr.dkr", "logs", "lambda"):
        endpoint = endpoints[f"com.amazonaws.{REGION}.{service}"]
        assert endpoint["vpcEndpointType"] == "Interface" and endpoint["privateDnsEnabled"] is True
        assert endpoint["securityGroupIds"] == [admitted_id]
    assert f"com.amazonaws.{REGION}.s3" in endpoints


def test_in_subnets_you_bring_the_task_gets_https_out(recording: Recording) -> None:
    given = spec()
    given["security"]["network"] = {
        "vpc_id": "vpc-0abc",
        "subnet_ids": ["subnet-0a", "subnet-0b"],
    }
    brought = run(recording, given)
    group = brought.named("aws:ec2/securityGroup:SecurityGroup", "-red-team-sg")
    assert group["vpcId"] == "vpc-0abc"
    assert [r["cidrBlocks"] for r in group["egress"]] == [["0.0.0.0/0"]]
    assert not brought.all("aws:ec2/vpcEndpoint:VpcEndpoint")
    target = brought.named(SCHEDULE, "red-team-nightly-schedule")["target"]
    assert target["ecsParameters"]["networkConfiguration"]["subnets"] == ["subnet-0a", "subnet-0b"]


# -- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "path", "text"),
    [
        ({"targets": ["gateway", "model"]}, "security.red_team.targets", REFUSE_MODEL),
        (
            {"image": "registry.example.com/garak@sha256:" + "a" * 64},
            "security.red_team.image",
            "not in Amazon ECR",
        ),
        (
            {"image": IMAGE.replace(REGION, "us-east-1")},
            "security.red_team.image",
            "replicate the repository to eu-central-1",
        ),
        (
            {"weekly_schedule": "0 4 1 * 0"},
            "security.red_team.weekly_schedule",
            "EventBridge refuses",
        ),
    ],
)
def test_bad_scans_are_refused_with_one_line(changes: dict[str, Any], path: str, text: str) -> None:
    # Outside a Pulumi program: the refusal comes before any resource registers.
    with pytest.raises(SpecError) as caught:
        SageMakerEndpoint("bot", spec(**changes), region=REGION)
    assert caught.value.path == path
    assert text in str(caught.value) and "\n" not in str(caught.value)


def test_an_async_endpoint_has_no_gateway_to_scan() -> None:
    given = {**spec(), "environment": "staging"}
    given["serving"] = {"mode": "async"}
    given["scaling"] = {
        "min_replicas": 0,
        "max_replicas": 3,
        "scale_to_zero": True,
        "target": {"metric": "queue_depth", "value": 4},
    }
    given["security"]["guard"] = {"input": False, "output": "off"}
    with pytest.raises(SpecError) as caught:
        SageMakerEndpoint("bot", given, region=REGION)
    assert caught.value.path == "security.red_team"


def test_red_team_applies_on_sagemaker_onprem_vertex_and_azureml() -> None:
    parsed = DeploymentSpec.model_validate(
        {
            "name": "bot",
            "model": {"id": "meta-llama/Llama-3.1-8B-Instruct"},
            "security": {"red_team": {"image": IMAGE}},
        }
    )
    check_applicable(parsed, "sagemaker")
    for target in ("onprem", "vertex", "azureml"):
        check_applicable(parsed, target)
    with pytest.raises(SpecError, match="has no effect"):
        check_applicable(parsed, "jetson")

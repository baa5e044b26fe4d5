"""Vertex AI red-team scans: Cloud Scheduler runs Cloud Run jobs against the gateway.

Argument names are checked against pulumi_gcp's types by the recording mocks' registration;
the job's command is parsed by the image's own runner, so the proxy it starts is the one
asserted here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from captured import Captured

from inferstack.deployment import DeploymentSpec
from inferstack.deployment.applicability import check_applicable
from inferstack.errors import SpecError
from inferstack.preview import CapturedResource
from inferstack.redteam import runner
from inferstack.redteam.garak import CONFIG_DIR, CONFIG_ENV, DEADLINE_SECONDS, REPORT_DIR
from inferstack.vertex import Endpoint
from inferstack.vertex.args import VertexArgs
from inferstack.vertex.redteam import REFUSE_MODEL

Recording = Callable[..., list[CapturedResource]]

REGION = "europe-west4"
PROJECT = "acme-llm"
NUMBER = "123456789012"
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
IMAGE = f"{REGION}-docker.pkg.dev/{PROJECT}/security/garak@sha256:" + "a" * 64
ARGS = VertexArgs(project=PROJECT)
JOB = "gcp:cloudrunv2/job:Job"
SCHEDULER = "gcp:cloudscheduler/job:Job"
BUCKET = "gcp:storage/bucket:Bucket"
SERVICE = "gcp:cloudrunv2/service:Service"
ACCOUNT = "gcp:serviceaccount/account:Account"
BUCKET_MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember"
SERVICE_MEMBER = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
JOB_MEMBER = "gcp:cloudrunv2/jobIamMember:JobIamMember"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"


def spec(**red_team: Any) -> dict[str, Any]:
    return {
        "name": "bot",
        "environment": "prod",
        "model": {"id": LLAMA},
        "security": {"red_team": {"image": IMAGE, "weekly_schedule": "0 4 * * 0", **red_team}},
    }


class Stack(Captured):
    """What one program registered."""


_RUNS: dict[str, Stack] = {}


def run(given: dict[str, Any]) -> Stack:
    from inferstack.preview import record

    key = json.dumps(given, sort_keys=True)
    if key not in _RUNS:
        _RUNS[key] = Stack(
            record(
                lambda: Endpoint("bot", given, args=ARGS),
                preview=False,
                config={"gcp:region": REGION},
            )
        )
    return _RUNS[key]


@pytest.fixture(scope="module")
def stack() -> Stack:
    return run(spec())


def container(stack: Stack, tier: str = "nightly") -> dict[str, Any]:
    (only,) = stack.named(JOB, f"red-team-{tier}")["template"]["template"]["containers"]
    assert isinstance(only, dict)
    return only


def gateway_url(stack: Stack) -> str:
    """The service's URL as the preview mocks give it: Cloud Run's deterministic form."""
    name = stack.named(SERVICE, "gateway-service")["name"]
    assert name == "bot-gateway"
    return f"https://{name}-{NUMBER}.{REGION}.run.app"


def email(stack: Stack, suffix: str) -> str:
    return f"{stack.named(ACCOUNT, suffix)['accountId']}@{PROJECT}.iam.gserviceaccount.com"


# -- what is created -------------------------------------------------------------------------


def test_nothing_is_added_without_the_section() -> None:
    plain = spec()
    del plain["security"]
    resources = run(plain).resources
    assert not [r for r in resources if "red-team" in r.name]
    assert not [r for r in resources if r.type in (JOB, SCHEDULER)]


def test_a_scheduler_job_per_tier_runs_its_cloud_run_job(stack: Stack) -> None:
    scheduler = email(stack, "red-team-scheduler")
    for tier, cron in (("nightly", "0 3 * * *"), ("weekly", "0 4 * * 0")):
        schedule = stack.named(SCHEDULER, f"red-team-{tier}-schedule")
        job = stack.named(JOB, f"red-team-{tier}")
        assert job["name"] == f"bot-red-team-{tier}"
        assert (schedule["schedule"], schedule["timeZone"]) == (cron, "Etc/UTC")
        assert schedule["paused"] is False
        assert schedule["retryConfig"]["retryCount"] == 0
        target = schedule["httpTarget"]
        assert target["httpMethod"] == "POST"
        assert target["uri"] == (
            f"https://run.googleapis.com/v2/projects/{PROJECT}/locations/{REGION}/jobs/"
            f"bot-red-team-{tier}:run"
        )
        assert target["oauthToken"]["serviceAccountEmail"] == scheduler
        assert "oidcToken" not in target


def test_the_job_runs_the_image_with_cmek_its_account_and_all_egress_into_the_vpc(
    stack: Stack,
) -> None:
    service = stack.named(SERVICE, "gateway-service")["template"]
    for tier in ("nightly", "weekly"):
        job = stack.named(JOB, f"red-team-{tier}")
        assert job["labels"]["inferstack_purpose"] == "red-team"
        assert (job["template"]["taskCount"], job["template"]["parallelism"]) == (1, 1)
        template = job["template"]["template"]
        assert template["serviceAccount"] == email(stack, "red-team-account")
        assert template["serviceAccount"] != service["serviceAccount"]
        assert template["encryptionKey"] == service["encryptionKey"]
        assert template["encryptionKey"].endswith("/cryptoKeys/bot")
        assert template["maxRetries"] == 0
        assert template["timeout"] == f"{DEADLINE_SECONDS[tier]}s"
        vpc = template["vpcAccess"]
        assert vpc["egress"] == "ALL_TRAFFIC"
        assert vpc["networkInterfaces"] == service["vpcAccess"]["networkInterfaces"]
        assert vpc["networkInterfaces"][0]["network"] == "bot-vpc"
        (scan,) = template["containers"]
        assert scan["image"] == IMAGE


def test_the_command_starts_the_bearer_proxy_for_the_gateway_url(stack: Stack) -> None:
    url = gateway_url(stack)
    command = container(stack)["commands"]
    assert command[:2] == ["python", "/opt/inferstack/scan.py"]
    args, garak = runner.parse(command[2:])
    # What the image's runner hands to gateway_proxy.py.
    assert runner.proxy_mode(args) == [
        "bearer",
        "--upstream",
        f"{url}/v1",
        "--token",
        "gcp",
        "--audience",
        url,
    ]
    assert args.upload_bucket is None and args.report_dir.as_posix() == REPORT_DIR
    assert (args.config_dir.as_posix(), args.config_env) == (CONFIG_DIR, CONFIG_ENV)
    assert args.timeout_seconds == DEADLINE_SECONDS["nightly"]
    assert garak[garak.index("--target_name") + 1] == LLAMA
    env = {e["name"]: e["value"] for e in container(stack)["envs"]}
    files = json.loads(env[CONFIG_ENV])
    options = json.loads(files["nightly-gateway.generator.json"])["openai"]["OpenAICompatible"]
    assert options["uri"] == f"http://127.0.0.1:{args.proxy_port}/v1"
    assert yaml.safe_load(files["nightly-gateway.yaml"])["reporting"]["report_dir"] == REPORT_DIR


def test_reports_land_in_the_mounted_bucket_as_the_image_user(stack: Stack) -> None:
    template = stack.named(JOB, "red-team-nightly")["template"]["template"]
    bucket = stack.named(BUCKET, "-red-team-reports")
    volumes = {v["name"]: v for v in template["volumes"]}
    assert volumes["reports"]["gcs"]["bucket"] == bucket["name"]
    assert volumes["reports"]["gcs"]["readOnly"] is False
    assert volumes["reports"]["gcs"]["mountOptions"] == ["uid=1000", "gid=1000"]
    assert volumes["config"]["emptyDir"]["medium"] == "MEMORY"
    mounts = {m["name"]: m["mountPath"] for m in container(stack)["volumeMounts"]}
    assert mounts == {"reports": REPORT_DIR, "config": CONFIG_DIR}


def test_the_report_bucket_is_cmek_private_versioned_logged_and_expiring(stack: Stack) -> None:
    bucket = stack.named(BUCKET, "-red-team-reports")
    models = stack.named(BUCKET, "-models")
    logs = stack.named(BUCKET, "-access-logs")
    assert bucket["name"].startswith("bot-red-team-reports-")
    assert bucket["labels"]["inferstack_purpose"] == "red-team-reports"
    assert bucket["encryption"]["defaultKmsKeyName"] == models["encryption"]["defaultKmsKeyName"]
    assert bucket["uniformBucketLevelAccess"] is True
    assert bucket["publicAccessPrevention"] == "enforced"
    assert bucket["versioning"]["enabled"] is True
    assert bucket["logging"]["logBucket"] == logs["name"]
    assert bucket["lifecycleRules"] == [
        {"action": {"type": "Delete"}, "condition": {"age": 90}},
        {
            "action": {"type": "Delete"},
            "condition": {"daysSinceNoncurrentTime": 1, "withState": "ARCHIVED"},
        },
    ]
    shorter = run(spec(report_retention_days=14)).named(BUCKET, "-red-team-reports")
    assert shorter["lifecycleRules"][0]["condition"]["age"] == 14


def test_reports_are_access_logged_without_a_model_bucket() -> None:
    given = spec()
    given["model"]["source"] = f"gs://acme-models/{LLAMA}/"
    stack = run(given)
    assert not [r for r in stack.all(BUCKET) if r.name.endswith("-models")]
    logs = stack.named(BUCKET, "-access-logs")
    assert stack.named(BUCKET, "-red-team-reports")["logging"]["logBucket"] == logs["name"]


# -- identities ------------------------------------------------------------------------------


def test_the_scan_account_invokes_the_gateway_and_uses_the_report_bucket_only(
    stack: Stack,
) -> None:
    member = f"serviceAccount:{email(stack, 'red-team-account')}"
    invoke = stack.named(SERVICE_MEMBER, "red-team-invoke-gateway")
    assert (invoke["role"], invoke["member"]) == ("roles/run.invoker", member)
    assert invoke["name"] == stack.named(SERVICE, "gateway-service")["name"]
    assert (invoke["location"], invoke["project"]) == (REGION, PROJECT)
    write = stack.named(BUCKET_MEMBER, "red-team-write-reports")
    assert (write["role"], write["member"]) == ("roles/storage.objectUser", member)
    assert write["bucket"] == stack.named(BUCKET, "-red-team-reports")["name"]
    granted = [
        r
        for token in (BUCKET_MEMBER, SERVICE_MEMBER, JOB_MEMBER, PROJECT_MEMBER)
        for r in stack.all(token)
        if r.inputs["member"] == member
    ]
    assert sorted(r.name for r in granted) == [
        "bot-red-team-invoke-gateway",
        "bot-red-team-write-reports",
    ]


def test_the_scheduler_account_may_run_the_scan_jobs_only(stack: Stack) -> None:
    member = f"serviceAccount:{email(stack, 'red-team-scheduler')}"
    grants = [
        r
        for token in (BUCKET_MEMBER, SERVICE_MEMBER, JOB_MEMBER, PROJECT_MEMBER)
        for r in stack.all(token)
        if r.inputs["member"] == member
    ]
    assert {r.type for r in grants} == {JOB_MEMBER}
    assert sorted((r.inputs["name"], r.inputs["role"]) for r in grants) == [
        ("bot-red-team-nightly", "roles/run.invoker"),
        ("bot-red-team-weekly", "roles/run.invoker"),
    ]
    assert {r.inputs["location"] for r in grants} == {REGION}


def test_without_a_weekly_schedule_one_job_and_one_scheduler_job() -> None:
    given = spec()
    del given["security"]["red_team"]["weekly_schedule"]
    stack = run(given)
    assert [r.name for r in stack.all(JOB)] == ["bot-red-team-nightly"]
    assert [r.name for r in stack.all(SCHEDULER)] == ["bot-red-team-nightly-schedule"]
    assert len(stack.all(JOB_MEMBER)) == 1


# -- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "path", "text"),
    [
        ({"targets": ["gateway", "model"]}, "security.red_team.targets", REFUSE_MODEL),
        (
            {"image": "ghcr.io/acme/garak@sha256:" + "a" * 64},
            "security.red_team.image",
            "runs the scan from Artifact Registry",
        ),
        (
            {"image": f"{REGION}-docker.pkg.dev/{PROJECT}/security/garak:0.17.1"},
            "security.red_team.image",
            "is not pinned by digest",
        ),
    ],
)
def test_bad_scans_are_refused_with_one_line(changes: dict[str, Any], path: str, text: str) -> None:
    # Outside a Pulumi program: the refusal comes before any resource registers.
    with pytest.raises(SpecError) as caught:
        Endpoint("bot", spec(**changes), args=ARGS, region=REGION)
    assert caught.value.path == path
    assert text in str(caught.value) and "\n" not in str(caught.value)


def test_a_public_endpoint_has_no_network_to_scan_from() -> None:
    given = spec()
    given["security"]["network"] = {"public": True}
    with pytest.raises(SpecError) as caught:
        Endpoint("bot", given, args=ARGS, region=REGION)
    assert caught.value.path == "security.red_team"
    assert "internal traffic only" in str(caught.value) and "\n" not in str(caught.value)


def test_red_team_applies_on_vertex() -> None:
    parsed = DeploymentSpec.model_validate(
        {"name": "bot", "model": {"id": LLAMA}, "security": {"red_team": {"image": IMAGE}}}
    )
    check_applicable(parsed, "vertex")

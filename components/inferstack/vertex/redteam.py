"""Scheduled garak scans of the Vertex AI gateway: Cloud Scheduler runs Cloud Run jobs.

Per tier (nightly, optional weekly) a Cloud Scheduler job (the spec's cron in UTC, no retries)
calls the Cloud Run Admin API's ``jobs.run`` on one Cloud Run job. The job runs the scan image
by digest from Artifact Registry with the deployment's key (CMEK), its own service account and
Direct VPC egress into the endpoint's network with all traffic routed there, so the gateway's
internal-only ingress admits it. Its container runs the image's runner around garak, as the
SageMaker task does; garak speaks OpenAI HTTP to a proxy on 127.0.0.1 that calls the gateway
with an ID token of the job's service account for the service's URL, fetched from the metadata
server and refreshed before it expires (``inferstack/redteam/gateway_proxy.py``, bearer mode).
So every probe goes through the guard, as any other caller's request would.

Reports: the report bucket (CMEK with the deployment's key, uniform access, public access
prevention, versioned, access-logged, objects deleted ``report_retention_days`` after they are
written and noncurrent versions a day later) is mounted as a Cloud Storage volume (Cloud
Storage FUSE) at the scan's report directory. garak writes its report files there and the
runner prunes by modification time as it does on a Kubernetes volume, with no upload code in the
image: a file is finalized as an object when garak closes it, and Cloud Run's documentation
("Configure Cloud Storage volume mounts for jobs") notes only that FUSE has no locking between
concurrent writers of one file, which a scan (one writer per file, a timestamped name per run)
never is. A scan that is stopped keeps whatever garak had closed. Cloud Run has no setting for
the container's user: the image's ``USER`` (1000, docker/garak/Dockerfile) applies, and the
volume is mounted with that uid and gid (gcsfuse's ``--uid``/``--gid``) so it may write there.

Identities, all scoped to one resource, none to the project: the scan's account is invoker on
the gateway service (``roles/run.invoker``, the role Cloud Run's IAM page names for calling a
service) and object user on the report bucket (``roles/storage.objectUser``: Cloud Storage
treats replacing an object as create plus delete, and FUSE writes a file by replacing the empty
object it creates at open, so create and read alone would fail the first write; the runner's
pruning deletes too). The scheduler's account is invoker on the scan jobs: Cloud Run's "Execute
jobs" page names ``roles/run.invoker`` on the job for ``run.jobs.run``. Cloud Scheduler mints
that account's OAuth token through its own service agent, which holds
``roles/cloudscheduler.serviceAgent`` from the API's enablement on (Cloud Scheduler, "Use
authentication with HTTP targets"): no token-creator grant is added. ``targets: [model]`` is
refused: the gateway's service account is the endpoint's only caller.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Final, cast

import pulumi
import pulumi_gcp as gcp

from inferstack.deployment import DeploymentSpec
from inferstack.errors import SpecError
from inferstack.redteam import RedTeamPlan
from inferstack.redteam.garak import (
    CONFIG_DIR,
    DEADLINE_SECONDS,
    REPORT_DIR,
    GatewayProxy,
)
from inferstack.redteam.plan import Scheduled, proxied_plan
from inferstack.vertex import storage
from inferstack.vertex.container import pull_through
from inferstack.vertex.context import Context
from inferstack.vertex.encryption import Key
from inferstack.vertex.network import direct_vpc_egress
from inferstack.vertex.plan import VertexPlan

COMPONENT: Final = "red-team"
REPORTS: Final = "red-team-reports"
REFUSE_MODEL: Final = "on Vertex AI the gateway's service account is the endpoint's only caller"
INVOKER: Final = "roles/run.invoker"
REPORT_ROLE: Final = "roles/storage.objectUser"
# The Cloud Run Admin API v2 (run.googleapis.com, REST: projects.locations.jobs.run):
# POST https://run.googleapis.com/v2/{name=projects/*/locations/*/jobs/*}:run
RUN_API: Final = "https://run.googleapis.com/v2"
OAUTH_SCOPE: Final = "https://www.googleapis.com/auth/cloud-platform"
TIME_ZONE: Final = "Etc/UTC"
# The same as the on-prem scan's and the Fargate task's limits.
CPU: Final = "2"
MEMORY: Final = "4Gi"
# The image's garak user (docker/garak/Dockerfile).
USER_ID: Final = 1000
# garak's run config and generator options, written by the runner from CONFIG_ENV.
CONFIG_LIMIT: Final = "16Mi"


def scan_plan(spec: DeploymentSpec, plan: VertexPlan) -> RedTeamPlan | None:
    """The scans ``security.red_team`` asks for, checked for Vertex AI; None without it."""
    red = spec.security.red_team
    if red is None:
        return None
    if plan.network.mode == "public":
        raise SpecError(
            "security.red_team",
            "the gateway admits internal traffic only, and a public endpoint has no network "
            "the scan job could reach it from",
            "set security.network.public: false, or remove security.red_team",
        )
    _, upstream = pull_through(
        red.image, "security.red_team.image", plan.project, plan.region, plan.names.repository
    )
    if upstream is not None:
        raise SpecError(
            "security.red_team.image",
            "Cloud Run runs the scan from Artifact Registry, and this image is elsewhere",
            "push it to a <region>-docker.pkg.dev repository the project reads and use that "
            "URI by digest",
        )
    # Cloud Scheduler's schedules are unix-cron (five fields), in TIME_ZONE.
    return proxied_plan(spec, refuse_model=REFUSE_MODEL)


def gateway_proxy(service_uri: str) -> GatewayProxy:
    """The runner's proxy: LiteLLM's OpenAI routes under ``/v1`` (the gateway sets no root
    path), an ID token whose audience is the service's URL, as Cloud Run checks it."""
    return GatewayProxy.bearer(f"{service_uri.rstrip('/')}/v1", "gcp", service_uri.rstrip("/"))


def run_uri(project: str, region: str, job: str) -> str:
    return f"{RUN_API}/projects/{project}/locations/{region}/jobs/{job}:run"


def container(
    run: Scheduled, scans: RedTeamPlan, service_uri: str
) -> gcp.cloudrunv2.JobTemplateTemplateContainerArgsDict:
    """The scan container: the runner around garak against the gateway, the tier's one target
    (``targets: [model]`` is refused), its reports written to the mounted bucket."""
    (scan,) = run.scans
    return {
        "name": "scan",
        "image": scans.image,
        "commands": scan.runner_command(
            scans.retention_days,
            proxy=gateway_proxy(service_uri),
            config_from_env=True,
            timeout_seconds=DEADLINE_SECONDS[run.tier],
        ),
        "envs": [
            {"name": name, "value": value} for name, value in sorted(scan.environment().items())
        ],
        "resources": {"limits": {"cpu": CPU, "memory": MEMORY}},
        "volume_mounts": [
            {"name": "config", "mount_path": CONFIG_DIR},
            {"name": "reports", "mount_path": REPORT_DIR},
        ],
    }


@dataclass(frozen=True)
class RedTeam:
    bucket: gcp.storage.Bucket
    jobs: dict[str, gcp.cloudrunv2.Job]
    schedules: dict[str, gcp.cloudscheduler.Job]
    account_email: str
    scheduler_email: str
    job_names: list[str]
    """The Cloud Run jobs' names, which their Cloud Scheduler jobs share."""


def red_team(
    ctx: Context,
    scans: RedTeamPlan,
    *,
    key: Key,
    logs: storage.AccessLogs,
    service: gcp.cloudrunv2.Service,
    depends_on: list[pulumi.Resource],
) -> RedTeam:
    """The report bucket, the scan and scheduler accounts, their grants, and per tier a Cloud
    Run job and the Cloud Scheduler job that runs it."""
    names = ctx.plan.names
    bucket = storage.report_bucket(ctx, key, logs, scans.retention_days, REPORTS)
    accounts: list[pulumi.Resource] = []

    def account(suffix: str, account_id: str, display: str, description: str) -> str:
        accounts.append(
            gcp.serviceaccount.Account(
                ctx.child(suffix),
                account_id=account_id,
                project=ctx.project,
                display_name=f"{ctx.name} {display}",
                description=description,
                opts=ctx.opts(),
            )
        )
        # Known before the account exists, so the policy packs judge its grants at preview.
        return f"{account_id}@{ctx.project}.iam.gserviceaccount.com"

    scan_email = account(
        f"{COMPONENT}-account",
        names.red_team_account,
        "red-team scan",
        "Runs the garak scans: calls the gateway, writes reports to their bucket, nothing else",
    )
    scheduler_email = account(
        f"{COMPONENT}-scheduler",
        names.red_team_scheduler,
        "red-team scheduler",
        "Cloud Scheduler starts the red-team scan jobs as this account, nothing else",
    )
    member = f"serviceAccount:{scan_email}"
    depends_on = [*accounts, *depends_on]
    grants: list[pulumi.Resource] = [
        gcp.cloudrunv2.ServiceIamMember(
            ctx.child(f"{COMPONENT}-invoke-gateway"),
            project=ctx.project,
            location=ctx.region,
            name=service.name,
            role=INVOKER,
            member=member,
            opts=ctx.opts(depends_on=depends_on),
        ),
        gcp.storage.BucketIAMMember(
            ctx.child(f"{COMPONENT}-write-reports"),
            bucket=bucket.name,
            role=REPORT_ROLE,
            member=member,
            opts=ctx.opts(depends_on=depends_on),
        ),
    ]
    vpc = direct_vpc_egress(ctx)
    assert vpc is not None, "scan_plan refuses a public endpoint"
    jobs: dict[str, gcp.cloudrunv2.Job] = {}
    schedules: dict[str, gcp.cloudscheduler.Job] = {}
    for run in scans.runs:
        job_name = names.red_team_job(run.tier)
        template: gcp.cloudrunv2.JobTemplateTemplateArgsDict = {
            "service_account": scan_email,
            "encryption_key": key.name,
            "execution_environment": "EXECUTION_ENVIRONMENT_GEN2",
            "max_retries": 0,
            "timeout": f"{DEADLINE_SECONDS[run.tier]}s",
            "containers": [service.uri.apply(functools.partial(container, run, scans))],
            "volumes": [
                {"name": "config", "empty_dir": {"medium": "MEMORY", "size_limit": CONFIG_LIMIT}},
                {
                    "name": "reports",
                    "gcs": {
                        "bucket": bucket.name,
                        "read_only": False,
                        # gcsfuse flags without "--" (GCSVolumeSource.mount_options): the
                        # image's non-root user owns the mounted files.
                        "mount_options": [f"uid={USER_ID}", f"gid={USER_ID}"],
                    },
                },
            ],
            "vpc_access": cast(gcp.cloudrunv2.JobTemplateTemplateVpcAccessArgsDict, vpc),
        }
        job = gcp.cloudrunv2.Job(
            ctx.child(f"{COMPONENT}-{run.tier}"),
            name=job_name,
            project=ctx.project,
            location=ctx.region,
            deletion_protection=False,
            labels=ctx.labels(inferstack_purpose=COMPONENT),
            template={"task_count": 1, "parallelism": 1, "template": template},
            opts=ctx.opts(depends_on=[*grants, *key.grants, bucket, *depends_on]),
        )
        runs = gcp.cloudrunv2.JobIamMember(
            ctx.child(f"{COMPONENT}-{run.tier}-run"),
            project=ctx.project,
            location=ctx.region,
            name=job.name,
            role=INVOKER,
            member=f"serviceAccount:{scheduler_email}",
            opts=ctx.opts(depends_on=accounts),
        )
        schedules[run.tier] = gcp.cloudscheduler.Job(
            ctx.child(f"{COMPONENT}-{run.tier}-schedule"),
            name=job_name,
            project=ctx.project,
            region=ctx.region,
            description=f"inferstack {ctx.name}: {run.tier} garak scan of the gateway",
            schedule=run.schedule,
            time_zone=TIME_ZONE,
            paused=False,
            # A missed or failed start waits for the next run: scans are not retried.
            retry_config={"retry_count": 0},
            http_target={
                "uri": job.name.apply(
                    lambda name: run_uri(ctx.project, ctx.region, name.rsplit("/", 1)[-1])
                ),
                "http_method": "POST",
                "oauth_token": {"service_account_email": scheduler_email, "scope": OAUTH_SCOPE},
            },
            opts=ctx.opts(depends_on=[runs]),
        )
        jobs[run.tier] = job
    job_names = [names.red_team_job(tier) for tier in jobs]
    return RedTeam(bucket, jobs, schedules, scan_email, scheduler_email, job_names)

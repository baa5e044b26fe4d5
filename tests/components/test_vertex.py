"""vertex.Endpoint: the inputs every child gets, with a defaults-only spec and a full spec."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from captured import Captured

from inferstack import targets
from inferstack.errors import SpecError
from inferstack.preview import CapturedResource
from inferstack.vertex import Endpoint
from inferstack.vertex.args import VertexArgs
from inferstack.vertex.encryption import ROTATION_SECONDS
from inferstack.vertex.provider import KIND

Recording = Callable[..., list[CapturedResource]]

REGION = "europe-west4"
PROJECT = "acme-llm"
COMPONENT = "inferstack:vertex:Endpoint"
STACK = "pulumi:pulumi:Stack"
DEPLOYMENT = "pulumi-python:dynamic/vertex:ModelDeployment"
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
REVISION = "0e9e39f249a16976918f6564b8830bc894c89659"
DEFAULTS: dict[str, Any] = {"name": "bot", "model": {"id": LLAMA}}
FULL: dict[str, Any] = {
    "name": "support-bot",
    "environment": "prod",
    "model": {"id": LLAMA, "source": f"hf://{LLAMA}@{REVISION}", "max_context": 8192},
    "serving": {
        "runtime": "vllm",
        "max_concurrency": 16,
        "extra_args": ["--enable-prefix-caching"],
    },
    "compute": {"instance_type": "a2-highgpu-1g", "spot": True},
    "scaling": {
        "min_replicas": 2,
        "max_replicas": 6,
        "target": {"metric": "gpu_utilization", "value": 70},
    },
    "observability": {"log_retention_days": 2192, "alarms": {"email": "oncall@example.com"}},
    "compliance": {
        "frameworks": ["hipaa", "gdpr"],
        "data_residency": ["eu"],
        "phi": True,
        "data_capture": {"enabled": True, "sampling_percentage": 10, "retention_days": 30},
    },
    "cost": {"monthly_budget_usd": 12000},
    "tags": {"team": "ml-platform"},
}
FULL_ARGS = VertexArgs(
    project=PROJECT, billing_account="01A2B3-C4D5E6-F7A8B9", fallback_share=20, fallback_replicas=2
)
LABELLED = {
    "gcp:kms/cryptoKey:CryptoKey",
    "gcp:storage/bucket:Bucket",
    "gcp:vertex/aiEndpoint:AiEndpoint",
    "gcp:artifactregistry/repository:Repository",
    "gcp:bigquery/dataset:Dataset",
}
_RUNS: dict[str, list[CapturedResource]] = {}


class Stack(Captured):
    @property
    def component(self) -> CapturedResource:
        (component,) = self.all(COMPONENT)
        return component


def run(
    recording: Recording,
    spec: dict[str, Any],
    *,
    preview: bool = True,
    args: VertexArgs | None = None,
) -> Stack:
    settings = args or VertexArgs()
    key = json.dumps([spec, preview, settings.model_dump()], sort_keys=True)
    if key not in _RUNS:
        _RUNS[key] = recording(
            lambda: Endpoint(spec["name"], spec, args=settings),
            preview=preview,
            config={"gcp:region": REGION, "gcp:project": PROJECT},
        )
    return Stack(_RUNS[key])


@pytest.fixture(params=["defaults", "full"])
def stack(request: pytest.FixtureRequest, recording: Recording) -> Stack:
    if request.param == "defaults":
        return run(recording, DEFAULTS)
    return run(recording, FULL, args=FULL_ARGS)


def test_registry_names_the_component() -> None:
    assert targets.get("vertex").component_class() is Endpoint


def test_every_child_is_parented_to_the_component(stack: Stack) -> None:
    assert stack.component.name in ("bot", "support-bot")
    for resource in stack.resources:
        if resource.type in (STACK, COMPONENT):
            continue
        assert resource.parent == stack.component.urn, resource.name


def test_the_key_rotates_within_90_days_and_every_agent_may_use_it(stack: Stack) -> None:
    key = stack.one("gcp:kms/cryptoKey:CryptoKey")
    assert key["rotationPeriod"] == f"{ROTATION_SECONDS}s" and ROTATION_SECONDS <= 90 * 86400
    assert key["purpose"] == "ENCRYPT_DECRYPT"
    grants = stack.all("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
    members = {g.inputs["member"] for g in grants if "member" in g.inputs}
    roles = {g.inputs["role"] for g in grants}
    assert roles == {"roles/cloudkms.cryptoKeyEncrypterDecrypter"}
    assert {g.name.rsplit("-", 1)[-1] for g in grants} >= {
        "vertex",
        "storage",
        "registry",
        "logging",
    }
    assert all(m.endswith(".iam.gserviceaccount.com") for m in members)


def test_buckets_are_private_cmek_versioned_and_logged(stack: Stack) -> None:
    buckets = stack.all("gcp:storage/bucket:Bucket")
    assert {b.name.split("-")[-1] for b in buckets} >= {"models", "logs"}
    for bucket in buckets:
        inputs = bucket.inputs
        assert inputs["uniformBucketLevelAccess"] is True
        assert inputs["publicAccessPrevention"] == "enforced"
        assert inputs["versioning"] == {"enabled": True}
        assert "defaultKmsKeyName" in inputs["encryption"]
        assert inputs["logging"]["logBucket"]
        assert inputs["location"] == REGION.upper()
    models = next(b for b in buckets if b.name.endswith("-models")).inputs
    (rule,) = models["lifecycleRules"]
    assert rule["action"] == {"type": "Delete"}
    assert rule["condition"]["daysSinceNoncurrentTime"] == 30


def test_the_serving_account_reads_only_the_model_prefix(stack: Stack) -> None:
    account = stack.one("gcp:serviceaccount/account:Account", f"{stack.component.name}-serving")
    read = stack.one(
        "gcp:storage/bucketIAMMember:BucketIAMMember", f"{stack.component.name}-serving-read-model"
    )
    assert read["role"] == "roles/storage.objectViewer"
    deployment = stack.one(DEPLOYMENT)
    bucket, prefix = deployment["artifactUri"].removeprefix("gs://").split("/", 1)
    assert f'"projects/_/buckets/{bucket}/objects/{prefix}"' in read["condition"]["expression"]
    roles = {
        r.inputs["role"]
        for r in stack.all("gcp:projects/iAMMember:IAMMember")
        if r.name.startswith(f"{stack.component.name}-serving-")
    }
    assert roles == {"roles/logging.logWriter", "roles/monitoring.metricWriter"}
    assert not any(
        r.inputs.get("role") in ("roles/owner", "roles/editor", "roles/viewer")
        for r in stack.resources
    )
    assert account["accountId"].endswith("-serving")


def test_the_endpoint_is_cmek_private_and_in_the_region(stack: Stack) -> None:
    endpoint = stack.one("gcp:vertex/aiEndpoint:AiEndpoint")
    assert "kmsKeyName" in endpoint["encryptionSpec"]
    assert (endpoint["location"], endpoint["region"]) == (REGION, REGION)
    psc = endpoint["privateServiceConnectConfig"]
    assert psc["enablePrivateServiceConnect"] is True
    assert psc["projectAllowlists"] == [PROJECT]
    (automation,) = psc["pscAutomationConfigs"]
    assert automation["projectId"] == PROJECT
    assert "dedicatedEndpointEnabled" not in endpoint
    network = stack.one("gcp:compute/network:Network")
    assert network["autoCreateSubnetworks"] is False
    subnet = stack.one("gcp:compute/subnetwork:Subnetwork")
    assert subnet["privateIpGoogleAccess"] is True and subnet["region"] == REGION


def test_the_image_is_pulled_through_a_cmek_repository_by_digest(stack: Stack) -> None:
    repository = stack.one(
        "gcp:artifactregistry/repository:Repository", f"{stack.component.name}-images"
    )
    assert repository["mode"] == "REMOTE_REPOSITORY" and repository["format"] == "DOCKER"
    assert "kmsKeyName" in repository
    assert (
        repository["remoteRepositoryConfig"]["dockerRepository"]["publicRepository"] == "DOCKER_HUB"
    )
    image = stack.one(DEPLOYMENT)["container"]["imageUri"]
    assert image.startswith(f"{REGION}-docker.pkg.dev/{PROJECT}/{repository['repositoryId']}/")
    assert "@sha256:" in image


def test_the_model_deployment_carries_cmek_and_plain_inputs(stack: Stack) -> None:
    deployment = stack.one(DEPLOYMENT)
    assert deployment["kind"] == KIND
    assert "kmsKeyName" in deployment["encryptionSpec"]
    assert deployment["endpoint"].startswith(f"projects/{PROJECT}/locations/{REGION}/endpoints/")
    assert deployment["container"]["healthRoute"] == "/health"
    assert deployment["container"]["predictRoute"] == "/v1/chat/completions"
    text = json.dumps({k: v for k, v in deployment.items() if k != "__provider"}, default=str)
    assert "token" not in text.lower() and "secret" not in text.lower()


def test_defaults_deploy_on_demand_and_full_spot_with_fallback(recording: Recording) -> None:
    (primary,) = run(recording, DEFAULTS).one(DEPLOYMENT)["deployments"]
    assert primary["spot"] is False and primary["trafficPercent"] == 100
    spot, fallback = run(recording, FULL, args=FULL_ARGS).one(DEPLOYMENT)["deployments"]
    assert (spot["spot"], spot["trafficPercent"]) == (True, 80)
    assert (fallback["spot"], fallback["trafficPercent"]) == (False, 20)
    assert (spot["minReplicaCount"], spot["maxReplicaCount"]) == (2, 6)
    assert (fallback["minReplicaCount"], fallback["maxReplicaCount"]) == (1, 2)
    assert spot["acceleratorType"] == "NVIDIA_TESLA_A100"
    assert spot["autoscalingMetricSpecs"] == [
        {
            "metricName": "aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle",
            "target": 70,
        }
    ]


def test_capture_only_with_data_capture_into_a_cmek_dataset(recording: Recording) -> None:
    defaults = run(recording, DEFAULTS)
    assert defaults.all("gcp:bigquery/dataset:Dataset") == []
    assert "predictRequestResponseLoggingConfig" not in defaults.one(
        "gcp:vertex/aiEndpoint:AiEndpoint"
    )
    full = run(recording, FULL, args=FULL_ARGS, preview=False)
    dataset = full.one("gcp:bigquery/dataset:Dataset")
    assert "kmsKeyName" in dataset["defaultEncryptionConfiguration"]
    assert dataset["defaultTableExpirationMs"] == 30 * 86_400_000
    assert dataset["location"] == REGION
    logging = full.one("gcp:vertex/aiEndpoint:AiEndpoint")["predictRequestResponseLoggingConfig"]
    assert logging["enabled"] is True and logging["samplingRate"] == 0.1
    assert logging["bigqueryDestination"]["outputUri"] == (
        f"bq://{PROJECT}.{dataset['datasetId']}.request_response_logging"
    )


def test_logs_keep_the_spec_retention_under_cmek(stack: Stack) -> None:
    bucket = stack.one("gcp:logging/projectBucketConfig:ProjectBucketConfig")
    assert bucket["retentionDays"] in (365, 2192)
    assert "kmsKeyName" in bucket["cmekSettings"]
    sink = stack.one("gcp:logging/projectSink:ProjectSink")
    assert sink["destination"].endswith(f"/buckets/{bucket['bucketId']}")
    assert "aiplatform.googleapis.com/Endpoint" in sink["filter"]
    # The same lines stay out of the _Default bucket (Google-managed key).
    exclusion = stack.one("gcp:logging/projectExclusion:ProjectExclusion")
    assert exclusion["filter"] == sink["filter"]


def test_defaults_get_a_budget_on_the_projects_billing_account(recording: Recording) -> None:
    defaults = run(recording, DEFAULTS, preview=False)

    budget = defaults.one("gcp:billing/budget:Budget")
    # The account the project lookup returns (the recording's getProject answer).
    assert budget["billingAccount"] == "012345-6789AB-CDEF01"
    assert float(budget["amount"]["specifiedAmount"]["units"]) > 0
    assert "allUpdatesRule" not in budget  # no alarms.email in the defaults


def test_a_project_without_a_readable_billing_account_names_the_setting() -> None:
    from inferstack.vertex import budget

    check = budget._linked("acme-llm")

    assert check("billingAccounts/012345-6789AB-CDEF01") == "012345-6789AB-CDEF01"
    with pytest.raises(SpecError) as raised:
        check("")
    assert str(raised.value).startswith("inferstack:vertex.billing_account: project acme-llm")


def test_alerts_in_the_full_spec_only(recording: Recording) -> None:
    defaults = run(recording, DEFAULTS)
    assert defaults.all("gcp:monitoring/alertPolicy:AlertPolicy") == []
    full = run(recording, FULL, args=FULL_ARGS, preview=False)
    channel = full.one("gcp:monitoring/notificationChannel:NotificationChannel")
    assert channel["type"] == "email" and channel["labels"] == {
        "email_address": "oncall@example.com"
    }
    policies = full.all("gcp:monitoring/alertPolicy:AlertPolicy")
    assert {p.name.rsplit("-", 1)[-1] for p in policies} == {"errors", "latency", "saturation"}
    (channel_id,) = policies[0].inputs["notificationChannels"]
    assert channel_id.startswith(f"projects/{PROJECT}/notificationChannels/")
    for policy in policies:
        assert policy.inputs["notificationChannels"] == [channel_id]
        condition = policy.inputs["conditions"][0]["conditionThreshold"]
        assert "aiplatform.googleapis.com/Endpoint" in condition["filter"]
    saturation = next(p for p in policies if p.name.endswith("saturation"))
    assert saturation.inputs["conditions"][0]["conditionThreshold"]["thresholdValue"] == 7.5
    budget = full.one("gcp:billing/budget:Budget")
    assert budget["billingAccount"] == "01A2B3-C4D5E6-F7A8B9"
    assert budget["amount"]["specifiedAmount"] == {"currencyCode": "USD", "units": "12000"}
    assert [r["thresholdPercent"] for r in budget["thresholdRules"]] == [0.8, 1.0]
    assert budget["allUpdatesRule"]["monitoringNotificationChannels"] == [channel_id]


def test_labels_are_merged_and_valid_for_gcp(stack: Stack) -> None:
    for resource in stack.resources:
        if resource.type in LABELLED:
            labels = resource.inputs["labels"]
            assert labels["app_kubernetes_io_managed-by"] == "inferstack", resource.name
            assert all(k == k.lower() and "/" not in k and "." not in k for k in labels)


def test_public_and_peered_endpoints(recording: Recording) -> None:
    public = dict(DEFAULTS, security={"network": {"public": True}})
    endpoint = run(recording, public).one("gcp:vertex/aiEndpoint:AiEndpoint")
    assert endpoint["dedicatedEndpointEnabled"] is True
    assert "privateServiceConnectConfig" not in endpoint and "network" not in endpoint
    peered = run(recording, DEFAULTS, preview=False, args=VertexArgs(private_endpoint="peering"))
    endpoint = peered.one("gcp:vertex/aiEndpoint:AiEndpoint")
    assert endpoint["network"] == "projects/123456789012/global/networks/bot-vpc"
    address = peered.one("gcp:compute/globalAddress:GlobalAddress")
    assert address["purpose"] == "VPC_PEERING" and address["prefixLength"] == 16
    connection = peered.one("gcp:servicenetworking/connection:Connection")
    assert connection["reservedPeeringRanges"] == [address["name"]]


def test_existing_key_and_network_are_used(recording: Recording) -> None:
    key = f"projects/keys/locations/{REGION}/keyRings/llm/cryptoKeys/serving"
    spec = dict(
        DEFAULTS,
        security={
            "encryption": {"kms_key": key},
            "network": {"vpc_id": "projects/net-host/global/networks/shared"},
        },
    )
    stack = run(recording, spec)
    assert stack.all("gcp:kms/cryptoKey:CryptoKey") == []
    assert stack.all("gcp:compute/network:Network") == []
    assert stack.one("gcp:vertex/aiEndpoint:AiEndpoint")["encryptionSpec"]["kmsKeyName"] == key
    psc = stack.one("gcp:vertex/aiEndpoint:AiEndpoint")["privateServiceConnectConfig"]
    assert psc["pscAutomationConfigs"][0]["network"] == "projects/net-host/global/networks/shared"


def test_bad_input_fails_before_any_resource(recording: Recording) -> None:
    registered: list[CapturedResource] = []
    with pytest.raises(SpecError) as raised:
        registered = recording(
            lambda: Endpoint("bot", dict(DEFAULTS, compute={"instance_type": "n1-standard-8"})),
            preview=True,
            config={"gcp:region": REGION, "gcp:project": PROJECT},
        )
    assert raised.value.path == "compute.instance_type"
    assert registered == []
    with pytest.raises(SpecError, match="gcp:region"):
        recording(lambda: Endpoint("bot", DEFAULTS), preview=True, config={"gcp:project": PROJECT})

"""Azure ML red-team scans: the Container Apps environment and jobs, their identity and grants,
the report store, the gateway admitting the scans, and the refusals.

Argument names are checked against pulumi_azure_native's input types by the recording mocks'
registration; the lifecycle policy's request body is checked against azure-mgmt-storage's
ManagementPolicy model (the report account is the workspace account's builder, whose body
tests/components/test_azureml_schema.py checks).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from azure.mgmt.storage import models as storage_models
from azure_sdk_oracle import check
from captured import Captured
from google.protobuf import json_format

from inferstack.azureml import OnlineEndpoint
from inferstack.azureml.args import AzureMLArgs
from inferstack.azureml.context import ROLES
from inferstack.azureml.plan import build_plan
from inferstack.azureml.redteam import (
    REFUSE_MODEL,
    UPLOAD_SECONDS,
    environment_name,
    job_name,
    report_account_name,
)
from inferstack.deployment import DeploymentSpec, parse_deployment, validate_for_target
from inferstack.deployment.applicability import check_applicable
from inferstack.errors import SpecError
from inferstack.preview import CapturedResource
from inferstack.redteam.garak import CONFIG_ENV, DEADLINE_SECONDS, RUNNER_PATH
from inferstack.redteam.probes import Tier

Recording = Callable[..., list[CapturedResource]]

ROOT = Path(__file__).resolve().parents[2]
REGION = "westeurope"
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
# The stack's registry for component "bot" in westeurope (plan.registry_name).
REGISTRY = "crbot46daa0.azurecr.io"
IMAGE = f"{REGISTRY}/inferstack-garak@sha256:" + "a" * 64
JOB = "azure-native:app:Job"
ENVIRONMENT = "azure-native:app:ManagedEnvironment"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
ASSIGNMENT = "azure-native:authorization:RoleAssignment"
ACCOUNT = "azure-native:storage:StorageAccount"
SUBNET = "azure-native:network:Subnet"


def spec(**red_team: Any) -> dict[str, Any]:
    return {
        "name": "bot",
        "environment": "prod",
        "model": {"id": LLAMA, "source": f"hf://{LLAMA}@0e9e39f249a16976918f6564b8830bc894c89659"},
        "observability": {"log_retention_days": 365, "alarms": {"email": "oncall@example.com"}},
        "security": {
            "red_team": {
                "image": IMAGE,
                "weekly_schedule": "0 4 * * 0",
                "report_retention_days": 60,
                **red_team,
            }
        },
    }


_RUNS: dict[str, list[CapturedResource]] = {}


class Stack(Captured):
    def output(self, token: str, suffix: str, field: str) -> Any:
        return json_format.MessageToDict(self.resource(token, suffix).outputs)[field]


def run(recording: Recording, given: dict[str, Any], args: AzureMLArgs | None = None) -> Stack:
    settings = args or AzureMLArgs()
    key = json.dumps([given, settings.model_dump(mode="json")], sort_keys=True)
    if key not in _RUNS:
        _RUNS[key] = recording(
            lambda: OnlineEndpoint("bot", given, args=settings),
            preview=False,
            config={"azure-native:location": REGION},
        )
    return Stack(_RUNS[key])


@pytest.fixture
def stack(recording: Recording) -> Stack:
    return run(recording, spec())


def scan_container(stack: Stack, tier: str = "nightly") -> dict[str, Any]:
    (only,) = stack.named(JOB, f"red-team-{tier}")["template"]["containers"]
    assert isinstance(only, dict)
    return only


def option(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def test_the_registry_in_these_tests_is_the_stacks(stack: Stack) -> None:
    assert stack.output("azure-native:containerregistry:Registry", "-cr", "loginServer") == REGISTRY


def test_nothing_is_added_without_the_section(recording: Recording) -> None:
    given = spec()
    del given["security"]["red_team"]
    plain = run(recording, given)
    assert not plain.all(JOB) and not plain.all(ENVIRONMENT)
    assert len(plain.all(IDENTITY)) == 1 and len(plain.all(ACCOUNT)) == 1


def test_a_scheduled_job_per_tier_with_its_deadline_and_no_retries(stack: Stack) -> None:
    environment_id = stack.output(ENVIRONMENT, "-cae-red-team", "id")
    scanner_id = stack.output(IDENTITY, "-id-red-team", "id")
    tiers: list[tuple[Tier, str]] = [("nightly", "0 3 * * *"), ("weekly", "0 4 * * 0")]
    for tier, cron in tiers:
        job = stack.named(JOB, f"red-team-{tier}")
        assert job["jobName"] == f"bot-rt-{tier}"
        assert job["environmentId"] == environment_id
        assert job["workloadProfileName"] == "Consumption"
        config = job["configuration"]
        assert config["triggerType"] == "Schedule"
        assert config["scheduleTriggerConfig"] == {
            "cronExpression": cron,
            "parallelism": 1,
            "replicaCompletionCount": 1,
        }
        assert config["replicaTimeout"] == DEADLINE_SECONDS[tier]
        assert config["replicaRetryLimit"] == 0
        # The image is pulled from the stack's registry with the job's own identity.
        assert config["registries"] == [{"server": REGISTRY, "identity": scanner_id}]
        assert job["identity"]["type"] == "UserAssigned"
        assert list(job["identity"]["userAssignedIdentities"]) == [scanner_id]
        assert job["tags"]["inferstack/purpose"] == "red-team"
        (container,) = job["template"]["containers"]
        assert container["image"] == IMAGE
        assert container["resources"] == {"cpu": 2.0, "memory": "4Gi"}


def test_the_job_runs_garak_through_the_bearer_proxy_to_api_management(stack: Stack) -> None:
    client_id = stack.output(IDENTITY, "-id-red-team", "clientId")
    account = report_account_name_of(stack)
    tiers: tuple[Tier, ...] = ("nightly", "weekly")
    for tier in tiers:
        container = scan_container(stack, tier)
        command = container["command"]
        assert command[:2] == ["python", RUNNER_PATH]
        runner, garak = command[: command.index("--")], command[command.index("--") + 1 :]
        assert garak[:3] == ["python", "-m", "garak"]
        # The APIM gateway's model API (path v1), the gateway's audience, the job's identity.
        assert option(runner, "--bearer-upstream") == "https://apim-bot-46daa0.azure-api.net/v1"
        assert option(runner, "--bearer-token") == "azure"
        assert option(runner, "--bearer-audience") == "https://ml.azure.com"
        assert option(runner, "--bearer-client-id") == client_id
        assert "--lambda-function" not in runner
        assert option(runner, "--upload-blob") == (
            f"https://{account}.blob.core.windows.net/red-team-reports"
        )
        assert option(runner, "--upload-prefix") == tier
        assert option(runner, "--upload-client-id") == client_id
        # garak stops before the replica does, leaving time for the upload.
        stop = int(option(runner, "--timeout-seconds"))
        assert stop == DEADLINE_SECONDS[tier] - UPLOAD_SECONDS and stop > 0
        assert option(runner, "--config-env") == CONFIG_ENV
        env = {e["name"]: e["value"] for e in container["env"]}
        files = json.loads(env[CONFIG_ENV])
        options = json.loads(files[f"{tier}-gateway.generator.json"])
        # garak calls the proxy on 127.0.0.1, never the gateway itself.
        assert options["openai"]["OpenAICompatible"]["uri"] == "http://127.0.0.1:8787/v1"
        assert f"{tier}-gateway.yaml" in files


def report_account_name_of(stack: Stack) -> str:
    name = stack.named(ACCOUNT, "-st-red-team")["accountName"]
    assert isinstance(name, str)
    return name


def test_the_api_management_api_is_served_under_v1(stack: Stack) -> None:
    api = stack.named("azure-native:apimanagement:Api", "-apim-api")
    assert api["path"] == "v1"
    assert stack.named("azure-native:apimanagement:ApiManagementService", "-apim")[
        "serviceName"
    ] == ("apim-bot-46daa0")


def test_the_environment_is_internal_on_a_delegated_subnet_of_its_own(stack: Stack) -> None:
    env = stack.named(ENVIRONMENT, "-cae-red-team")
    subnet_id = stack.output(SUBNET, "-snet-red-team", "id")
    assert env["vnetConfiguration"] == {"infrastructureSubnetId": subnet_id, "internal": True}
    (profile,) = env["workloadProfiles"]
    assert (profile["name"], profile["workloadProfileType"]) == ("Consumption", "Consumption")
    assert env["publicNetworkAccess"] == "Disabled"
    assert env["appLogsConfiguration"] == {"destination": "azure-monitor"}
    diagnostics = stack.named("azure-native:monitor:DiagnosticSetting", "-diag-cae-red-team")
    assert diagnostics["resourceUri"] == stack.output(ENVIRONMENT, "-cae-red-team", "id")
    subnet = stack.named(SUBNET, "-snet-red-team")
    assert subnet["addressPrefix"] == "10.42.3.0/27"
    assert [d["serviceName"] for d in subnet["delegations"]] == ["Microsoft.App/environments"]
    # Created after the gateway's subnet: a VNet's subnets change one at a time.
    gateway_subnet = stack.resource(SUBNET, "-snet-apim").urn
    assert gateway_subnet in stack.resource(SUBNET, "-snet-red-team").dependencies


def test_the_scan_identity_pulls_from_the_registry_and_writes_the_report_container_only(
    stack: Stack,
) -> None:
    scanner = stack.output(IDENTITY, "-id-red-team", "principalId")
    grants = {
        a["roleDefinitionId"].rsplit("/", 1)[1]: a["scope"]
        for a in (r.inputs for r in stack.all(ASSIGNMENT))
        if a["principalId"] == scanner
    }
    registry = stack.output("azure-native:containerregistry:Registry", "-cr", "id")
    container = stack.output("azure-native:storage:BlobContainer", "-red-team-reports", "id")
    assert grants == {ROLES["acr_pull"]: registry, ROLES["blob_contributor"]: container}
    # The container, not the account.
    assert container.endswith("/blobServices/default/containers/red-team-reports")
    # Only the scans get blob write access.
    writers = [
        a
        for a in (r.inputs for r in stack.all(ASSIGNMENT))
        if a["roleDefinitionId"].endswith(ROLES["blob_contributor"])
    ]
    assert len(writers) == 1


def test_the_report_store_is_encrypted_private_and_expiring(stack: Stack) -> None:
    account = stack.named(ACCOUNT, "-st-red-team")
    assert account["accountName"] == report_account_name_of(stack)
    assert len(account["accountName"]) <= 24 and account["accountName"].isalnum()
    assert account["encryption"]["keySource"] == "Microsoft.Keyvault"
    assert account["encryption"]["keyVaultProperties"]["keyName"] == "bot-cmk"
    assert account["encryption"]["encryptionIdentity"]["encryptionUserAssignedIdentity"] == (
        stack.output(IDENTITY, "-id", "id")
    )
    assert account["allowSharedKeyAccess"] is False
    assert account["allowBlobPublicAccess"] is False
    assert account["publicNetworkAccess"] == "Disabled"
    assert account["minimumTlsVersion"] == "TLS1_2"
    assert account["tags"]["inferstack/purpose"] == "red-team-reports"
    container = stack.named("azure-native:storage:BlobContainer", "-red-team-reports")
    assert container["containerName"] == "red-team-reports"
    assert container["publicAccess"] == "None"
    endpoint = stack.named("azure-native:network:PrivateEndpoint", "-pe-red-team-blob")
    (connection,) = endpoint["privateLinkServiceConnections"]
    assert connection["privateLinkServiceId"] == stack.output(ACCOUNT, "-st-red-team", "id")
    assert connection["groupIds"] == ["blob"]
    policy = stack.named("azure-native:storage:ManagementPolicy", "-red-team-retention")
    assert policy["accountName"] == account["accountName"]
    (rule,) = policy["policy"]["rules"]
    assert rule["enabled"] is True
    assert rule["definition"]["filters"]["prefixMatch"] == ["red-team-reports/"]
    assert rule["definition"]["actions"]["baseBlob"]["delete"] == {
        "daysAfterModificationGreaterThan": 60
    }
    body = {"properties": {"policy": policy["policy"]}}
    assert check(storage_models.ManagementPolicy, body) == []


def test_the_lifecycle_policy_names_the_report_account(stack: Stack) -> None:
    """The policy rule finds the lifecycle policy through its account reference."""
    account = stack.resource(ACCOUNT, "-st-red-team").urn
    policy = stack.resource("azure-native:storage:ManagementPolicy", "-red-team-retention")
    assert account in policy.property_dependencies["accountName"]


@pytest.mark.parametrize("preview", [True, False])
def test_the_packs_pass_with_scans_and_advise_them_without(preview: bool) -> None:
    from inferstack.testing import run_program

    packs = [ROOT / "policy_packs" / pack for pack in ("baseline", "gdpr", "owasp-llm")]
    config = {"azure-native:location": REGION}
    scanned = run_program(
        lambda: OnlineEndpoint("bot", spec()), packs=packs, config=config, preview=preview
    )
    assert [(v.policy, v.urn) for v in scanned.violations] == []
    given = spec()
    del given["security"]["red_team"]
    plain = run_program(
        lambda: OnlineEndpoint("bot", given), packs=packs, config=config, preview=preview
    )
    advised = {v.policy for v in plain.violations if v.enforcement == "advisory"}
    assert "all-redteam-schedule-require-prod-scan" in advised
    assert plain.mandatory == []


def _admitted(stack: Stack) -> list[str]:
    value = stack.named("azure-native:apimanagement:ApiPolicy", "-apim-policy")["value"]
    token = ET.fromstring(value).find("inbound/validate-azure-ad-token")
    assert token is not None
    return [e.text or "" for e in token.findall("client-application-ids/application-id")]


def test_the_gateway_admits_the_scans_by_client_id_when_it_names_clients(
    recording: Recording,
) -> None:
    # Without gateway_client_ids, any application of the tenant is admitted: so is the scan.
    assert _admitted(run(recording, spec())) == []
    named = run(recording, spec(), AzureMLArgs(gateway_client_ids=["11111111-2222"]))
    client_id = named.output(IDENTITY, "-id-red-team", "clientId")
    assert _admitted(named) == ["11111111-2222", client_id]


def test_a_given_subnet_is_used_as_is(recording: Recording) -> None:
    subnet = (
        "/subscriptions/0/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/hub/"
        "subnets/scans"
    )
    given = run(
        recording,
        spec(),
        AzureMLArgs(
            subnet_id=subnet.replace("scans", "pe"),
            gateway_subnet_id=subnet.replace("scans", "apim"),
            red_team_subnet_id=subnet,
        ),
    )
    assert not given.all(SUBNET)
    config = given.named(ENVIRONMENT, "-cae-red-team")["vnetConfiguration"]
    assert config["infrastructureSubnetId"] == subnet


# -- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "args", "path", "text"),
    [
        ({"targets": ["gateway", "model"]}, {}, "security.red_team.targets", REFUSE_MODEL),
        (
            {"image": "registry.example.com/garak@sha256:" + "a" * 64},
            {},
            "security.red_team.image",
            f"not in this stack's registry {REGISTRY}",
        ),
        (
            {"image": "othercr123.azurecr.io/garak@sha256:" + "a" * 64},
            {},
            "security.red_team.image",
            f"not in this stack's registry {REGISTRY}",
        ),
        (
            {"weekly_schedule": "every sunday"},
            {},
            "security.red_team.weekly_schedule",
            "not a five-field cron schedule",
        ),
        (
            {},
            {
                "subnet_id": "/subscriptions/0/resourceGroups/n/providers/Microsoft.Network/"
                "virtualNetworks/v/subnets/pe",
                "gateway_subnet_id": "/subscriptions/0/resourceGroups/n/providers/"
                "Microsoft.Network/virtualNetworks/v/subnets/apim",
            },
            "inferstack:azureml.red_team_subnet_id",
            "needs a subnet of its own",
        ),
    ],
)
def test_bad_scans_are_refused_with_one_line(
    changes: dict[str, Any], args: dict[str, Any], path: str, text: str
) -> None:
    # Outside a Pulumi program: the refusal comes before any resource registers.
    with pytest.raises(SpecError) as caught:
        OnlineEndpoint("bot", spec(**changes), args=AzureMLArgs(**args), region=REGION)
    assert caught.value.path == path
    assert text in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("name", ["bot", "a-very-long-deployment-name-for-support"])
def test_names_fit_azure_rules(name: str) -> None:
    parsed = parse_deployment({**spec(), "name": name})
    hardware = validate_for_target(parsed, "azureml", REGION)
    plan = build_plan(parsed, hardware, AzureMLArgs(), name=name, region=REGION)
    # Storage accounts: 3-24 lowercase letters and digits, unique: the plan's token ends it.
    account = report_account_name(plan)
    assert re.fullmatch(r"[a-z0-9]{3,24}", account) and account != plan.storage_name
    assert account.endswith(plan.storage_name[-6:])
    assert re.fullmatch(r"[a-z][a-z0-9-]{0,30}[a-z0-9]", environment_name(name))
    # Container Apps jobs: 2-32 lowercase letters, digits and hyphens, from a letter.
    for tier in ("nightly", "weekly"):
        job = job_name(name, tier)
        assert re.fullmatch(r"[a-z][a-z0-9-]{0,30}[a-z0-9]", job), job


def test_red_team_applies_on_azureml() -> None:
    parsed = DeploymentSpec.model_validate(
        {"name": "bot", "model": {"id": LLAMA}, "security": {"red_team": {"image": IMAGE}}}
    )
    check_applicable(parsed, "azureml")

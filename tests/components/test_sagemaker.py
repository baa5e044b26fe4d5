"""SageMakerEndpoint: the inputs every child gets, with a defaults-only spec and a full spec."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import pytest
from captured import Captured

from inferstack import catalog
from inferstack.aws import SageMakerEndpoint
from inferstack.deployment import parse_deployment, validate_for_target
from inferstack.deployment.targets import budget_usd
from inferstack.errors import SpecError
from inferstack.preview import CapturedResource

Recording = Callable[..., list[CapturedResource]]

REGION = "eu-central-1"
COMPONENT = "inferstack:aws:SageMakerEndpoint"
STACK = "pulumi:pulumi:Stack"
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
WEIGHTS = "s3://acme-models/meta-llama/Llama-3.1-8B-Instruct/0e9e39f/"
DEFAULTS: dict[str, Any] = {"name": "bot", "model": {"id": LLAMA}}
FULL: dict[str, Any] = {
    "name": "support-bot",
    "environment": "prod",
    "model": {"id": LLAMA, "source": WEIGHTS, "dtype": "bf16", "max_context": 8192},
    "serving": {
        "runtime": "tgi",
        "max_concurrency": 16,
        "gpu_memory_utilization": 0.9,
        "extra_args": ["--max-batch-size", "32"],
    },
    "compute": {"instance_type": "ml.g5.12xlarge"},
    "scaling": {
        "min_replicas": 2,
        "max_replicas": 6,
        "target": {"metric": "concurrency", "value": 6},
        "scale_out_cooldown_seconds": 45,
        "scale_in_cooldown_seconds": 900,
    },
    "security": {
        "network": {"allowed_cidrs": ["10.20.0.0/16"]},
        "rate_limit": {"requests_per_second": 15, "burst": 30},
        "max_request_bytes": 32768,
    },
    "observability": {"log_retention_days": 2192, "alarms": {"email": "oncall@example.com"}},
    "compliance": {
        "frameworks": ["hipaa", "gdpr"],
        "phi": True,
        "data_capture": {"enabled": True, "sampling_percentage": 15, "retention_days": 45},
    },
    "cost": {"monthly_budget_usd": 25000},
    "tags": {"team": "ml-platform", "cost-center": "llm-42"},
}
ASYNC: dict[str, Any] = {
    "name": "batch-bot",
    "model": {"id": LLAMA, "source": WEIGHTS, "max_context": 8192},
    "serving": {"runtime": "lmi", "mode": "async", "max_concurrency": 8},
    # Async payloads come from S3: no gateway screens them (security.guard refuses it).
    "security": {"guard": {"input": False, "output": "off"}},
    "compute": {"instance_type": "ml.g6e.2xlarge"},
    "scaling": {
        "min_replicas": 0,
        "max_replicas": 3,
        "scale_to_zero": True,
        "target": {"metric": "queue_depth", "value": 4},
    },
    "observability": {"alarms": {"enabled": True}},
}
# Taggable children: every one of these must carry the merged tags.
TAGGABLE = {
    "aws:kms/key:Key",
    "aws:s3/bucket:Bucket",
    "aws:iam/role:Role",
    "aws:iam/policy:Policy",
    "aws:sagemaker/model:Model",
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
    "aws:sagemaker/endpoint:Endpoint",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:sns/topic:Topic",
    "aws:budgets/budget:Budget",
    "aws:appautoscaling/target:Target",
    "aws:ec2/vpc:Vpc",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:apigateway/restApi:RestApi",
    "aws:apigateway/stage:Stage",
    "aws:wafv2/webAcl:WebAcl",
}
_RUNS: dict[str, list[CapturedResource]] = {}


class Stack(Captured):
    """What one program registered, looked up by type token."""

    @property
    def component(self) -> CapturedResource:
        (component,) = self.all(COMPONENT)
        return component

    def children(self) -> list[CapturedResource]:
        return [r for r in self.resources if r.type not in (STACK, COMPONENT)]


def run(
    recording: Recording, spec: dict[str, Any], *, preview: bool = True, **kwargs: Any
) -> Stack:
    key = json.dumps([spec, preview, kwargs], sort_keys=True)
    if key not in _RUNS:
        _RUNS[key] = recording(
            lambda: SageMakerEndpoint(spec["name"], spec, **kwargs),
            preview=preview,
            config={"aws:region": REGION},
        )
    return Stack(_RUNS[key])


def document(value: Any) -> dict[str, Any]:
    assert isinstance(value, str), f"policy is not JSON text: {value!r}"
    parsed: dict[str, Any] = json.loads(value)
    return parsed


def statements(value: Any) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in document(value)["Statement"]}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def with_changes(base: dict[str, Any], **sections: Any) -> dict[str, Any]:
    return {**base, **sections}


# -- structure -------------------------------------------------------------------------------


@pytest.mark.parametrize("preview", [True, False])
@pytest.mark.parametrize("which", ["defaults", "full", "async"])
def test_every_child_is_parented_to_the_component(
    recording: Recording, which: str, preview: bool
) -> None:
    spec = {"defaults": DEFAULTS, "full": FULL, "async": ASYNC}[which]
    kwargs = {"front_door": True} if which == "full" else {}
    stack = run(recording, spec, preview=preview, **kwargs)
    assert stack.component.name == spec["name"]
    children = stack.children()
    assert len(children) > 30
    for child in children:
        assert child.parent == stack.component.urn, child.urn
        assert child.name.startswith(f"{spec['name']}-"), child.name


@pytest.mark.parametrize("preview", [True, False])
def test_tags_are_merged_on_every_taggable_child(recording: Recording, preview: bool) -> None:
    stack = run(recording, FULL, preview=preview, front_door=True)
    expected = {
        "app.kubernetes.io/managed-by": "inferstack",
        "inferstack/deployment": "support-bot",
        "inferstack/environment": "prod",
        "team": "ml-platform",
        "cost-center": "llm-42",
    }
    tagged = [r for r in stack.children() if r.type in TAGGABLE]
    assert {r.type for r in tagged} == TAGGABLE
    for child in tagged:
        tags = child.inputs["tags"]
        assert {k: tags[k] for k in expected} == expected, child.name


def test_regional_children_name_the_region(recording: Recording) -> None:
    stack = run(recording, FULL, preview=False, front_door=True)
    global_types = {"aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy"}
    global_types.add("aws:budgets/budget:Budget")
    for child in stack.children():
        if child.type not in global_types:
            assert child.inputs.get("region") == REGION, child.name


def test_update_mode_gives_the_same_inputs_as_preview(recording: Recording) -> None:
    previewed = run(recording, FULL, preview=True, front_door=True)
    updated = run(recording, FULL, preview=False, front_door=True)
    assert [r.urn for r in previewed.resources] != []
    assert {r.urn for r in previewed.resources} == {r.urn for r in updated.resources}
    # Every policy document but those naming ids AWS assigns at deploy (the VPC this stack
    # creates, the front door's API id) is complete before deploy: both modes agree.
    deploy_time = (
        "-api-callers-policy",
        "-network-policy",
        "-gateway-interfaces",
        "-gateway-guardrail-policy",
    )
    for token in ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy"):
        # By name: the mocks register resources concurrently, in no fixed order.
        before = {r.name: r for r in previewed.all(token) if not r.name.endswith(deploy_time)}
        after = {r.name: r for r in updated.all(token) if not r.name.endswith(deploy_time)}
        assert before and before.keys() == after.keys()
        for name, resource in before.items():
            assert resource.inputs["policy"] == after[name].inputs["policy"], name


def test_outputs(recording: Recording) -> None:
    seen: dict[str, Any] = {}

    def program() -> None:
        endpoint = SageMakerEndpoint("support-bot", FULL, front_door=True)
        for key, output in endpoint.outputs().items():
            output.apply(functools.partial(seen.__setitem__, key))

    recording(program, preview=False, config={"aws:region": REGION})
    assert set(seen) == {
        "endpoint_name",
        "endpoint_arn",
        "role_arn",
        "kms_key_arn",
        "bucket_name",
        "log_group_name",
        "invoke_policy_arn",
        "front_door_url",
        "front_door_invoke_policy_arn",
        "gateway_function_name",
        "gateway_arn",
        "gateway_role_arn",
        "guardrail_id",
        "guardrail_version",
    }
    assert seen["endpoint_name"] == "support-bot"
    assert seen["endpoint_arn"].startswith("arn:aws:sagemaker:eu-central-1:")
    assert seen["kms_key_arn"].startswith("arn:aws:kms:eu-central-1:")
    assert seen["role_arn"].startswith("arn:aws:iam::")
    assert seen["log_group_name"] == "/aws/sagemaker/Endpoints/support-bot"
    assert seen["front_door_url"].endswith("/invocations")
    assert seen["bucket_name"].startswith("support-bot-artifacts-eu-central-1-")


def test_children_use_the_given_provider(recording: Recording) -> None:
    def program() -> None:
        import pulumi
        import pulumi_aws as aws

        provider = aws.Provider("frankfurt", region=REGION)
        SageMakerEndpoint("bot", DEFAULTS, pulumi.ResourceOptions(providers=[provider]))

    resources = recording(program, config={"aws:region": REGION})
    (provider,) = [r for r in resources if r.type == "pulumi:providers:aws"]
    children = [r for r in resources if r.custom and r.type.startswith("aws:")]
    assert children
    for child in children:
        assert child.provider_urn == provider.urn, child.urn


# -- encryption ------------------------------------------------------------------------------


def test_created_key_rotates_and_names_its_users(recording: Recording) -> None:
    stack = run(recording, FULL, preview=True, front_door=True)
    key = stack.one("aws:kms/key:Key")
    assert key["enableKeyRotation"] is True
    assert key["rotationPeriodInDays"] == 365
    assert key["deletionWindowInDays"] == 30
    policy = statements(key["policy"])
    role = stack.one("aws:iam/role:Role", "support-bot-execution-role")["name"]
    gateway = stack.one("aws:iam/role:Role", "support-bot-gateway-role")["name"]
    assert policy["UseByDeploymentRoles"]["Principal"]["AWS"] == [
        f"arn:aws:iam::123456789012:role/{role}",
        f"arn:aws:iam::123456789012:role/{gateway}",
    ]
    assert policy["AdministerKey"]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    assert "kms:Decrypt" not in policy["AdministerKey"]["Action"]
    via = policy["UseThroughDeploymentServices"]["Condition"]["StringEquals"]
    assert via["kms:ViaService"] == [
        "sagemaker.eu-central-1.amazonaws.com",
        "s3.eu-central-1.amazonaws.com",
        "sns.eu-central-1.amazonaws.com",
        "lambda.eu-central-1.amazonaws.com",
        "bedrock.eu-central-1.amazonaws.com",
    ]
    logs = policy["EncryptDeploymentLogs"]
    assert logs["Principal"] == {"Service": "logs.eu-central-1.amazonaws.com"}
    assert logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"] == [
        "arn:aws:logs:eu-central-1:123456789012:log-group:/aws/sagemaker/Endpoints/support-bot",
        "arn:aws:logs:eu-central-1:123456789012:log-group:/aws/lambda/support-bot-gateway",
        "arn:aws:logs:eu-central-1:123456789012:log-group:/aws/apigateway/support-bot",
        "arn:aws:logs:eu-central-1:123456789012:log-group:aws-waf-logs-support-bot",
    ]
    assert stack.one("aws:kms/alias:Alias")["name"] == "alias/inferstack/support-bot"


def test_the_key_encrypts_everything_at_rest(recording: Recording) -> None:
    stack = run(recording, FULL, preview=False, front_door=True)
    key = stack.all("aws:kms/key:Key")[0]
    arn = key.outputs["arn"]
    # ml.g5.12xlarge has local NVMe storage, encrypted in hardware: SageMaker refuses a key there.
    assert "kmsKeyArn" not in stack.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    for group in stack.all("aws:cloudwatch/logGroup:LogGroup"):
        assert group.inputs["kmsKeyId"] == arn, group.name
    for topic in stack.all("aws:sns/topic:Topic"):
        assert topic.inputs["kmsMasterKeyId"] == arn, topic.name
    for config in stack.all(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ):
        (rule,) = config.inputs["rules"]
        assert rule["applyServerSideEncryptionByDefault"] == {
            "sseAlgorithm": "aws:kms",
            "kmsMasterKeyId": arn,
        }
        assert rule["bucketKeyEnabled"] is True


def test_existing_key_is_used_and_not_created(recording: Recording) -> None:
    arn = "arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    spec = with_changes(FULL, security={"encryption": {"kms_key": arn}})
    stack = run(recording, spec, preview=True)
    assert stack.all("aws:kms/key:Key") == []
    assert stack.all("aws:kms/alias:Alias") == []
    config = stack.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    assert config["dataCaptureConfig"]["kmsKeyId"] == arn
    assert stack.named("aws:cloudwatch/logGroup:LogGroup", "-bot-logs")["kmsKeyId"] == arn
    grants = statements(stack.named("aws:iam/rolePolicy:RolePolicy", "-execution-policy")["policy"])
    assert grants["UseDeploymentKey"]["Resource"] == arn


def test_a_key_alias_is_refused() -> None:
    spec = with_changes(DEFAULTS, security={"encryption": {"kms_key": "alias/llm"}})
    with pytest.raises(SpecError) as caught:
        SageMakerEndpoint("bot", spec, region=REGION)
    assert caught.value.path == "security.encryption.kms_key"


# -- buckets ---------------------------------------------------------------------------------


def _bucket_children(stack: Stack, kind: str) -> dict[str, dict[str, Any]]:
    return {
        r.type.rsplit(":", 1)[-1]: r.inputs
        for r in stack.children()
        if r.name.startswith(f"support-bot-{kind}-")
    }


@pytest.mark.parametrize("kind", ["artifacts", "access-logs"])
def test_buckets_are_versioned_private_and_tls_only(recording: Recording, kind: str) -> None:
    stack = run(recording, FULL, preview=True, front_door=True)
    parts = _bucket_children(stack, kind)
    assert parts["BucketVersioning"]["versioningConfiguration"] == {"status": "Enabled"}
    block = parts["BucketPublicAccessBlock"]
    for flag in (
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ):
        assert block[flag] is True
    assert parts["BucketOwnershipControls"]["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    policy = statements(parts["BucketPolicy"]["policy"])
    insecure = policy["DenyInsecureTransport"]
    assert insecure["Effect"] == "Deny"
    assert insecure["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert policy["DenyOutdatedTls"]["Condition"] == {"NumericLessThan": {"s3:TlsVersion": "1.2"}}
    assert policy["DenyNonKmsEncryption"]["Condition"]["StringNotEquals"] == {
        "s3:x-amz-server-side-encryption": ["aws:kms", "aws:kms:dsse"]
    }
    rules = {rule["id"]: rule for rule in parts["BucketLifecycleConfiguration"]["rules"]}
    noncurrent = rules["expire-noncurrent-versions"]
    assert noncurrent["noncurrentVersionExpiration"] == {"noncurrentDays": 30}
    assert noncurrent["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}


def test_artifact_access_is_logged_to_the_log_bucket(recording: Recording) -> None:
    stack = run(recording, FULL, preview=True, front_door=True)
    buckets = {r.name: r.inputs["bucket"] for r in stack.all("aws:s3/bucket:Bucket")}
    logging = stack.one("aws:s3/bucketLogging:BucketLogging")
    assert logging["targetPrefix"] == f"{buckets['support-bot-artifacts']}/"
    log_policy = statements(
        stack.one("aws:s3/bucketPolicy:BucketPolicy", "support-bot-access-logs-policy")["policy"]
    )
    delivery = log_policy["AllowServerAccessLogDelivery"]
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert delivery["Condition"]["ArnLike"]["aws:SourceArn"] == [
        f"arn:aws:s3:::{buckets['support-bot-artifacts']}"
    ]
    rules = {
        rule["id"]: rule
        for rule in stack.one(
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
            "support-bot-access-logs-lifecycle",
        )["rules"]
    }
    assert rules["expire-access-logs"]["expiration"] == {"days": 2192}


def test_captured_data_expires_after_its_retention(recording: Recording) -> None:
    stack = run(recording, FULL, preview=True, front_door=True)
    rules = {
        rule["id"]: rule
        for rule in stack.one(
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
            "support-bot-artifacts-lifecycle",
        )["rules"]
    }
    assert rules["expire-data-capture"]["filter"] == {"prefix": "capture/"}
    assert rules["expire-data-capture"]["expiration"] == {"days": 45}


def test_existing_artifact_bucket_is_used_and_not_created(recording: Recording) -> None:
    stack = run(recording, FULL, preview=True, artifact_bucket="acme-inference-data")
    assert stack.all("aws:s3/bucket:Bucket") == []
    config = stack.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    assert config["dataCaptureConfig"]["destinationS3Uri"] == "s3://acme-inference-data/capture/"
    grants = statements(stack.named("aws:iam/rolePolicy:RolePolicy", "-execution-policy")["policy"])
    assert grants["WriteResults"]["Resource"] == "arn:aws:s3:::acme-inference-data/capture/*"


# -- identity --------------------------------------------------------------------------------


def test_execution_role_is_assumed_by_sagemaker_only_and_has_no_managed_policies(
    recording: Recording,
) -> None:
    stack = run(recording, FULL, preview=True, front_door=True)
    role = stack.one("aws:iam/role:Role", "support-bot-execution-role")
    trust = document(role["assumeRolePolicy"])["Statement"]
    assert [(s["Effect"], s["Principal"], s["Action"]) for s in trust] == [
        ("Allow", {"Service": "sagemaker.amazonaws.com"}, "sts:AssumeRole")
    ]
    assert "managedPolicyArns" not in role
    assert "inlinePolicies" not in role
    assert stack.all("aws:iam/rolePolicyAttachment:RolePolicyAttachment") == []
    assert "FullAccess" not in json.dumps([r.inputs for r in stack.resources], default=str)


def test_execution_grants_name_their_resources(recording: Recording) -> None:
    stack = run(recording, FULL, preview=True, front_door=True)
    grants = statements(
        stack.one("aws:iam/rolePolicy:RolePolicy", "support-bot-execution-policy")["policy"]
    )
    image = catalog.sagemaker_image("tgi", REGION)
    repository = image.split("/", 1)[1].split(":", 1)[0]
    assert grants["PullServingImage"]["Resource"] == (
        f"arn:aws:ecr:eu-central-1:763104351884:repository/{repository}"
    )
    assert grants["ReadModelArtifacts"]["Resource"] == (
        "arn:aws:s3:::acme-models/meta-llama/Llama-3.1-8B-Instruct/0e9e39f/*"
    )
    assert grants["ListModelArtifacts"]["Condition"] == {
        "StringLike": {"s3:prefix": ["meta-llama/Llama-3.1-8B-Instruct/0e9e39f/*"]}
    }
    log_group = (
        "arn:aws:logs:eu-central-1:123456789012:log-group:/aws/sagemaker/Endpoints/support-bot"
    )
    assert grants["WriteOwnLogs"]["Resource"] == [log_group, f"{log_group}:log-stream:*"]
    assert grants["PublishOwnMetrics"]["Condition"] == {
        "StringLike": {"cloudwatch:namespace": "/aws/sagemaker/Endpoints*"}
    }
    # Network interfaces are granted apart, in the endpoint's subnets only.
    assert "ManageEndpointInterfaces" not in grants
    # The created key's policy already names the role; no second grant is needed.
    assert "UseDeploymentKey" not in grants
    # Resource "*" only where AWS has no resource-level permission.
    starred = {sid for sid, s in grants.items() if "*" in as_list(s["Resource"])}
    assert starred == {"GetRegistryToken", "PublishOwnMetrics"}


def test_network_interfaces_are_granted_in_the_created_subnets_only(
    recording: Recording,
) -> None:
    # The created VPC's id exists after deploy: the document is unknown at preview.
    previewed = run(recording, FULL, preview=True)
    policy = previewed.named("aws:iam/rolePolicy:RolePolicy", "-network-policy")["policy"]
    assert not isinstance(policy, str)
    stack = run(recording, FULL, preview=False)
    grants = statements(stack.named("aws:iam/rolePolicy:RolePolicy", "-network-policy")["policy"])
    # The subnets and group the stack creates carry the deployment's tag, which scopes them,
    # in the VPC the stack creates.
    tagged = {"aws:ResourceTag/inferstack/deployment": "support-bot"}
    vpc = grants["ManageEndpointInterfaces"]["Condition"]["ArnEquals"]["ec2:Vpc"]
    assert vpc.startswith("arn:aws:ec2:eu-central-1:123456789012:vpc/")
    assert grants["AttachToDeploymentNetwork"]["Condition"] == {
        "StringEquals": tagged,
        "ArnEquals": {"ec2:Vpc": vpc},
    }
    for subnet in stack.all("aws:ec2/subnet:Subnet"):
        assert subnet.inputs["tags"]["inferstack/deployment"] == "support-bot"
    group = stack.named("aws:ec2/securityGroup:SecurityGroup", "-endpoint-sg")
    assert group["tags"]["inferstack/deployment"] == "support-bot"


def test_existing_subnets_are_granted_exactly(recording: Recording) -> None:
    network = {
        "vpc_id": "vpc-0abc",
        "subnet_ids": ["subnet-0a", "subnet-0b"],
        "security_group_ids": ["sg-0c"],
    }
    stack = run(recording, with_changes(FULL, security={"network": network}), preview=True)
    grants = statements(stack.named("aws:iam/rolePolicy:RolePolicy", "-network-policy")["policy"])
    subnets = [
        "arn:aws:ec2:eu-central-1:123456789012:subnet/subnet-0a",
        "arn:aws:ec2:eu-central-1:123456789012:subnet/subnet-0b",
    ]
    # Known at preview: the subnets are yours, named in the stack config.
    assert grants["ManageEndpointInterfaces"]["Condition"] == {
        "ArnEquals": {
            "ec2:Subnet": subnets,
            "ec2:Vpc": "arn:aws:ec2:eu-central-1:123456789012:vpc/vpc-0abc",
        }
    }
    assert grants["AttachToEndpointSubnets"]["Resource"] == [
        *subnets,
        "arn:aws:ec2:eu-central-1:123456789012:security-group/sg-0c",
    ]


def test_invoke_policy_grants_only_this_endpoint(recording: Recording) -> None:
    stack = run(recording, FULL, preview=True, front_door=True)
    invoke = stack.named("aws:iam/policy:Policy", "-invoke-policy")
    assert invoke["path"] == "/inferstack/"
    grants = statements(invoke["policy"])
    # Callers reach the model through the guard gateway only; its role alone may invoke.
    assert "InvokeEndpoint" not in grants
    gateway = stack.one("aws:lambda/function:Function")["name"]
    assert grants["InvokeGateway"] == {
        "Sid": "InvokeGateway",
        "Effect": "Allow",
        "Action": "lambda:InvokeFunction",
        "Resource": f"arn:aws:lambda:eu-central-1:123456789012:function:{gateway}",
    }
    own = statements(stack.named("aws:iam/rolePolicy:RolePolicy", "-gateway-policy")["policy"])
    assert own["InvokeEndpoint"]["Resource"] == (
        "arn:aws:sagemaker:eu-central-1:123456789012:endpoint/support-bot"
    )
    assert "InvokeFrontDoor" not in grants
    # The front door has its own caller policy: this API's id, stage, method and path only.
    updated = run(recording, FULL, preview=False, front_door=True)
    door = statements(updated.named("aws:iam/policy:Policy", "-api-callers-policy")["policy"])
    api_id = updated.one("aws:apigateway/restApi:RestApi")
    assert door["InvokeFrontDoor"]["Action"] == "execute-api:Invoke"
    resource = door["InvokeFrontDoor"]["Resource"]
    assert resource.startswith("arn:aws:execute-api:eu-central-1:123456789012:")
    assert resource.endswith("/v1/POST/invocations")
    assert "*" not in resource and api_id is not None


# -- model -----------------------------------------------------------------------------------


def test_weights_from_s3_run_network_isolated_in_private_subnets(recording: Recording) -> None:
    stack = run(recording, FULL, preview=False, front_door=True)
    model = stack.one("aws:sagemaker/model:Model")
    assert model["enableNetworkIsolation"] is True
    container = model["primaryContainer"]
    assert container["modelDataSource"] == {
        "s3DataSources": [{"s3Uri": WEIGHTS, "s3DataType": "S3Prefix", "compressionType": "None"}]
    }
    assert container["environment"]["HF_MODEL_ID"] == "/opt/ml/model"
    assert container["environment"]["HF_HUB_OFFLINE"] == "1"
    subnets = {r.name: r for r in stack.all("aws:ec2/subnet:Subnet")}
    assert model["vpcConfig"]["subnets"] == ["support-bot-private-a", "support-bot-private-b"]
    assert model["vpcConfig"]["securityGroupIds"] == ["support-bot-endpoint-sg"]
    for subnet in subnets.values():
        assert subnet.inputs["mapPublicIpOnLaunch"] is False
    # No route to the internet at all: only the S3 gateway endpoint.
    assert stack.all("aws:ec2/natGateway:NatGateway") == []
    assert stack.all("aws:ec2/internetGateway:InternetGateway") == []
    endpoint = stack.named("aws:ec2/vpcEndpoint:VpcEndpoint", "-s3-endpoint")
    assert endpoint["serviceName"] == "com.amazonaws.eu-central-1.s3"
    assert endpoint["vpcEndpointType"] == "Gateway"


def test_the_security_group_admits_nothing(recording: Recording) -> None:
    for spec in (FULL, DEFAULTS):
        stack = run(recording, spec, preview=True)
        group = stack.named("aws:ec2/securityGroup:SecurityGroup", "-endpoint-sg")
        assert group["ingress"] == []
        assert [
            (rule["fromPort"], rule["toPort"], rule["protocol"]) for rule in group["egress"]
        ] == [(443, 443, "tcp")]
        default = stack.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
        assert default["ingress"] == [] and default["egress"] == []


def test_isolated_egress_reaches_only_the_s3_prefix_list(recording: Recording) -> None:
    stack = run(recording, FULL, preview=False, front_door=True)
    (egress,) = stack.named("aws:ec2/securityGroup:SecurityGroup", "-endpoint-sg")["egress"]
    assert "cidrBlocks" not in egress
    assert egress["prefixListIds"]


def test_hub_download_gets_a_nat_gateway_and_no_isolation(recording: Recording) -> None:
    stack = run(recording, DEFAULTS, preview=True)
    model = stack.one("aws:sagemaker/model:Model")
    assert model["enableNetworkIsolation"] is False
    assert model["primaryContainer"]["environment"]["HF_MODEL_ID"] == LLAMA
    assert "modelDataSource" not in model["primaryContainer"]
    assert len(stack.all("aws:ec2/natGateway:NatGateway")) == 1
    routes = stack.one("aws:ec2/routeTable:RouteTable", "bot-private-routes")["routes"]
    assert [route["cidrBlock"] for route in routes] == ["0.0.0.0/0"]
    (egress,) = stack.named("aws:ec2/securityGroup:SecurityGroup", "-endpoint-sg")["egress"]
    assert egress["cidrBlocks"] == ["0.0.0.0/0"]


def test_existing_subnets_get_a_security_group_in_their_vpc(recording: Recording) -> None:
    network = {"vpc_id": "vpc-0abc", "subnet_ids": ["subnet-0a", "subnet-0b"]}
    stack = run(recording, with_changes(FULL, security={"network": network}), preview=True)
    assert stack.all("aws:ec2/vpc:Vpc") == []
    group = stack.named("aws:ec2/securityGroup:SecurityGroup", "-endpoint-sg")
    assert group["vpcId"] == "vpc-0abc"
    assert group["ingress"] == []
    model = stack.one("aws:sagemaker/model:Model")
    assert model["vpcConfig"]["subnets"] == ["subnet-0a", "subnet-0b"]


def test_existing_security_groups_are_used_as_given(recording: Recording) -> None:
    network = {"subnet_ids": ["subnet-0a"], "security_group_ids": ["sg-0123"]}
    stack = run(recording, with_changes(FULL, security={"network": network}), preview=True)
    assert stack.all("aws:ec2/securityGroup:SecurityGroup") == []
    assert stack.one("aws:sagemaker/model:Model")["vpcConfig"]["securityGroupIds"] == ["sg-0123"]


def test_model_image_and_environment_follow_the_spec(recording: Recording) -> None:
    stack = run(recording, FULL, preview=True, front_door=True)
    container = stack.one("aws:sagemaker/model:Model")["primaryContainer"]
    assert container["image"] == catalog.sagemaker_image("tgi", REGION)
    env = container["environment"]
    gpus = catalog.instance_types("sagemaker")["ml.g5.12xlarge"].gpu_count
    assert env["SM_NUM_GPUS"] == str(gpus) == "4"
    assert env["MAX_TOTAL_TOKENS"] == "8192"
    assert int(env["MAX_INPUT_TOKENS"]) < 8192
    assert env["CUDA_MEMORY_FRACTION"] == "0.9"
    assert env["MAX_BATCH_SIZE"] == "32"
    assert env["DTYPE"] == "bfloat16"


def test_default_runtime_is_vllm_in_the_lmi_image(recording: Recording) -> None:
    stack = run(recording, DEFAULTS, preview=True)
    container = stack.one("aws:sagemaker/model:Model")["primaryContainer"]
    assert container["image"] == catalog.sagemaker_image("vllm", REGION)
    env = container["environment"]
    assert env["OPTION_ROLLING_BATCH"] == "vllm"
    assert env["OPTION_MAX_ROLLING_BATCH_SIZE"] == "16"
    assert env["OPTION_TENSOR_PARALLEL_DEGREE"] == env["SM_NUM_GPUS"]


def test_no_secret_value_reaches_the_model(recording: Recording) -> None:
    image = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/llm/vllm-hub:1.0@sha256:" + "a" * 64
    spec = with_changes(
        DEFAULTS,
        model={"id": LLAMA, "hf_token_secret": {"name": "hf-token", "key": "token"}},
        serving={"image": image},
    )
    stack = run(recording, spec, preview=True)
    env = stack.one("aws:sagemaker/model:Model")["primaryContainer"]["environment"]
    assert env["INFERSTACK_HF_TOKEN_SECRET_ID"] == "hf-token"
    assert env["INFERSTACK_HF_TOKEN_SECRET_KEY"] == "token"
    assert not {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"} & set(env)
    grants = statements(stack.named("aws:iam/rolePolicy:RolePolicy", "-execution-policy")["policy"])
    assert grants["ReadHubToken"] == {
        "Sid": "ReadHubToken",
        "Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": "arn:aws:secretsmanager:eu-central-1:123456789012:secret:hf-token-??????",
    }
    assert grants["PullServingImage"]["Resource"] == (
        "arn:aws:ecr:eu-central-1:123456789012:repository/llm/vllm-hub"
    )


# -- endpoint configuration and endpoint -----------------------------------------------------


def test_endpoint_configuration_sizes_the_variant(recording: Recording) -> None:
    stack = run(recording, FULL, preview=True, front_door=True)
    config = stack.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    (variant,) = config["productionVariants"]
    assert variant["instanceType"] == "ml.g5.12xlarge"
    assert variant["initialInstanceCount"] == 2
    assert variant["variantName"] == "primary"
    assert 60 <= variant["modelDataDownloadTimeoutInSeconds"] <= 3600
    assert 60 <= variant["containerStartupHealthCheckTimeoutInSeconds"] <= 3600
    assert "asyncInferenceConfig" not in config


def test_timeouts_grow_with_the_model(recording: Recording) -> None:
    small = run(recording, FULL, preview=True, front_door=True)
    big_model = {"id": "meta-llama/Llama-3.1-70B-Instruct", "source": WEIGHTS, "max_context": 8192}
    big = run(
        recording,
        with_changes(
            FULL,
            model=big_model,
            compute={"instance_type": "ml.p4de.24xlarge"},
            cost={"monthly_budget_usd": 100000},
        ),
        preview=True,
    )
    token = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
    (small_variant,) = small.one(token)["productionVariants"]
    (big_variant,) = big.one(token)["productionVariants"]
    for key in (
        "modelDataDownloadTimeoutInSeconds",
        "containerStartupHealthCheckTimeoutInSeconds",
    ):
        assert big_variant[key] > small_variant[key]


def test_data_capture_is_encrypted_sampled_and_prefixed(recording: Recording) -> None:
    stack = run(recording, FULL, preview=False, front_door=True)
    config = stack.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    capture = config["dataCaptureConfig"]
    bucket = stack.one("aws:s3/bucket:Bucket", "support-bot-artifacts")["bucket"]
    assert capture["enableCapture"] is True
    assert capture["initialSamplingPercentage"] == 15
    assert capture["destinationS3Uri"] == f"s3://{bucket}/capture/"
    assert capture["kmsKeyId"] == stack.all("aws:kms/key:Key")[0].outputs["arn"]
    assert [o["captureMode"] for o in capture["captureOptions"]] == ["Input", "Output"]


def test_no_data_capture_unless_asked(recording: Recording) -> None:
    stack = run(recording, DEFAULTS, preview=True)
    config = stack.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    assert "dataCaptureConfig" not in config


def test_endpoint_rolls_back_on_alarms(recording: Recording) -> None:
    stack = run(recording, FULL, preview=True, front_door=True)
    endpoint = stack.one("aws:sagemaker/endpoint:Endpoint")
    assert endpoint["name"] == "support-bot"
    deployment = endpoint["deploymentConfig"]
    assert deployment["rollingUpdatePolicy"]["maximumBatchSize"] == {
        "type": "INSTANCE_COUNT",
        "value": 1,
    }
    assert deployment["autoRollbackConfiguration"]["alarms"] == [
        {"alarmName": "support-bot-errors-5xx"},
        {"alarmName": "support-bot-model-latency"},
    ]


# -- autoscaling -----------------------------------------------------------------------------


def _tracking(stack: Stack) -> dict[str, Any]:
    policy = stack.one("aws:appautoscaling/policy:Policy", f"{stack.component.name}-scaling-policy")
    assert policy["policyType"] == "TargetTrackingScaling"
    assert policy["scalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    tracking: dict[str, Any] = policy["targetTrackingScalingPolicyConfiguration"]
    return tracking


def test_real_time_scales_on_concurrent_requests(recording: Recording) -> None:
    stack = run(recording, FULL, preview=False, front_door=True)
    target = stack.one("aws:appautoscaling/target:Target")
    assert target["resourceId"] == "endpoint/support-bot/variant/primary"
    assert (target["minCapacity"], target["maxCapacity"]) == (2, 6)
    tracking = _tracking(stack)
    assert tracking["predefinedMetricSpecification"] == {
        "predefinedMetricType": "SageMakerVariantConcurrentRequestsPerModelHighResolution"
    }
    assert tracking["targetValue"] == 6
    assert (tracking["scaleOutCooldown"], tracking["scaleInCooldown"]) == (45, 900)


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("invocations", {"predefinedMetricType": "SageMakerVariantInvocationsPerInstance"}),
        ("gpu_utilization", None),
    ],
)
def test_real_time_metric_choices(
    recording: Recording, metric: str, expected: dict[str, str] | None
) -> None:
    scaling = {"target": {"metric": metric, "value": 70}}
    stack = run(recording, with_changes(DEFAULTS, scaling=scaling), preview=True)
    tracking = _tracking(stack)
    if expected is not None:
        assert tracking["predefinedMetricSpecification"] == expected
    else:
        custom = tracking["customizedMetricSpecification"]
        assert custom["metricName"] == "GPUUtilization"
        assert custom["namespace"] == "/aws/sagemaker/Endpoints"
        assert {d["name"]: d["value"] for d in custom["dimensions"]} == {
            "EndpointName": "bot",
            "VariantName": "primary",
        }


def test_async_scales_on_backlog_from_zero(recording: Recording) -> None:
    stack = run(recording, ASYNC, preview=False)
    target = stack.one("aws:appautoscaling/target:Target")
    assert (target["minCapacity"], target["maxCapacity"]) == (0, 3)
    custom = _tracking(stack)["customizedMetricSpecification"]
    assert custom["metricName"] == "ApproximateBacklogSizePerInstance"
    assert custom["namespace"] == "AWS/SageMaker"
    assert custom["dimensions"] == [{"name": "EndpointName", "value": "batch-bot"}]
    step = stack.one("aws:appautoscaling/policy:Policy", "batch-bot-scale-from-zero")
    assert step["policyType"] == "StepScaling"
    assert step["stepScalingPolicyConfiguration"]["stepAdjustments"] == [
        {"metricIntervalLowerBound": "0", "scalingAdjustment": 1}
    ]
    wake = stack.one("aws:cloudwatch/metricAlarm:MetricAlarm", "batch-bot-backlog-without-capacity")
    assert wake["metricName"] == "HasBacklogWithoutCapacity"
    step_arn = [r for r in stack.all("aws:appautoscaling/policy:Policy") if r.name.endswith("zero")]
    assert wake["alarmActions"] == [step_arn[0].outputs["arn"]]
    # An async endpoint starts with one instance; autoscaling takes it to zero when idle.
    (variant,) = stack.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration")[
        "productionVariants"
    ]
    assert variant["initialInstanceCount"] == 1


def test_async_output_is_encrypted_and_notified(recording: Recording) -> None:
    stack = run(recording, ASYNC, preview=False)
    config = stack.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    bucket = stack.one("aws:s3/bucket:Bucket", "batch-bot-artifacts")["bucket"]
    output = config["asyncInferenceConfig"]["outputConfig"]
    key_arn = stack.all("aws:kms/key:Key")[0].outputs["arn"]
    assert output["s3OutputPath"] == f"s3://{bucket}/async-output/"
    assert output["s3FailurePath"] == f"s3://{bucket}/async-failure/"
    assert output["kmsKeyId"] == key_arn
    topics = {t.name: t for t in stack.all("aws:sns/topic:Topic")}
    assert output["notificationConfig"] == {
        "successTopic": "arn:aws:sns:eu-central-1:123456789012:batch-bot-async-success",
        "errorTopic": "arn:aws:sns:eu-central-1:123456789012:batch-bot-async-error",
    }
    (config_resource,) = stack.all("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    async_topics = [topics["batch-bot-async-success"], topics["batch-bot-async-error"]]
    assert {t.urn for t in async_topics} <= set(config_resource.dependencies)
    for topic in topics.values():
        assert topic.inputs["kmsMasterKeyId"] == key_arn
    assert config["asyncInferenceConfig"]["clientConfig"] == {
        "maxConcurrentInvocationsPerInstance": 8
    }
    grants = statements(stack.named("aws:iam/rolePolicy:RolePolicy", "-execution-policy")["policy"])
    assert grants["NotifyResults"]["Resource"] == [
        "arn:aws:sns:eu-central-1:123456789012:batch-bot-async-success",
        "arn:aws:sns:eu-central-1:123456789012:batch-bot-async-error",
    ]
    assert grants["ReadRequests"]["Resource"] == f"arn:aws:s3:::{bucket}/async-input/*"
    invoke = statements(stack.named("aws:iam/policy:Policy", "-invoke-policy")["policy"])
    assert invoke["InvokeEndpoint"]["Action"] == "sagemaker:InvokeEndpointAsync"
    assert invoke["EncryptPayloads"]["Condition"]["ForAnyValue:StringEquals"] == {
        "kms:ResourceAliases": "alias/inferstack/batch-bot"
    }


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"scaling": {"target": {"metric": "queue_depth"}}}, "scaling.target.metric"),
        (
            {
                "serving": {"mode": "async"},
                "scaling": {"target": {"metric": "invocations"}},
            },
            "scaling.target.metric",
        ),
    ],
)
def test_metric_that_does_not_fit_the_endpoint_type_is_refused(
    changes: dict[str, Any], path: str
) -> None:
    with pytest.raises(SpecError) as caught:
        SageMakerEndpoint("bot", with_changes(DEFAULTS, **changes), region=REGION)
    assert caught.value.path == path


# -- observability and cost ------------------------------------------------------------------


def test_log_group_is_the_endpoints_own_with_retention(recording: Recording) -> None:
    stack = run(recording, FULL, preview=True, front_door=True)
    group = stack.one("aws:cloudwatch/logGroup:LogGroup", "support-bot-logs")
    assert group["name"] == "/aws/sagemaker/Endpoints/support-bot"
    assert group["retentionInDays"] == 2192
    assert "kmsKeyId" in group


def test_alarms_go_to_an_encrypted_topic_that_emails_on_call(recording: Recording) -> None:
    stack = run(recording, FULL, preview=False, front_door=True)
    topic = stack.all("aws:sns/topic:Topic")[0]
    assert topic.name == "support-bot-alerts"
    assert "kmsMasterKeyId" in topic.inputs
    topic_arn = topic.outputs["arn"]
    subscription = stack.one("aws:sns/topicSubscription:TopicSubscription")
    assert (subscription["protocol"], subscription["endpoint"]) == ("email", "oncall@example.com")
    alarms = {
        a.inputs["metricName"]: a.inputs
        for a in stack.all("aws:cloudwatch/metricAlarm:MetricAlarm")
    }
    assert set(alarms) == {"Invocation5XXErrors", "ModelLatency", "GPUMemoryUtilization"}
    for alarm in alarms.values():
        assert alarm["alarmActions"] == [topic_arn]
        assert alarm["dimensions"] == {"EndpointName": "support-bot", "VariantName": "primary"}
    assert alarms["ModelLatency"]["extendedStatistic"] == "p90"
    # GPU memory is summed over the instance's 4 GPUs.
    assert alarms["GPUMemoryUtilization"]["threshold"] == 98 * 4
    assert alarms["GPUMemoryUtilization"]["namespace"] == "/aws/sagemaker/Endpoints"
    policy = statements(stack.one("aws:sns/topicPolicy:TopicPolicy")["policy"])
    assert policy["AllowAccountPublishers"]["Principal"]["Service"] == [
        "cloudwatch.amazonaws.com",
        "budgets.amazonaws.com",
    ]
    assert policy["DenyInsecureTransport"]["Effect"] == "Deny"


def test_async_endpoints_alarm_on_backlog(recording: Recording) -> None:
    stack = run(recording, ASYNC, preview=True)
    names = {a.inputs["metricName"] for a in stack.all("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert {"ApproximateBacklogSize", "HasBacklogWithoutCapacity"} <= names


def test_dev_defaults_have_no_alarms_but_a_budget_at_the_cost_of_max_replicas(
    recording: Recording,
) -> None:
    stack = run(recording, DEFAULTS, preview=True)
    assert stack.all("aws:cloudwatch/metricAlarm:MetricAlarm") == []
    budget = stack.one("aws:budgets/budget:Budget")
    spec = parse_deployment(DEFAULTS)
    expected = budget_usd(spec, validate_for_target(spec, "sagemaker", REGION))
    assert expected is not None
    assert float(budget["limitAmount"]) == expected
    # The budget notifies through the encrypted alert topic.
    assert len(stack.all("aws:sns/topic:Topic")) == 1


def test_budget_forecasts_at_80_and_100_percent(recording: Recording) -> None:
    stack = run(recording, FULL, preview=False, front_door=True)
    budget = stack.one("aws:budgets/budget:Budget")
    assert (budget["budgetType"], budget["timeUnit"]) == ("COST", "MONTHLY")
    assert (budget["limitAmount"], budget["limitUnit"]) == ("25000.00", "USD")
    assert budget["costFilters"] == [
        {"name": "TagKeyValue", "values": ["user:inferstack/deployment$support-bot"]}
    ]
    forecasts = [
        n["threshold"] for n in budget["notifications"] if n["notificationType"] == "FORECASTED"
    ]
    assert forecasts == [80, 100]
    topic_arn = stack.all("aws:sns/topic:Topic")[0].outputs["arn"]
    for notification in budget["notifications"]:
        assert notification["subscriberEmailAddresses"] == ["oncall@example.com"]
        assert notification["subscriberSnsTopicArns"] == [topic_arn]


# -- front door ------------------------------------------------------------------------------


def test_front_door_authenticates_throttles_and_logs(recording: Recording) -> None:
    stack = run(recording, FULL, preview=True, front_door=True)
    api = stack.one("aws:apigateway/restApi:RestApi")
    assert api["endpointConfiguration"] == {"types": "REGIONAL"}
    policy = statements(api["policy"])
    assert policy["DenyOutsideAllowedNetworks"]["Condition"] == {
        "NotIpAddress": {"aws:SourceIp": ["10.20.0.0/16"]}
    }
    assert policy["AllowAccountCallers"]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    method = stack.one("aws:apigateway/method:Method")
    assert (method["httpMethod"], method["authorization"]) == ("POST", "AWS_IAM")
    integration = stack.one("aws:apigateway/integration:Integration")
    # The front door calls the guard gateway, never the endpoint.
    assert integration["type"] == "AWS_PROXY"
    gateway = stack.one("aws:lambda/function:Function")
    updated = run(recording, FULL, preview=False, front_door=True)
    function = f"arn:aws:lambda:eu-central-1:123456789012:function:{gateway['name']}"
    assert updated.one("aws:apigateway/integration:Integration")["uri"] == (
        f"arn:aws:apigateway:eu-central-1:lambda:path/2015-03-31/functions/{function}/invocations"
    )
    stage = stack.one("aws:apigateway/stage:Stage")
    access_logs = stage["accessLogSettings"]
    assert "destinationArn" in access_logs
    assert "$context.requestId" in access_logs["format"]
    settings = stack.one("aws:apigateway/methodSettings:MethodSettings")
    assert settings["methodPath"] == "*/*"
    assert settings["settings"]["throttlingRateLimit"] == 15
    assert settings["settings"]["throttlingBurstLimit"] == 30
    assert settings["settings"]["dataTraceEnabled"] is False
    role = stack.one("aws:iam/role:Role", "support-bot-api-role")
    trust = document(role["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "apigateway.amazonaws.com"}
    role_grants = statements(
        stack.one("aws:iam/rolePolicy:RolePolicy", "support-bot-api-role-policy")["policy"]
    )
    assert role_grants == {
        "InvokeGateway": {
            "Sid": "InvokeGateway",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": f"arn:aws:lambda:eu-central-1:123456789012:function:{gateway['name']}",
        }
    }


def test_front_door_firewall_limits_rate_and_body_size(recording: Recording) -> None:
    stack = run(recording, FULL, preview=True, front_door=True)
    acl = stack.one("aws:wafv2/webAcl:WebAcl")
    assert acl["scope"] == "REGIONAL"
    rules = {rule["name"]: rule for rule in acl["rules"]}
    rate = rules["rate-per-client"]
    assert rate["action"] == {"block": {}}
    assert rate["statement"]["rateBasedStatement"]["limit"] == 15 * 60
    assert rate["statement"]["rateBasedStatement"]["evaluationWindowSec"] == 60
    size = rules["max-request-size"]["statement"]["sizeConstraintStatement"]
    assert (size["comparisonOperator"], size["size"]) == ("GT", 32768)
    assert size["fieldToMatch"] == {"body": {"oversizeHandling": "MATCH"}}
    assert acl["associationConfig"]["requestBodies"] == [
        {"apiGateway": {"defaultSizeInspectionLimit": "KB_64"}}
    ]
    # PHI never lands in WAF's sampled requests.
    assert rules["max-request-size"]["visibilityConfig"]["sampledRequestsEnabled"] is False
    association = stack.one("aws:wafv2/webAclAssociation:WebAclAssociation")
    assert "resourceArn" in association
    logging = stack.one("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration")
    assert {"singleHeader": {"name": "authorization"}} in logging["redactedFields"]


def test_api_key_auth_needs_the_front_door_and_gets_a_usage_plan(recording: Recording) -> None:
    spec = with_changes(DEFAULTS, security={"auth": "api_key"})
    with pytest.raises(SpecError) as caught:
        SageMakerEndpoint("bot", spec, region=REGION)
    assert caught.value.path == "security.auth"
    stack = run(recording, spec, preview=True, front_door=True)
    method = stack.one("aws:apigateway/method:Method")
    # The API key meters; a Cognito token with the invoke scope authenticates.
    assert (method["authorization"], method["apiKeyRequired"]) == ("COGNITO_USER_POOLS", True)
    assert method["authorizationScopes"] == ["inferstack/bot/invoke"]
    authorizer = stack.one("aws:apigateway/authorizer:Authorizer")
    assert authorizer["type"] == "COGNITO_USER_POOLS"
    assert authorizer["identitySource"] == "method.request.header.Authorization"
    client = stack.one("aws:cognito/userPoolClient:UserPoolClient")
    assert client["allowedOauthFlows"] == ["client_credentials"]
    assert client["generateSecret"] is True
    pool = stack.one("aws:cognito/userPool:UserPool")
    assert pool["adminCreateUserConfig"] == {"allowAdminCreateUserOnly": True}
    plan = stack.one("aws:apigateway/usagePlan:UsagePlan")
    assert plan["throttleSettings"] == {"rateLimit": 20, "burstLimit": 40}
    assert stack.one("aws:apigateway/apiKey:ApiKey")["enabled"] is True


def test_api_key_callers_are_admitted_by_network_only(recording: Recording) -> None:
    open_spec = with_changes(DEFAULTS, security={"auth": "api_key"})
    assert "policy" not in run(recording, open_spec, front_door=True).one(
        "aws:apigateway/restApi:RestApi"
    )
    network = {"public": True, "allowed_cidrs": ["203.0.113.0/24"]}
    narrowed = with_changes(DEFAULTS, security={"auth": "api_key", "network": network})
    api = run(recording, narrowed, front_door=True).one("aws:apigateway/restApi:RestApi")
    (allow,) = document(api["policy"])["Statement"]
    assert (allow["Effect"], allow["Principal"]) == ("Allow", "*")
    assert allow["Condition"] == {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24"]}}


def test_no_front_door_by_default(recording: Recording) -> None:
    stack = run(recording, DEFAULTS, preview=True)
    assert not [r for r in stack.resources if r.type.startswith(("aws:apigateway", "aws:wafv2"))]


# -- bad specs -------------------------------------------------------------------------------


def _ecr(region: str) -> str:
    return f"123456789012.dkr.ecr.{region}.amazonaws.com/llm/server:1.0@sha256:" + "c" * 64


@pytest.mark.parametrize(
    ("region", "changes", "path"),
    [
        (REGION, {"compute": {"spot": True}}, "compute.spot"),
        ("us-east-1", {"compliance": {"data_residency": ["eu"]}}, "compliance.data_residency"),
        ("us-east-1", {"compliance": {"frameworks": ["gdpr"]}}, "compliance.data_residency"),
        (REGION, {"model": {"id": LLAMA, "source": "pvc://models/llama"}}, "model.source"),
        (
            REGION,
            {"model": {"id": LLAMA, "hf_token_secret": {"name": "hf-token"}}},
            "model.hf_token_secret",
        ),
        (REGION, {"serving": {"image": "ghcr.io/acme/llm:1.0"}}, "serving.image"),
        (REGION, {"serving": {"image": _ecr("us-west-2")}}, "serving.image"),
        (REGION, {"security": {"network": {"vpc_id": "vpc-1"}}}, "security.network.subnet_ids"),
        (REGION, {"security": {"network": {"subnet_ids": ["s-1"]}}}, "security.network.vpc_id"),
        (
            REGION,
            {"security": {"network": {"security_group_ids": ["sg-1"]}}},
            "security.network.subnet_ids",
        ),
        (REGION, {"serving": {"extra_args": ["max-num-seqs"]}}, "serving.extra_args.0"),
    ],
)
def test_bad_spec_raises_before_any_resource(
    recording: Recording, region: str, changes: dict[str, Any], path: str
) -> None:
    errors: list[SpecError] = []

    def program() -> None:
        try:
            SageMakerEndpoint("bot", with_changes(DEFAULTS, **changes))
        except SpecError as exc:
            errors.append(exc)

    captured = recording(program, config={"aws:region": region})
    assert [e.path for e in errors] == [path]
    assert [r.type for r in captured if r.type != STACK] == []


def test_spot_error_names_the_cost_levers() -> None:
    with pytest.raises(SpecError) as caught:
        SageMakerEndpoint("bot", with_changes(DEFAULTS, compute={"spot": True}), region=REGION)
    message = str(caught.value)
    assert message.startswith("SageMakerEndpoint('bot') spec.compute.spot:")
    assert "async" in message and "scale_to_zero" in message


def test_region_is_required() -> None:
    with pytest.raises(SpecError) as caught:
        SageMakerEndpoint("bot", DEFAULTS)
    assert caught.value.path == "aws:region"


def test_front_door_is_for_real_time_endpoints() -> None:
    with pytest.raises(SpecError) as caught:
        SageMakerEndpoint("bot", ASYNC, region=REGION, front_door=True)
    assert caught.value.path == "serving.mode"


@pytest.mark.parametrize(
    ("instance_type", "keyed"), [("ml.p3.2xlarge", True), ("ml.g6e.2xlarge", False)]
)
def test_endpoint_volumes_take_the_key_unless_the_instance_storage_is_hardware_encrypted(
    recording: Recording, instance_type: str, keyed: bool
) -> None:
    # CreateEndpointConfig fails when KmsKeyId is given for instances with local NVMe storage.
    spec = {
        "name": "small-bot",
        "model": {"id": "meta-llama/Llama-3.2-3B-Instruct", "source": "s3://weights/llama-3b/"},
        "serving": {"max_concurrency": 4},
        "compute": {"instance_type": instance_type},
    }
    stack = run(recording, spec, preview=False)
    config = stack.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    if keyed:
        assert config["kmsKeyArn"] == stack.all("aws:kms/key:Key")[0].outputs["arn"]
    else:
        assert "kmsKeyArn" not in config


def test_stack_config_object_turns_the_front_door_on(recording: Recording) -> None:
    settings = json.dumps({"front_door": True, "async_retention_days": 7})
    spec = {"name": "door-bot", "model": {"id": LLAMA, "source": WEIGHTS}}
    captured = recording(
        lambda: SageMakerEndpoint("door-bot", spec),
        preview=True,
        config={"aws:region": REGION, "inferstack:aws": settings},
    )
    types = {resource.type for resource in captured}
    assert "aws:wafv2/webAcl:WebAcl" in types
    assert any(t.startswith("aws:apigateway") for t in types)


def test_stack_config_object_errors_name_the_key(recording: Recording) -> None:
    spec = {"name": "door-bot", "model": {"id": LLAMA, "source": WEIGHTS}}
    with pytest.raises(SpecError) as caught:
        recording(
            lambda: SageMakerEndpoint("door-bot", spec),
            config={"aws:region": REGION, "inferstack:aws": json.dumps({"frontdoor": True})},
        )
    assert str(caught.value).startswith("inferstack:aws.frontdoor: is not a known field")

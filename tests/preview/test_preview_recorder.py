"""Recording mocks: what the monitor captures in preview and in update mode."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from inferstack.errors import SpecError
from inferstack.preview import UNKNOWN, CapturedResource, Secret
from inferstack.preview.values import UNKNOWN_SENTINEL, struct_to_dict

Recording = Callable[..., list[CapturedResource]]


class Res(pulumi.CustomResource):
    """A resource of any provider by type token; the listed outputs are computed."""

    def __init__(
        self,
        token: str,
        name: str,
        props: dict[str, Any],
        opts: pulumi.ResourceOptions | None = None,
        outputs: tuple[str, ...] = ("arn",),
    ) -> None:
        super().__init__(token, name, {**props, **dict.fromkeys(outputs)}, opts)


class Stackish(pulumi.ComponentResource):
    def __init__(self, name: str) -> None:
        super().__init__("inferstack:test:Stackish", name)
        child = pulumi.ResourceOptions(parent=self)
        self.key = Res("aws:kms/key:Key", f"{name}-key", {"enableKeyRotation": True}, child)
        self.log = Res(
            "aws:cloudwatch/logGroup:LogGroup",
            f"{name}-logs",
            {"name": f"/inferstack/{name}", "kmsKeyId": self.key.arn, "retentionInDays": 365},
            pulumi.ResourceOptions(
                parent=self,
                depends_on=[self.key],
                protect=True,
                ignore_changes=["tags"],
                custom_timeouts=pulumi.CustomTimeouts(create="5m"),
            ),
        )
        self.register_outputs({})


def by_type(resources: list[CapturedResource], token: str) -> CapturedResource:
    [found] = [r for r in resources if r.type == token]
    return found


def test_preview_captures_parent_dependencies_and_unknowns(recording: Recording) -> None:
    resources = recording(lambda: Stackish("svc"), preview=True)

    stack = by_type(resources, "pulumi:pulumi:Stack")
    component = by_type(resources, "inferstack:test:Stackish")
    key = by_type(resources, "aws:kms/key:Key")
    logs = by_type(resources, "aws:cloudwatch/logGroup:LogGroup")
    assert stack.urn == "urn:pulumi:test::inferstack::pulumi:pulumi:Stack::inferstack-test"
    assert component.parent == stack.urn and not component.custom
    assert key.parent == component.urn and key.custom
    assert logs.urn.endswith("inferstack:test:Stackish$aws:cloudwatch/logGroup:LogGroup::svc-logs")
    assert key.urn in logs.dependencies
    assert logs.property_dependencies["kmsKeyId"] == (key.urn,)
    # The key's ARN is computed by the cloud: unknown in preview, on the wire and decoded.
    assert logs.inputs["kmsKeyId"] is UNKNOWN
    assert struct_to_dict(logs.struct)["kmsKeyId"] == UNKNOWN_SENTINEL
    # Numbers travel as floats.
    assert logs.inputs["retentionInDays"] == 365.0
    assert isinstance(logs.inputs["retentionInDays"], float)
    assert logs.protect and logs.ignore_changes == ("tags",)
    assert logs.custom_timeouts == ("5m", "", "")


def test_update_mode_returns_plausible_computed_outputs(recording: Recording) -> None:
    resources = recording(
        lambda: Stackish("svc"), preview=False, config={"aws:region": "eu-central-1"}
    )

    logs = by_type(resources, "aws:cloudwatch/logGroup:LogGroup")
    key_arn = logs.inputs["kmsKeyId"]
    assert key_arn.startswith("arn:aws:kms:eu-central-1:123456789012:key/")
    outputs = struct_to_dict(logs.outputs)
    assert outputs["arn"].startswith("arn:aws:logs:eu-central-1:123456789012:log-group:")
    assert outputs["retentionInDays"] == 365.0  # inputs come back as outputs too
    # In preview the computed ARN is absent from the state the monitor answers with.
    preview = by_type(recording(lambda: Stackish("svc")), "aws:cloudwatch/logGroup:LogGroup")
    assert "arn" not in struct_to_dict(preview.outputs)


def test_outputs_of_each_cloud_are_plausible(recording: Recording) -> None:
    seen: dict[str, Any] = {}

    def program() -> None:
        role = Res("aws:iam/role:Role", "role", {"name": "svc-role"})
        bucket = Res("aws:s3/bucketV2:BucketV2", "artifacts", {"bucket": "svc-art"})
        workspace = Res(
            "azure-native:machinelearningservices:Workspace",
            "ws",
            {"workspaceName": "svc-ws", "resourceGroupName": "rg-svc"},
            outputs=("id", "name"),
        )
        endpoint = Res(
            "gcp:vertex/aiEndpoint:AiEndpoint",
            "ep",
            {"name": "svc-ep", "location": "europe-west4"},
            outputs=("selfLink",),
        )
        namespace = Res(
            "kubernetes:core/v1:Namespace", "ns", {"metadata": {"name": "llm"}}, outputs=()
        )
        pulumi.Output.all(
            role.arn,
            bucket.arn,
            workspace.id,
            endpoint.selfLink,  # type: ignore[attr-defined]
            namespace.id,
        ).apply(lambda values: seen.update(values=values))

    recording(program, preview=False, config={"gcp:project": "acme-ml"})

    role_arn, bucket_arn, workspace_id, self_link, namespace_id = seen["values"]
    assert role_arn == "arn:aws:iam::123456789012:role/svc-role"
    assert bucket_arn == "arn:aws:s3:::svc-art"
    assert workspace_id == (
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-svc"
        "/providers/Microsoft.MachineLearningServices/workspaces/svc-ws"
    )
    assert self_link == (
        "https://vertex.googleapis.com/v1/projects/acme-ml/locations/europe-west4/aiEndpoints/svc-ep"
    )
    assert namespace_id == "llm"


def test_invokes_answer_like_the_providers(recording: Recording) -> None:
    seen: dict[str, Any] = {}

    def program() -> None:
        invoke = pulumi.runtime.invoke
        seen["caller"] = invoke("aws:index/getCallerIdentity:getCallerIdentity", {}).value
        seen["region"] = invoke("aws:index/getRegion:getRegion", {}).value
        seen["partition"] = invoke("aws:index/getPartition:getPartition", {}).value
        seen["client"] = invoke("azure-native:authorization:getClientConfig", {}).value
        seen["project"] = invoke("gcp:organizations/getProject:getProject", {}).value
        seen["policy"] = invoke(
            "aws:iam/getPolicyDocument:getPolicyDocument",
            {
                "statements": [
                    {
                        "actions": ["sts:AssumeRole"],
                        "principals": [
                            {"type": "Service", "identifiers": ["sagemaker.amazonaws.com"]}
                        ],
                    }
                ]
            },
        ).value
        seen["other"] = invoke("aws:ec2/getVpc:getVpc", {"default": True}).value

    recording(program, preview=True, config={"aws:region": "eu-west-1", "gcp:project": "p1"})

    assert seen["caller"]["accountId"] == "123456789012"
    assert seen["region"]["name"] == "eu-west-1"
    assert seen["partition"]["partition"] == "aws"
    assert seen["client"]["subscriptionId"] == "00000000-0000-0000-0000-000000000000"
    assert seen["project"]["projectId"] == "p1"
    assert json.loads(seen["policy"]["json"]) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
            }
        ],
    }
    assert seen["other"] == {}


def test_policy_documents_come_back_as_json_text_like_pulumi_aws(recording: Recording) -> None:
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*"}]}
    seen: dict[str, Any] = {}

    def program() -> None:
        role = Res("aws:iam/role:Role", "role", {"assumeRolePolicy": document})
        role.assumeRolePolicy.apply(lambda text: seen.update(text=text))  # type: ignore[attr-defined]

    [_, role] = recording(program, preview=False)

    assert json.loads(seen["text"]) == document
    assert role.inputs["assumeRolePolicy"] == document  # packs see what the program sent


def test_secrets_are_kept_as_secrets(recording: Recording) -> None:
    def program() -> None:
        Res("aws:secretsmanager/secret:Secret", "token", {"value": pulumi.Output.secret("hf_x")})

    [_, secret] = recording(program)

    assert secret.inputs["value"] == Secret("hf_x")
    assert "hf_x" not in repr(secret.inputs)


def test_runs_are_independent(recording: Recording) -> None:
    first = recording(lambda: Stackish("a"), stack="one")
    second = recording(lambda: Stackish("b"), stack="two")

    assert {r.name for r in first} == {"inferstack-one", "a", "a-key", "a-logs"}
    assert {r.name for r in second} == {"inferstack-two", "b", "b-key", "b-logs"}


def test_config_reaches_the_program(recording: Recording) -> None:
    seen: dict[str, Any] = {}

    def program() -> None:
        config = pulumi.Config("inferstack")
        seen["target"] = config.get("target")
        seen["deployment"] = config.get_object("deployment")

    recording(
        program,
        config={"inferstack:target": "onprem", "inferstack:deployment": '{"name": "x"}'},
    )

    assert seen == {"target": "onprem", "deployment": {"name": "x"}}


def test_program_errors_propagate_unwrapped(recording: Recording) -> None:
    def bad_spec() -> None:
        raise SpecError("compute.instance_type", "is not a SageMaker instance type", "use ml.*")

    def failing_apply() -> None:
        key = Res("aws:kms/key:Key", "key", {})
        Res("aws:s3/bucket:Bucket", "b", {"kmsKeyArn": key.arn.apply(_explode)})

    with pytest.raises(SpecError, match=r"inferstack:deployment\.compute\.instance_type"):
        recording(bad_spec)
    with pytest.raises(LookupError, match="no such key"):
        recording(failing_apply, preview=False)


def _explode(_: str) -> str:
    raise LookupError("no such key")


def test_sns_topic_arns_have_the_real_shape(recording: Recording) -> None:
    def program() -> None:
        Res("aws:sns/topic:Topic", "alerts", {"name": "ops-alerts"})

    resources = recording(program, preview=False, config={"aws:region": "eu-west-1"})
    topic = by_type(resources, "aws:sns/topic:Topic")
    assert struct_to_dict(topic.outputs)["arn"] == "arn:aws:sns:eu-west-1:123456789012:ops-alerts"

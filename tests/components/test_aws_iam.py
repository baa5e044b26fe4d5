"""Every policy document the AWS target writes (IAM, KMS, S3, SNS, API Gateway) is valid and narrow.

A document is checked for the grammar of the IAM policy language (Version, a Statement list,
Effect, Action/Resource/Principal shapes, Condition operators) and for breadth: no statement
allows ``*``, ``sagemaker:*``, ``s3:*``, ``kms:*`` or any whole-service wildcard, no Allow
has Principal ``*``, and ``Resource: "*"`` appears only for the actions AWS cannot scope.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from inferstack.aws import SageMakerEndpoint
from inferstack.aws.policies import (
    ExecutionGrants,
    KeyGrants,
    NetworkGrants,
    api_resource_policy,
    artifact_bucket_policy,
    assume_role,
    execution_policy,
    front_door_role_policy,
    invoke_policy,
    key_policy,
    log_bucket_policy,
    network_policy,
    topic_policy,
)
from inferstack.preview import CapturedResource

REGION = "eu-central-1"
ACCOUNT = "123456789012"
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
WEIGHTS = "s3://acme-models/llama-3.1-8b/"
IMAGE = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/llm/server:1.0@sha256:" + "d" * 64
SPECS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "defaults": ({"name": "bot", "model": {"id": LLAMA}}, {}),
    "full": (
        {
            "name": "support-bot",
            "environment": "prod",
            "model": {"id": LLAMA, "source": WEIGHTS, "max_context": 8192},
            "security": {"network": {"allowed_cidrs": ["10.0.0.0/8"]}},
            "observability": {"alarms": {"email": "oncall@example.com"}},
            "compliance": {"data_capture": {"enabled": True}},
            "cost": {"monthly_budget_usd": 20000},
        },
        {"front_door": True},
    ),
    "async": (
        {
            "name": "batch-bot",
            "model": {"id": LLAMA, "source": WEIGHTS, "max_context": 4096},
            "serving": {"mode": "async", "max_concurrency": 4},
            "security": {"guard": {"input": False, "output": "off"}},
            "compute": {"instance_type": "ml.g5.2xlarge"},
            "scaling": {"min_replicas": 0, "scale_to_zero": True},
        },
        {},
    ),
    "token-and-existing-key": (
        {
            "name": "hub-bot",
            "model": {"id": LLAMA, "hf_token_secret": {"name": "hf/token"}},
            "serving": {"image": IMAGE},
            "security": {
                "encryption": {
                    "kms_key": "arn:aws:kms:eu-central-1:123456789012:key/"
                    "1234abcd-12ab-34cd-56ef-1234567890ab"
                },
                "auth": "api_key",
                "network": {"vpc_id": "vpc-1", "subnet_ids": ["subnet-1", "subnet-2"]},
            },
        },
        {"front_door": True},
    ),
}
# Where each resource type keeps its policy documents, and what kind each one is.
DOCUMENT_FIELDS: dict[str, list[tuple[str, str]]] = {
    "aws:iam/role:Role": [("assumeRolePolicy", "trust")],
    "aws:iam/rolePolicy:RolePolicy": [("policy", "identity")],
    "aws:iam/policy:Policy": [("policy", "identity")],
    "aws:kms/key:Key": [("policy", "key")],
    "aws:s3/bucketPolicy:BucketPolicy": [("policy", "resource")],
    "aws:sns/topicPolicy:TopicPolicy": [("policy", "resource")],
    "aws:apigateway/restApi:RestApi": [("policy", "resource")],
}
STATEMENT_KEYS = {
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
}
CONDITION_OPERATORS = re.compile(
    r"^(ForAllValues:|ForAnyValue:)?"
    r"(StringEquals|StringNotEquals|StringLike|StringNotLike|ArnLike|ArnNotLike|ArnEquals|"
    r"NumericLessThan|NumericGreaterThan|NumericEquals|Bool|IpAddress|NotIpAddress|Null)"
    r"(IfExists)?$"
)
ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9*]+$")
RESOURCE = re.compile(
    r"^(\*|arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12}|\*)?:.+|execute-api:/.+)$"
)
PRINCIPAL_TYPES = {"AWS", "Service", "Federated"}
# Actions AWS does not scope to resources: "*" is the only Resource they can have.
UNSCOPED_ACTIONS = {
    "ecr:GetAuthorizationToken",
    "cloudwatch:PutMetricData",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeVpcs",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
}
FORBIDDEN_GRANTS = {"*", "sagemaker:*", "s3:*", "kms:*", "iam:*"}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def problems(document: Any, kind: str) -> list[str]:
    """Everything wrong with one policy document; empty when it is valid and narrow."""
    found: list[str] = []
    if not isinstance(document, dict) or set(document) - {"Version", "Statement", "Id"}:
        return [f"not a policy document: {document!r}"]
    if document.get("Version") != "2012-10-17":
        found.append(f"Version is {document.get('Version')!r}")
    statements = document.get("Statement")
    if not isinstance(statements, list) or not statements:
        return [*found, "Statement is not a non-empty list"]
    sids = [s.get("Sid") for s in statements if isinstance(s, dict) and "Sid" in s]
    if len(sids) != len(set(sids)):
        found.append(f"duplicate Sids {sids}")
    for index, statement in enumerate(statements):
        found += [f"Statement[{index}]: {p}" for p in _statement_problems(statement, kind)]
    return found


def _statement_problems(statement: Any, kind: str) -> Iterator[str]:
    if not isinstance(statement, dict):
        yield "not an object"
        return
    if set(statement) - STATEMENT_KEYS:
        yield f"unknown keys {set(statement) - STATEMENT_KEYS}"
    if "Sid" in statement and not re.fullmatch(r"[A-Za-z0-9]+", str(statement["Sid"])):
        yield f"Sid {statement['Sid']!r} is not alphanumeric"
    effect = statement.get("Effect")
    if effect not in ("Allow", "Deny"):
        yield f"Effect {effect!r}"
    if ("Action" in statement) == ("NotAction" in statement):
        yield "needs exactly one of Action / NotAction"
    actions = as_list(statement.get("Action", statement.get("NotAction", [])))
    for action in actions:
        if not isinstance(action, str) or not (action == "*" or ACTION.match(action)):
            yield f"action {action!r} is malformed"
    yield from _principal_problems(statement, kind)
    if kind != "trust":
        if ("Resource" in statement) == ("NotResource" in statement):
            yield "needs exactly one of Resource / NotResource"
        for resource in as_list(statement.get("Resource", statement.get("NotResource", []))):
            if not isinstance(resource, str) or not RESOURCE.match(resource):
                yield f"resource {resource!r} is malformed"
    condition = statement.get("Condition", {})
    if not isinstance(condition, dict):
        yield "Condition is not an object"
        condition = {}
    for operator, pairs in condition.items():
        if not CONDITION_OPERATORS.match(operator):
            yield f"unknown condition operator {operator!r}"
        if not isinstance(pairs, dict) or not pairs:
            yield f"condition {operator} has no keys"
            continue
        for key, value in pairs.items():
            if not all(isinstance(v, str) for v in as_list(value)):
                yield f"condition {operator} {key} values are not strings"
    if effect == "Allow":
        yield from _breadth_problems(statement, kind, actions)


def _principal_problems(statement: dict[str, Any], kind: str) -> Iterator[str]:
    principal = statement.get("Principal")
    if kind == "identity":
        if principal is not None:
            yield "identity policies take no Principal"
        return
    if principal is None:
        yield f"{kind} policies need a Principal"
    elif principal != "*" and (
        not isinstance(principal, dict) or set(principal) - PRINCIPAL_TYPES or not principal
    ):
        yield f"Principal {principal!r} is malformed"


def _breadth_problems(statement: dict[str, Any], kind: str, actions: list[Any]) -> Iterator[str]:
    if "NotAction" in statement or "NotResource" in statement:
        yield "Allow with NotAction / NotResource"
    broad = [a for a in actions if a in FORBIDDEN_GRANTS or str(a).endswith(":*")]
    if broad:
        yield f"allows wildcard actions {broad}"
    everyone = statement.get("Principal") == "*" or (
        isinstance(statement.get("Principal"), dict) and "*" in statement["Principal"].values()
    )
    # Everyone is acceptable only narrowed by a condition (the front door's allowed networks).
    if everyone and not statement.get("Condition"):
        yield "allows every principal"
    # In a key policy "*" means this key; elsewhere only unscoped actions may use it.
    if kind in ("identity", "resource") and "*" in as_list(statement.get("Resource")):
        needless = [a for a in actions if a not in UNSCOPED_ACTIONS and a != "ec2:Describe*"]
        if needless:
            yield f"grants {needless} on Resource '*'"


# Documents that name ids AWS assigns at deploy (the front door's API id): unknown at
# preview, judged by the packs at update.
# The callers' grant names the API id; the interfaces' grant the VPC the stack creates.
# The guardrail ARN and the created VPC id exist only after deploy.
DEPLOY_TIME = (
    "-api-callers-policy",
    "-network-policy",
    "-gateway-interfaces",
    "-gateway-guardrail-policy",
)


def deploy_time(resource: CapturedResource) -> bool:
    return resource.name.endswith(DEPLOY_TIME)


def documents(
    resources: list[CapturedResource], *, preview: bool = False
) -> Iterator[tuple[str, str, Any]]:
    for resource in resources:
        for field, kind in DOCUMENT_FIELDS.get(resource.type, []):
            if field in resource.inputs:
                value = resource.inputs[field]
                if preview and deploy_time(resource) and not isinstance(value, str):
                    continue
                assert isinstance(value, str), f"{resource.name}.{field} is not JSON text"
                yield f"{resource.name}.{field}", kind, json.loads(value)


def record_spec(name: str, *, preview: bool) -> list[CapturedResource]:
    from inferstack.preview import record

    spec, kwargs = SPECS[name]
    return record(
        lambda: SageMakerEndpoint(spec["name"], spec, **kwargs),
        preview=preview,
        config={"aws:region": REGION},
    )


@pytest.fixture(scope="module", params=sorted(SPECS))
def captured(request: pytest.FixtureRequest) -> list[CapturedResource]:
    return record_spec(request.param, preview=True)


@pytest.fixture(scope="module", params=sorted(SPECS))
def deployed(request: pytest.FixtureRequest) -> list[CapturedResource]:
    return record_spec(request.param, preview=False)


def test_every_document_the_stack_writes_is_valid_and_narrow(
    deployed: list[CapturedResource],
) -> None:
    found = list(documents(deployed))
    kinds = {kind for _, kind, _ in found}
    assert {"trust", "identity", "resource"} <= kinds
    for where, kind, document in found:
        assert problems(document, kind) == [], where


def test_documents_are_known_at_preview(captured: list[CapturedResource]) -> None:
    # Preview runs with every computed output unknown; only documents naming ids AWS assigns
    # at deploy may depend on one.
    for resource in captured:
        for field, _ in DOCUMENT_FIELDS.get(resource.type, []):
            if field in resource.inputs and not deploy_time(resource):
                assert isinstance(resource.inputs[field], str), f"{resource.name}.{field}"
    assert list(documents(captured, preview=True))


def test_network_interfaces_are_granted_in_the_endpoint_subnets_only(
    deployed: list[CapturedResource],
) -> None:
    [network] = [r for r in deployed if r.name.endswith("-network-policy")]
    sids = _sids(json.loads(network.inputs["policy"]))
    # Every grant of an interface names its subnets: by ARN, or by the deployment's tag.
    for sid in ("AttachToEndpointSubnets", "AttachToDeploymentNetwork"):
        if sid in sids:
            assert sids[sid]["Action"] == "ec2:CreateNetworkInterface"
    if "AttachToDeploymentNetwork" in sids:
        tag = sids["AttachToDeploymentNetwork"]["Condition"]["StringEquals"]
        assert list(tag) == ["aws:ResourceTag/inferstack/deployment"]
        within = sids["AttachToDeploymentNetwork"]["Condition"]["ArnEquals"]
        assert within["ec2:Vpc"].startswith("arn:aws:ec2:eu-central-1:")
    else:
        condition = sids["ManageEndpointInterfaces"]["Condition"]["ArnEquals"]
        assert condition["ec2:Subnet"] == as_list(sids["AttachToEndpointSubnets"]["Resource"])[:2]
    # Every interface action is conditioned on the deployment's VPC, given or created.
    vpc = sids["ManageEndpointInterfaces"]["Condition"]["ArnEquals"]["ec2:Vpc"]
    assert vpc.startswith("arn:aws:ec2:eu-central-1:") and ":vpc/" in vpc


def test_the_front_door_invoke_grant_names_its_api_and_stage(
    deployed: list[CapturedResource],
) -> None:
    invoke = [r for r in deployed if r.name.endswith("-api-callers-policy")]
    for resource in invoke:
        [grant] = json.loads(resource.inputs["policy"])["Statement"]
        resource_arn = grant["Resource"]
        assert re.match(
            r"^arn:aws:execute-api:[a-z0-9-]+:\d{12}:[^*/]+/v1/POST/invocations$", resource_arn
        ), resource_arn


def test_no_broad_managed_policy_is_attached(captured: list[CapturedResource]) -> None:
    attachments = [r for r in captured if "PolicyAttachment" in r.type]
    assert attachments == []
    for role in (r for r in captured if r.type == "aws:iam/role:Role"):
        assert "managedPolicyArns" not in role.inputs


# -- the checker itself catches what it should -----------------------------------------------

READ: dict[str, Any] = {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject"}
VALID: dict[str, Any] = {"Version": "2012-10-17", "Statement": [{**READ, "Resource": "*"}]}


@pytest.mark.parametrize(
    ("statement", "fragment"),
    [
        ({"Effect": "Permit"}, "Effect"),
        ({"Action": "s3:*"}, "wildcard actions"),
        ({"Action": "*"}, "wildcard actions"),
        ({"Action": ["kms:*"], "Resource": "arn:aws:kms:eu-central-1:123456789012:key/k"}, "kms"),
        ({"Action": "sagemaker:*"}, "wildcard"),
        ({"Action": "s3:GetObject"}, "on Resource '*'"),
        ({"Action": "get object"}, "malformed"),
        ({"Resource": "bucket/key"}, "malformed"),
        ({"Principal": {"AWS": "*"}}, "Principal"),
        ({"Condition": {"StringEqualz": {"a": "b"}}}, "operator"),
        ({"NotAction": "s3:GetObject"}, "exactly one of Action"),
        ({"Sid": "has space"}, "alphanumeric"),
    ],
)
def test_the_checker_rejects_bad_documents(statement: dict[str, Any], fragment: str) -> None:
    bad = {**READ, "Resource": "*", **statement}
    found = problems({"Version": "2012-10-17", "Statement": [bad]}, "identity")
    assert any(fragment in p for p in found), found


def test_the_checker_rejects_bad_document_shapes() -> None:
    assert problems({"Version": "2008-10-17", "Statement": VALID["Statement"]}, "identity")
    assert problems({"Version": "2012-10-17", "Statement": []}, "identity")
    assert problems({"Version": "2012-10-17", "Statement": {}}, "identity")
    assert problems({**VALID, "Statements": []}, "identity")
    ok = {"Sid": "A", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
    assert problems({"Version": "2012-10-17", "Statement": [ok]}, "identity") == []
    assert problems({"Version": "2012-10-17", "Statement": [ok, ok]}, "identity")


def test_allowing_everyone_needs_a_condition() -> None:
    allow = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "execute-api:Invoke",
        "Resource": "execute-api:/*",
    }
    found = problems({"Version": "2012-10-17", "Statement": [allow]}, "resource")
    assert "allows every principal" in "\n".join(found)
    narrowed = {**allow, "Condition": {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8"]}}}
    assert problems({"Version": "2012-10-17", "Statement": [narrowed]}, "resource") == []


def test_resource_policies_need_principals() -> None:
    statement = {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::b"}
    assert problems({"Version": "2012-10-17", "Statement": [statement]}, "resource")
    assert (
        problems(
            {"Version": "2012-10-17", "Statement": [{**statement, "Principal": "*"}]}, "resource"
        )
        == []
    )


# -- the builders, one by one ----------------------------------------------------------------

GRANTS = ExecutionGrants(
    repository_arn="arn:aws:ecr:eu-central-1:763104351884:repository/djl-inference",
    log_group_arn="arn:aws:logs:eu-central-1:123456789012:log-group:/aws/sagemaker/Endpoints/b",
)


def _sids(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in document["Statement"]}


def test_minimal_execution_policy_has_only_the_platform_grants() -> None:
    document = execution_policy(GRANTS)
    assert problems(document, "identity") == []
    assert set(_sids(document)) == {
        "PullServingImage",
        "GetRegistryToken",
        "CreateOwnLogGroup",
        "WriteOwnLogs",
        "PublishOwnMetrics",
    }


def test_full_execution_policy_grants_each_resource_once() -> None:
    grants = ExecutionGrants(
        repository_arn=GRANTS.repository_arn,
        log_group_arn=GRANTS.log_group_arn,
        key_arn="arn:aws:kms:eu-central-1:123456789012:key/k",
        model_bucket_arn="arn:aws:s3:::models",
        model_key="llama/model.tar.gz",
        bucket_arn="arn:aws:s3:::artifacts",
        read_prefixes=("async-input/",),
        write_prefixes=("capture/", "async-output/"),
        topic_arns=("arn:aws:sns:eu-central-1:123456789012:t",),
        secret_arn="arn:aws:secretsmanager:eu-central-1:123456789012:secret:hf-??????",
    )
    document = execution_policy(grants)
    assert problems(document, "identity") == []
    sids = _sids(document)
    # A compressed artifact is one object: no listing needed.
    assert sids["ReadModelArtifact"]["Resource"] == "arn:aws:s3:::models/llama/model.tar.gz"
    assert "ListModelArtifacts" not in sids
    assert sids["WriteResults"]["Resource"] == [
        "arn:aws:s3:::artifacts/capture/*",
        "arn:aws:s3:::artifacts/async-output/*",
    ]
    assert sids["ReadHubToken"]["Action"] == "secretsmanager:GetSecretValue"
    assert sids["UseDeploymentKey"]["Resource"] == "arn:aws:kms:eu-central-1:123456789012:key/k"


def test_resource_documents_are_valid() -> None:
    key = key_policy(
        KeyGrants(
            account=ACCOUNT,
            partition="aws",
            role_arns=("arn:aws:iam::123456789012:role/r",),
            log_group_arns=("arn:aws:logs:eu-central-1:123456789012:log-group:g",),
            logs_service="logs.eu-central-1.amazonaws.com",
            via_services=("sagemaker.eu-central-1.amazonaws.com",),
        )
    )
    assert problems(key, "key") == []
    admin = _sids(key)["AdministerKey"]["Action"]
    assert "kms:*" not in admin and "kms:Decrypt" not in admin
    for document in (
        artifact_bucket_policy("arn:aws:s3:::a"),
        log_bucket_policy("arn:aws:s3:::l", ["arn:aws:s3:::a"], ACCOUNT),
        topic_policy(
            "arn:aws:sns:eu-central-1:123456789012:t", ACCOUNT, ["cloudwatch.amazonaws.com"]
        ),
        topic_policy("arn:aws:sns:eu-central-1:123456789012:t", ACCOUNT),
        api_resource_policy("execute-api:/*", "arn:aws:iam::123456789012:root", ["10.0.0.0/8"]),
        api_resource_policy("execute-api:/*", "", ["10.0.0.0/8"], signed=False),
    ):
        assert document is not None
        assert problems(document, "resource") == []
    assert problems(assume_role("sagemaker.amazonaws.com"), "trust") == []
    network = network_policy(
        NetworkGrants(
            account_pattern="arn:aws:ec2:eu-central-1:123456789012",
            subnet_arns=("arn:aws:ec2:eu-central-1:123456789012:subnet/s-1",),
            security_group_arns=("arn:aws:ec2:eu-central-1:123456789012:security-group/sg-1",),
            vpc_arn="arn:aws:ec2:eu-central-1:123456789012:vpc/vpc-1",
        )
    )
    assert problems(network, "identity") == []
    assert _sids(network)["ManageEndpointInterfaces"]["Condition"] == {
        "ArnEquals": {
            "ec2:Subnet": ["arn:aws:ec2:eu-central-1:123456789012:subnet/s-1"],
            "ec2:Vpc": "arn:aws:ec2:eu-central-1:123456789012:vpc/vpc-1",
        }
    }
    created = network_policy(
        NetworkGrants(
            account_pattern="arn:aws:ec2:eu-central-1:123456789012",
            tag=("inferstack/deployment", "bot"),
        )
    )
    assert problems(created, "identity") == []
    assert _sids(created)["AttachToDeploymentNetwork"] == {
        "Sid": "AttachToDeploymentNetwork",
        "Effect": "Allow",
        "Action": "ec2:CreateNetworkInterface",
        "Resource": [
            "arn:aws:ec2:eu-central-1:123456789012:subnet/*",
            "arn:aws:ec2:eu-central-1:123456789012:security-group/*",
        ],
        "Condition": {"StringEquals": {"aws:ResourceTag/inferstack/deployment": "bot"}},
    }
    publishers = _sids(key)["PublishToEncryptedTopics"]
    assert publishers["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    endpoint = "arn:aws:sagemaker:eu-central-1:123456789012:endpoint/b"
    gateway = "arn:aws:lambda:eu-central-1:123456789012:function:b-gateway"
    assert problems(front_door_role_policy(gateway), "identity") == []
    assert problems(invoke_policy(endpoint, is_async=False, gateway_arn=gateway), "identity") == []
    assert problems(invoke_policy(endpoint, is_async=False), "identity") == []


def test_async_invoke_policy_reaches_only_the_payload_prefixes() -> None:
    document = invoke_policy(
        "arn:aws:sagemaker:eu-central-1:123456789012:endpoint/b",
        is_async=True,
        bucket_arn="arn:aws:s3:::a",
        key_arn="arn:aws:kms:eu-central-1:123456789012:key/*",
        key_alias="alias/inferstack/b",
        s3_service="s3.eu-central-1.amazonaws.com",
    )
    assert problems(document, "identity") == []
    sids = _sids(document)
    assert sids["UploadRequests"]["Resource"] == "arn:aws:s3:::a/async-input/*"
    assert sids["ReadResults"]["Resource"] == [
        "arn:aws:s3:::a/async-output/*",
        "arn:aws:s3:::a/async-failure/*",
    ]
    assert sids["EncryptPayloads"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "s3.eu-central-1.amazonaws.com"},
        "ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/inferstack/b"},
    }

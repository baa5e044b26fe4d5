"""pulumi-aws imitated: ARNs, physical names and ids, tags, and the invokes components use."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from inferstack.preview.providers.common import ProviderMocks, _kebab, _token_parts, _uuid
from inferstack.preview.values import UNKNOWN_SENTINEL

ACCOUNT_ID = "123456789012"


class AwsMocks(ProviderMocks):
    def _aws(self, token: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        module, kind = _token_parts(token)
        service = module.split("/", 1)[0]
        region = str(inputs.get("region") or self.config.get("aws:region") or "us-east-1")
        inputs = provider_normalized(token, inputs)
        physical = str(inputs.get("name") or inputs.get("bucket") or name)
        resource_id = physical
        if service == "kms" and kind == "Key":
            resource_id = _uuid(token, name)
            arn = f"arn:aws:kms:{region}:{ACCOUNT_ID}:key/{resource_id}"
            inputs.setdefault("keyId", resource_id)
        elif service == "iam":
            arn = f"arn:aws:iam::{ACCOUNT_ID}:{_kebab(kind)}/{physical}"
        elif service == "s3":
            arn = f"arn:aws:s3:::{physical}"
            inputs.setdefault("bucket", physical)
        elif service == "cloudwatch" and kind == "LogGroup":
            arn = f"arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:{physical}"
        elif service == "sns" and kind == "Topic":
            # Topics have no resource-type segment: arn:aws:sns:<region>:<account>:<name>.
            arn = f"arn:aws:sns:{region}:{ACCOUNT_ID}:{physical}"
            resource_id = arn  # a topic's id is its ARN
        elif service == "lambda" and kind == "Function":
            arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{physical}"
            inputs.setdefault(
                "invokeArn",
                f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations",
            )
        elif service == "ecs" and kind == "TaskDefinition":
            # Task definitions are named by family and numbered: the first revision is 1.
            physical = str(inputs.get("family") or name)
            base = f"arn:aws:ecs:{region}:{ACCOUNT_ID}:task-definition/{physical}"
            arn = f"{base}:1"
            resource_id = physical
            inputs.setdefault("arnWithoutRevision", base)
            inputs.setdefault("revision", 1)
        elif service == "scheduler" and kind == "Schedule":
            group = str(inputs.get("groupName") or "default")
            arn = f"arn:aws:scheduler:{region}:{ACCOUNT_ID}:schedule/{group}/{physical}"
            resource_id = f"{group}/{physical}"
            inputs.setdefault("groupName", group)
        elif service == "bedrock" and kind == "Guardrail":
            resource_id = _uuid(token, name).replace("-", "")[:12]
            arn = f"arn:aws:bedrock:{region}:{ACCOUNT_ID}:guardrail/{resource_id}"
            inputs.setdefault("guardrailArn", arn)
            inputs.setdefault("guardrailId", resource_id)
            inputs.setdefault("version", "DRAFT")
        elif service == "bedrock" and kind == "GuardrailVersion":
            arn = f"{inputs.get('guardrailArn')}"
            inputs.setdefault("version", "1")
        else:
            arn = f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{_kebab(kind)}/{physical}"
        inputs.setdefault("arn", arn)
        inputs.setdefault("name", physical)
        if "tags" in inputs:
            inputs.setdefault("tagsAll", inputs["tags"])
        return resource_id, inputs

    new_resource = _aws

    def call(self, token: str, args: Mapping[str, Any]) -> dict[str, Any] | None:
        region = self.config.get("aws:region", "us-east-1")
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/preview",
                "userId": "AIDAPREVIEW",
                "id": ACCOUNT_ID,
            }
        if token == "aws:index/getRegion:getRegion":
            return {
                "name": region,
                "region": region,
                "id": region,
                "endpoint": f"ec2.{region}.amazonaws.com",
                "description": region,
            }
        if token == "aws:index/getPartition:getPartition":
            return {
                "partition": "aws",
                "id": "aws",
                "dnsSuffix": "amazonaws.com",
                "reverseDnsPrefix": "com.amazonaws",
            }
        if token == "aws:iam/getPolicyDocument:getPolicyDocument":
            document = _policy_document(args)
            return {
                "json": json.dumps(document, indent=2),
                "minifiedJson": json.dumps(document, separators=(",", ":")),
                "id": "policy",
            }
        return None

    def normalized(self, token: str, state: dict[str, Any]) -> dict[str, Any]:
        return provider_normalized(token, state)


def provider_normalized(token: str, state: dict[str, Any]) -> dict[str, Any]:
    """Outputs as the provider returns them where it reshapes an input.

    pulumi-aws accepts an IAM policy document as an object but returns it as JSON text (its
    output type is a string); a document holding an unknown value is unknown as a whole.
    """
    if not token.startswith("aws:"):
        return state
    normalized = dict(state)
    for key, value in state.items():
        if isinstance(value, dict) and "Statement" in value:
            unknown = UNKNOWN_SENTINEL in json.dumps(value)
            normalized[key] = UNKNOWN_SENTINEL if unknown else json.dumps(value)
    return normalized


def _policy_document(args: Mapping[str, Any]) -> dict[str, Any]:
    statements = []
    for given in args.get("statements") or []:
        statement: dict[str, Any] = {}
        if given.get("sid"):
            statement["Sid"] = given["sid"]
        statement["Effect"] = given.get("effect") or "Allow"
        for key, wire in (
            ("actions", "Action"),
            ("notActions", "NotAction"),
            ("resources", "Resource"),
            ("notResources", "NotResource"),
        ):
            if given.get(key):
                statement[wire] = _one_or_many(given[key])
        for key, wire in (("principals", "Principal"), ("notPrincipals", "NotPrincipal")):
            if given.get(key):
                statement[wire] = {
                    p["type"]: _one_or_many(p.get("identifiers") or []) for p in given[key]
                }
        if given.get("conditions"):
            condition: dict[str, dict[str, Any]] = {}
            for item in given["conditions"]:
                condition.setdefault(item["test"], {})[item["variable"]] = _one_or_many(
                    item.get("values") or []
                )
            statement["Condition"] = condition
        statements.append(statement)
    return {"Version": args.get("version") or "2012-10-17", "Statement": statements}


def _one_or_many(values: list[Any]) -> Any:
    return values[0] if len(values) == 1 else list(values)

"""Recording mocks: every resource the program registers, captured at the monitor.

Capturing in ``RegisterResource`` (rather than in ``Mocks.new_resource``) keeps what the SDK put
on the wire: the property Struct with unknown sentinels during preview, the parent, the
dependencies and the per-property dependencies.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import json
import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import struct_pb2
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks
from pulumi.runtime.proto import resource_pb2

from inferstack.preview.values import (
    UNKNOWN_SENTINEL,
    dict_to_struct,
    engine_struct,
    plain,
    struct_to_dict,
)

ACCOUNT_ID = "123456789012"
SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000000"
TENANT_ID = "00000000-0000-0000-0000-000000000001"
STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass(frozen=True)
class CapturedResource:
    """One ``RegisterResource`` request as the program sent it."""

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    dependencies: tuple[str, ...]
    property_dependencies: Mapping[str, tuple[str, ...]]
    inputs: dict[str, Any]
    struct: struct_pb2.Struct
    provider: str | None = None
    protect: bool = False
    ignore_changes: tuple[str, ...] = ()
    additional_secret_outputs: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    delete_before_replace: bool | None = None
    custom_timeouts: tuple[str, str, str] | None = None
    # What the monitor answered: the resource's state after "creation" (inputs plus computed
    # outputs on update; inputs with unknowns on preview). Packs see it in AnalyzeStack.
    outputs: struct_pb2.Struct = field(default_factory=struct_pb2.Struct)

    @functools.cached_property
    def engine_properties(self) -> struct_pb2.Struct:
        """The inputs as the engine sends them to policy packs (computed once for all packs)."""
        return engine_struct(self.struct)

    @functools.cached_property
    def engine_outputs(self) -> struct_pb2.Struct:
        """The final state as AnalyzeStack sends it: outputs for custom resources."""
        return engine_struct(self.outputs if self.custom else self.struct)

    @property
    def provider_urn(self) -> str | None:
        """The URN part of the provider reference (``urn::id``)."""
        if not self.provider:
            return None
        return self.provider.rsplit("::", 1)[0]

    @property
    def is_provider(self) -> bool:
        return self.type.startswith("pulumi:providers:")


def capture(urn: str, request: Any, outputs: struct_pb2.Struct) -> CapturedResource:
    timeouts = None
    if request.HasField("customTimeouts"):
        t = request.customTimeouts
        timeouts = (t.create, t.update, t.delete)
    inputs = plain(struct_to_dict(request.object))
    return CapturedResource(
        urn=urn,
        type=request.type,
        name=request.name,
        parent=request.parent or None,
        custom=bool(request.custom),
        dependencies=tuple(request.dependencies),
        property_dependencies={
            key: tuple(deps.urns) for key, deps in request.propertyDependencies.items()
        },
        inputs=inputs,
        struct=_copy(request.object),
        provider=request.provider or None,
        protect=bool(request.protect),
        ignore_changes=tuple(request.ignoreChanges),
        additional_secret_outputs=tuple(request.additionalSecretOutputs),
        aliases=tuple(request.aliasURNs),
        delete_before_replace=(
            bool(request.deleteBeforeReplace) if request.deleteBeforeReplaceDefined else None
        ),
        custom_timeouts=timeouts,
        outputs=_copy(outputs),
    )


def _copy(struct: struct_pb2.Struct) -> struct_pb2.Struct:
    copied = struct_pb2.Struct()
    copied.CopyFrom(struct)
    return copied


class RecordingMonitor(MockMonitor):
    """A MockMonitor that keeps every registration, in the order the SDK sent them."""

    def __init__(self, mocks: Mocks, *, preview: bool) -> None:
        super().__init__(mocks)
        self.preview = preview
        self.captured: list[CapturedResource] = []
        self._lock = threading.Lock()
        self._thread_loops: list[asyncio.AbstractEventLoop] = []

    def _ensure_thread_loop(self) -> None:
        # The SDK calls the monitor from executor threads and gives each thread its own event
        # loop; creating them here lets close() shut them instead of leaving them to the GC.
        try:
            asyncio.get_event_loop_policy().get_event_loop()
        except RuntimeError:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            with self._lock:
                self._thread_loops.append(loop)

    def close(self) -> None:
        """Close the event loops the executor threads used; call once the run is over."""
        with self._lock:
            loops, self._thread_loops = self._thread_loops, []
        for loop in loops:
            loop.close()

    def Invoke(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        self._ensure_thread_loop()
        return super().Invoke(request)  # type: ignore[no-untyped-call]

    def ReadResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        self._ensure_thread_loop()
        return super().ReadResource(request)  # type: ignore[no-untyped-call]

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        self._ensure_thread_loop()
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == STACK_TYPE:
            response = resource_pb2.RegisterResourceResponse(urn=urn)
        elif self.preview:
            # What the engine answers for a create during preview: the inputs back, no id, and
            # every output the provider would compute left unknown.
            state = provider_normalized(request.type, struct_to_dict(request.object))
            response = resource_pb2.RegisterResourceResponse(
                urn=urn, id="", object=dict_to_struct(state)
            )
            self.resources[urn] = MockMonitor.ResourceRegistration(urn, "", {})
        else:
            response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        with self._lock:
            self.captured.append(capture(urn, request, response.object))
        return response


class InferstackMocks(Mocks):
    """Plausible computed outputs and invoke results for the clouds inferstack targets."""

    def __init__(self, config: Mapping[str, str] | None = None) -> None:
        self.config = dict(config or {})

    # -- resources ---------------------------------------------------------------------------

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        token = args.typ
        if token.startswith("pulumi:providers:"):
            return _uuid(token, args.name), inputs
        package = token.split(":", 1)[0]
        if package == "aws":
            return self._aws(token, args.name, inputs)
        if package == "kubernetes":
            return _kubernetes(args.name, inputs)
        if package == "azure-native":
            return self._azure(token, args.name, inputs)
        if package == "gcp":
            return self._gcp(token, args.name, inputs)
        return f"{args.name}-id", inputs

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
        else:
            arn = f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{_kebab(kind)}/{physical}"
        inputs.setdefault("arn", arn)
        inputs.setdefault("name", physical)
        if "tags" in inputs:
            inputs.setdefault("tagsAll", inputs["tags"])
        return resource_id, inputs

    def _azure(self, token: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        module, kind = _token_parts(token)
        physical = str(_azure_name(kind, inputs) or name)
        base = f"/subscriptions/{SUBSCRIPTION_ID}"
        group = f"{base}/resourceGroups/{inputs.get('resourceGroupName', 'rg')}"
        plural = kind[0].lower() + kind[1:] + "s"
        path = _AZURE_PATHS.get((module, kind), f"Microsoft.{module}/{plural}/{{name}}")
        fields = {k: str(v) for k, v in inputs.items() if isinstance(v, str | int | float)}
        known = collections.defaultdict(lambda: "unknown", {**fields, "name": physical})
        resource_id = f"{group}/providers/" + path.format_map(known)
        inputs = _azure_identities(inputs)
        properties = dict(inputs.get("properties") or {})
        if module == "resources" and kind == "ResourceGroup":
            resource_id = f"{base}/resourceGroups/{physical}"
        elif module == "keyvault" and kind == "Key":
            vault = inputs.get("vaultName", "vault")
            resource_id = f"{group}/providers/Microsoft.KeyVault/vaults/{vault}/keys/{physical}"
            uri = f"https://{vault}.vault.azure.net/keys/{physical}"
            inputs.setdefault("keyUri", uri)
            inputs.setdefault("keyUriWithVersion", f"{uri}/{_uuid(token, name).replace('-', '')}")
        elif module == "keyvault" and kind == "Vault":
            inputs["properties"] = {
                "vaultUri": f"https://{physical}.vault.azure.net/",
                **properties,
            }
        elif module == "containerregistry" and kind == "Registry":
            inputs.setdefault("loginServer", f"{physical}.azurecr.io")
        elif module == "machinelearningservices" and kind == "OnlineEndpoint":
            host = f"{physical}.{inputs.get('location', 'westeurope')}.inference.ml.azure.com"
            inputs["properties"] = {"scoringUri": f"https://{host}/score", **properties}
        elif module == "machinelearningservices" and kind == "Workspace":
            inputs.setdefault("workspaceId", _uuid(resource_id, "workspace"))
        elif module == "managedidentity" and kind == "UserAssignedIdentity":
            inputs.setdefault("principalId", _uuid(resource_id, "principal"))
            inputs.setdefault("clientId", _uuid(resource_id, "client"))
            inputs.setdefault("tenantId", TENANT_ID)
        inputs.setdefault("id", resource_id)
        inputs.setdefault("name", physical)
        return resource_id, inputs

    def _gcp(self, token: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        module, kind = _token_parts(token)
        service = module.split("/", 1)[0]
        project = str(inputs.get("project") or self.config.get("gcp:project") or "mock-project")
        location = str(
            inputs.get("region")
            or inputs.get("location")
            or self.config.get("gcp:region")
            or "us-central1"
        )
        physical = str(inputs.get("name") or name)
        plural = kind[0].lower() + kind[1:] + "s"
        resource_id = f"projects/{project}/locations/{location}/{plural}/{physical}"
        inputs.setdefault("id", resource_id)
        inputs.setdefault("name", physical)
        inputs.setdefault("project", project)
        inputs.setdefault("selfLink", f"https://{service}.googleapis.com/v1/{resource_id}")
        return resource_id, inputs

    # -- invokes -----------------------------------------------------------------------------

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        token = args.token
        region = self.config.get("aws:region", "us-east-1")
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/preview",
                "userId": "AIDAPREVIEW",
                "id": ACCOUNT_ID,
            }, []
        if token == "aws:index/getRegion:getRegion":
            return {
                "name": region,
                "region": region,
                "id": region,
                "endpoint": f"ec2.{region}.amazonaws.com",
                "description": region,
            }, []
        if token == "aws:index/getPartition:getPartition":
            return {
                "partition": "aws",
                "id": "aws",
                "dnsSuffix": "amazonaws.com",
                "reverseDnsPrefix": "com.amazonaws",
            }, []
        if token == "aws:iam/getPolicyDocument:getPolicyDocument":
            document = _policy_document(args.args)
            return {
                "json": json.dumps(document, indent=2),
                "minifiedJson": json.dumps(document, separators=(",", ":")),
                "id": "policy",
            }, []
        if token == "gcp:organizations/getProject:getProject":
            project = str(args.args.get("projectId") or self.config.get("gcp:project", "mock"))
            return {
                "projectId": project,
                "number": "123456789012",
                "name": project,
                "id": f"projects/{project}",
            }, []
        if token == "azure-native:authorization:getClientConfig":
            return {
                "clientId": "00000000-0000-0000-0000-000000000002",
                "objectId": "00000000-0000-0000-0000-000000000003",
                "subscriptionId": SUBSCRIPTION_ID,
                "tenantId": TENANT_ID,
            }, []
        return {}, []


def provider_normalized(token: str, state: dict[str, Any]) -> dict[str, Any]:
    """Outputs as the provider returns them where it reshapes an input.

    pulumi-aws accepts an IAM policy document as an object but returns it as JSON text (its
    output type is a string); a document holding an unknown value is unknown as a whole.
    """
    if token.startswith("azure-native:"):
        return _azure_identities(state)
    if not token.startswith("aws:"):
        return state
    normalized = dict(state)
    for key, value in state.items():
        if isinstance(value, dict) and "Statement" in value:
            unknown = UNKNOWN_SENTINEL in json.dumps(value)
            normalized[key] = UNKNOWN_SENTINEL if unknown else json.dumps(value)
    return normalized


def _kubernetes(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    metadata = dict(inputs.get("metadata") or {})
    metadata.setdefault("name", name)
    metadata.setdefault("uid", _uuid(str(inputs.get("kind", "")), str(metadata["name"])))
    inputs["metadata"] = metadata
    namespace = metadata.get("namespace")
    resource_id = f"{namespace}/{metadata['name']}" if namespace else str(metadata["name"])
    return resource_id, inputs


# ARM paths of the azure-native resources inferstack registers, for plausible mock ids.
_AZURE_PATHS: dict[tuple[str, str], str] = {
    ("containerregistry", "Registry"): "Microsoft.ContainerRegistry/registries/{name}",
    ("storage", "StorageAccount"): "Microsoft.Storage/storageAccounts/{name}",
    ("storage", "BlobContainer"): (
        "Microsoft.Storage/storageAccounts/{accountName}/blobServices/default/containers/{name}"
    ),
    ("keyvault", "Vault"): "Microsoft.KeyVault/vaults/{name}",
    ("managedidentity", "UserAssignedIdentity"): (
        "Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
    ),
    ("operationalinsights", "Workspace"): "Microsoft.OperationalInsights/workspaces/{name}",
    ("applicationinsights", "Component"): "Microsoft.Insights/components/{name}",
    ("machinelearningservices", "Workspace"): "Microsoft.MachineLearningServices/workspaces/{name}",
    ("machinelearningservices", "OnlineEndpoint"): (
        "Microsoft.MachineLearningServices/workspaces/{workspaceName}/onlineEndpoints/{name}"
    ),
    ("machinelearningservices", "OnlineDeployment"): (
        "Microsoft.MachineLearningServices/workspaces/{workspaceName}/onlineEndpoints/"
        "{endpointName}/deployments/{name}"
    ),
    ("machinelearningservices", "ModelVersion"): (
        "Microsoft.MachineLearningServices/workspaces/{workspaceName}/models/{name}/versions/"
        "{version}"
    ),
    ("machinelearningservices", "EnvironmentVersion"): (
        "Microsoft.MachineLearningServices/workspaces/{workspaceName}/environments/{name}/"
        "versions/{version}"
    ),
    ("network", "VirtualNetwork"): "Microsoft.Network/virtualNetworks/{name}",
    ("network", "Subnet"): "Microsoft.Network/virtualNetworks/{virtualNetworkName}/subnets/{name}",
    ("network", "PrivateEndpoint"): "Microsoft.Network/privateEndpoints/{name}",
    ("privatedns", "PrivateZone"): "Microsoft.Network/privateDnsZones/{name}",
    ("monitor", "ActionGroup"): "Microsoft.Insights/actionGroups/{name}",
}


def _azure_identities(state: dict[str, Any]) -> dict[str, Any]:
    """azure-native takes user-assigned identities as a list of ids and returns a map of
    id -> {principalId, clientId}; an unknown id stays unknown."""
    identity = state.get("identity")
    if not isinstance(identity, dict) or not isinstance(
        identity.get("userAssignedIdentities"), list
    ):
        return state
    ids = identity["userAssignedIdentities"]
    if any(not isinstance(uai, str) or uai == UNKNOWN_SENTINEL for uai in ids):
        mapped: Any = UNKNOWN_SENTINEL
    else:
        mapped = {
            uai: {"principalId": _uuid(uai, "principal"), "clientId": _uuid(uai, "client")}
            for uai in ids
        }
    return {**state, "identity": {**identity, "userAssignedIdentities": mapped}}


def _azure_name(kind: str, inputs: Mapping[str, Any]) -> Any:
    own = kind[0].lower() + kind[1:] + "Name"
    if own in inputs:
        return inputs[own]
    if "name" in inputs:
        return inputs["name"]
    for key, value in inputs.items():  # BlobContainer -> containerName
        if key.endswith("Name") and kind.lower().endswith(key[:-4].lower()) and key[:-4]:
            return value
    for key, value in inputs.items():
        if key.endswith("Name") and key != "resourceGroupName" and isinstance(value, str):
            return value
    return None


def _token_parts(token: str) -> tuple[str, str]:
    parts = token.split(":")
    return (parts[1], parts[2]) if len(parts) == 3 else ("index", parts[-1])


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def _uuid(token: str, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{token}/{name}"))


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

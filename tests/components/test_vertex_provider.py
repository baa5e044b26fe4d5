"""The ModelDeployment provider against a local fake of the Vertex AI REST API.

The GAPIC clients talk REST to a server on 127.0.0.1 (``client_options.api_endpoint``). Every
request body must parse as the ``google.cloud.aiplatform_v1`` message of its method with unknown
fields rejected, and the fake enforces what Vertex AI enforces about traffic: a split sums to
100, a deployed model is undeployed only without traffic, a model is deleted only when no
endpoint serves it. Create, update, read and delete each run against it.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

aiplatform_v1 = pytest.importorskip("google.cloud.aiplatform_v1")

from google.auth.credentials import AnonymousCredentials  # noqa: E402
from google.protobuf import json_format  # noqa: E402

from inferstack.deployment import parse_deployment, validate_for_target  # noqa: E402
from inferstack.vertex.args import VertexArgs  # noqa: E402
from inferstack.vertex.deployment import deployment_inputs  # noqa: E402
from inferstack.vertex.plan import build_plan  # noqa: E402
from inferstack.vertex.provider import ModelDeploymentProvider, VertexApiError  # noqa: E402

PROJECT = "acme-llm"
REGION = "europe-west4"
PARENT = f"projects/{PROJECT}/locations/{REGION}"
ENDPOINT = f"{PARENT}/endpoints/1234567890"
KEY = f"{PARENT}/keyRings/llm/cryptoKeys/serving"
ACCOUNT = f"bot-serving@{PROJECT}.iam.gserviceaccount.com"
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
ROUTES = [
    (
        "POST",
        re.compile(r"^/v1/(?P<parent>projects/[^/]+/locations/[^/]+)/models:upload$"),
        "upload",
        aiplatform_v1.UploadModelRequest,
    ),
    (
        "POST",
        re.compile(
            r"^/v1/(?P<endpoint>projects/[^/]+/locations/[^/]+/endpoints/[^/:]+):deployModel$"
        ),
        "deploy",
        aiplatform_v1.DeployModelRequest,
    ),
    (
        "POST",
        re.compile(
            r"^/v1/(?P<endpoint>projects/[^/]+/locations/[^/]+/endpoints/[^/:]+):undeployModel$"
        ),
        "undeploy",
        aiplatform_v1.UndeployModelRequest,
    ),
    (
        "DELETE",
        re.compile(r"^/v1/(?P<name>projects/[^/]+/locations/[^/]+/models/[^/@]+)$"),
        "delete_model",
        None,
    ),
    (
        "GET",
        re.compile(r"^/v1/(?P<name>projects/[^/]+/locations/[^/]+/models/[^/@]+)$"),
        "get_model",
        None,
    ),
    (
        "GET",
        re.compile(r"^/v1/(?P<name>projects/[^/]+/locations/[^/]+/endpoints/[^/]+)$"),
        "get_endpoint",
        None,
    ),
]


class ApiError(Exception):
    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message


@dataclass
class FakeVertex:
    """The state of one project's models and one endpoint, and every request seen."""

    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    deployed: dict[str, dict[str, Any]] = field(default_factory=dict)
    traffic: dict[str, int] = field(default_factory=dict)
    requests: list[tuple[str, Any]] = field(default_factory=list)
    schema_errors: list[str] = field(default_factory=list)
    deny: set[str] = field(default_factory=set)
    deny_after: dict[str, int] = field(default_factory=dict)  # method -> calls that succeed
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1001))

    def handle(self, method: str, path: str, body: bytes) -> dict[str, Any]:
        for verb, pattern, name, message in ROUTES:
            match = pattern.match(path)
            if verb != method or match is None:
                continue
            request = None
            if message is not None:
                try:
                    request = json_format.Parse(
                        body.decode() or "{}", message.pb()(), ignore_unknown_fields=False
                    )
                except json_format.ParseError as error:
                    self.schema_errors.append(f"{name}: {error}")
                    raise ApiError(400, "INVALID_ARGUMENT", str(error)) from None
            self.requests.append((name, request))
            calls = sum(1 for seen, _ in self.requests if seen == name)
            if name in self.deny or calls > self.deny_after.get(name, calls):
                raise ApiError(
                    403, "PERMISSION_DENIED", f"Permission denied on {name}\nfor the caller"
                )
            result: dict[str, Any] = getattr(self, name)(request, **match.groupdict())
            return result
        raise ApiError(404, "NOT_FOUND", f"no route {method} {path}")

    @staticmethod
    def done(kind: str, response: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": f"{PARENT}/operations/1",
            "done": True,
            "response": {"@type": f"type.googleapis.com/{kind}", **response},
        }

    def upload(self, request: Any, parent: str) -> dict[str, Any]:
        assert request.model.encryption_spec.kms_key_name, "upload without CMEK"
        if request.parent_model:
            model = self.models[request.parent_model]
            model["version"] += 1
            name = request.parent_model
        else:
            name = f"{parent}/models/{request.model_id}"
            self.models[name] = {"version": 1}
        self.models[name]["spec"] = request.model
        return self.done(
            "google.cloud.aiplatform.v1.UploadModelResponse",
            {"model": name, "modelVersionId": str(self.models[name]["version"])},
        )

    def deploy(self, request: Any, endpoint: str) -> dict[str, Any]:
        assert endpoint == ENDPOINT
        model = request.deployed_model.model.split("@", 1)[0]
        if model not in self.models:
            raise ApiError(404, "NOT_FOUND", f"{model} not found")
        new_id = str(next(self.ids))
        split = {new_id if k == "0" else k: v for k, v in request.traffic_split.items()}
        self._check_split(split, extra={new_id})
        self.deployed[new_id] = {"model": request.deployed_model.model, "request": request}
        self.traffic = split
        return self.done(
            "google.cloud.aiplatform.v1.DeployModelResponse",
            {"deployedModel": {"id": new_id, "model": request.deployed_model.model}},
        )

    def undeploy(self, request: Any, endpoint: str) -> dict[str, Any]:
        gone = request.deployed_model_id
        if gone not in self.deployed:
            raise ApiError(404, "NOT_FOUND", f"deployed model {gone} not found")
        split = dict(request.traffic_split) or dict(self.traffic)
        if split.get(gone, 0) and len(self.deployed) > 1:
            raise ApiError(400, "FAILED_PRECONDITION", f"{gone} still has traffic")
        split.pop(gone, None)
        del self.deployed[gone]
        self._check_split(split)
        self.traffic = split
        return self.done("google.cloud.aiplatform.v1.UndeployModelResponse", {})

    def delete_model(self, request: Any, name: str) -> dict[str, Any]:
        if name not in self.models:
            raise ApiError(404, "NOT_FOUND", f"{name} not found")
        if any(d["model"].split("@")[0] == name for d in self.deployed.values()):
            raise ApiError(400, "FAILED_PRECONDITION", f"{name} is deployed")
        del self.models[name]
        return self.done("google.protobuf.Empty", {})

    def get_model(self, request: Any, name: str) -> dict[str, Any]:
        if name not in self.models:
            raise ApiError(404, "NOT_FOUND", f"{name} not found")
        return {"name": name, "versionId": str(self.models[name]["version"])}

    def get_endpoint(self, request: Any, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "deployedModels": [{"id": i, "model": d["model"]} for i, d in self.deployed.items()],
            "trafficSplit": self.traffic,
        }

    def _check_split(self, split: dict[str, int], extra: set[str] | None = None) -> None:
        known = set(self.deployed) | (extra or set())
        if split and sum(split.values()) != 100:
            raise ApiError(400, "INVALID_ARGUMENT", f"traffic split {split} does not sum to 100")
        if not set(split) <= known:
            raise ApiError(400, "INVALID_ARGUMENT", f"traffic split names unknown ids {split}")
        if known and not split:
            raise ApiError(400, "INVALID_ARGUMENT", "deployed models without any traffic split")


@pytest.fixture
def fake() -> Iterator[tuple[FakeVertex, str]]:
    state = FakeVertex()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            try:
                payload, code = state.handle(self.command, self.path.split("?", 1)[0], body), 200
            except ApiError as error:
                payload = {
                    "error": {"code": error.code, "message": error.message, "status": error.status}
                }
                code = error.code
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _serve  # noqa: N815 (http.server's names)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def props(api: str, *, spot: bool = True, revision: str = "0e9e39f", **args: Any) -> dict[str, Any]:
    spec = parse_deployment(
        {
            "name": "bot",
            "model": {"id": LLAMA, "source": f"hf://{LLAMA}@{revision}", "max_context": 4096},
            "serving": {"max_concurrency": 4},
            "compute": {"instance_type": "g2-standard-8", "spot": spot},
            "scaling": {
                "min_replicas": 1,
                "max_replicas": 3,
                "target": {"metric": "gpu_utilization", "value": 65},
            },
        }
    )
    plan = build_plan(
        spec,
        validate_for_target(spec, "vertex", REGION),
        VertexArgs(project=PROJECT, **args),
        name=spec.name,
        region=REGION,
    )
    inputs = deployment_inputs(plan, endpoint=ENDPOINT, kms_key_name=KEY, service_account=ACCOUNT)
    return {**inputs, "apiEndpoint": api, "kind": "inferstack:vertex:ModelDeployment"}


def provider() -> ModelDeploymentProvider:
    return ModelDeploymentProvider(credentials=AnonymousCredentials())


def test_create_uploads_with_cmek_and_deploys_spot_with_fallback(
    fake: tuple[FakeVertex, str],
) -> None:
    state, api = fake
    created = provider().create(props(api, fallback_share=25))
    assert state.schema_errors == []
    assert [name for name, _ in state.requests] == ["upload", "deploy", "deploy"]
    upload = state.requests[0][1]
    model = upload.model
    assert upload.model_id == "bot-model" and not upload.parent_model
    assert model.encryption_spec.kms_key_name == KEY
    assert model.artifact_uri.startswith("gs://bot-models-") and model.artifact_uri.endswith(
        f"/{LLAMA}/0e9e39f/"
    )
    spec = model.container_spec
    assert spec.image_uri.startswith(
        f"{REGION}-docker.pkg.dev/{PROJECT}/bot-images/vllm/vllm-openai@sha256:"
    )
    assert spec.health_route == "/health" and spec.predict_route == "/v1/chat/completions"
    assert [p.container_port for p in spec.ports] == [8000]
    assert spec.startup_probe.http_get.path == "/health"
    assert f"--model={model.artifact_uri}" in spec.args
    spot = state.requests[1][1].deployed_model
    resources = spot.dedicated_resources
    assert resources.spot is True
    assert resources.machine_spec.machine_type == "g2-standard-8"
    assert resources.machine_spec.accelerator_type == aiplatform_v1.AcceleratorType.NVIDIA_L4
    assert resources.machine_spec.accelerator_count == 1
    assert (resources.min_replica_count, resources.max_replica_count) == (1, 3)
    (metric,) = resources.autoscaling_metric_specs
    assert (metric.metric_name, metric.target) == (
        "aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle",
        65,
    )
    assert spot.service_account == ACCOUNT
    fallback = state.requests[2][1].deployed_model.dedicated_resources
    assert fallback.spot is False
    ids = created.outs["deployedModelIds"]
    assert state.traffic == {ids["spot"]: 75, ids["on-demand"]: 25}
    assert created.id == created.outs["model"] == f"{PARENT}/models/bot-model"
    assert created.outs["modelVersionId"] == "1"


def test_update_uploads_a_new_version_and_shifts_traffic(fake: tuple[FakeVertex, str]) -> None:
    state, api = fake
    olds = props(api)
    created = provider().create(olds)
    news = props(api, revision="1f2e3d4")
    diff = provider().diff(created.id, created.outs, news)
    assert diff.changes is True and diff.replaces == []
    state.requests.clear()
    updated = provider().update(created.id, created.outs, news)
    assert state.schema_errors == []
    names = [name for name, _ in state.requests]
    assert names == ["upload", "deploy", "deploy", "undeploy", "undeploy"]
    upload = state.requests[0][1]
    assert upload.parent_model == created.outs["model"] and not upload.model_id
    assert updated.outs["modelVersionId"] == "2"
    assert all(r.deployed_model.model.endswith("@2") for n, r in state.requests if n == "deploy")
    # While the new version comes up, the old spot deployment keeps what is not yet moved.
    first_shift = dict(state.requests[1][1].traffic_split)
    old = created.outs["deployedModelIds"]
    assert first_shift == {"0": 80, old["spot"]: 20, old["on-demand"]: 0}
    new = updated.outs["deployedModelIds"]
    assert set(state.deployed) == set(new.values())
    assert state.traffic == {new["spot"]: 80, new["on-demand"]: 20}


def test_replacing_keys_and_unchanged_inputs(fake: tuple[FakeVertex, str]) -> None:
    _, api = fake
    olds = props(api)
    outs = {**olds, "model": "m", "modelVersionId": "1", "deployedModelIds": {"spot": "1"}}
    assert provider().diff("m", outs, olds).changes is False
    moved = {**olds, "endpoint": f"{PARENT}/endpoints/99"}
    assert provider().diff("m", outs, moved).replaces == ["endpoint"]


def test_delete_undeploys_then_deletes_and_read_sees_it_gone(fake: tuple[FakeVertex, str]) -> None:
    state, api = fake
    created = provider().create(props(api))
    read = provider().read(created.id, created.outs)
    assert (
        read.id == created.id and read.outs["deployedModelIds"] == created.outs["deployedModelIds"]
    )
    state.requests.clear()
    provider().delete(created.id, created.outs)
    assert [name for name, _ in state.requests] == ["undeploy", "undeploy", "delete_model"]
    assert state.schema_errors == [] and state.deployed == {} and state.models == {}
    gone = provider().read(created.id, created.outs)
    assert gone.id == ""
    # Deleting again (already gone) succeeds: undeploy and delete tolerate NotFound.
    provider().delete(created.id, created.outs)


def test_api_failures_are_one_line_errors(fake: tuple[FakeVertex, str]) -> None:
    state, api = fake
    state.deny.add("deploy")
    with pytest.raises(VertexApiError) as raised:
        provider().create(props(api, spot=False))
    message = str(raised.value)
    assert message.startswith("Vertex AI DeployModel failed: 403 ")
    assert "Permission denied on deploy for the caller" in message and "\n" not in message
    # The uploaded model is deleted again: a failed create leaves nothing behind.
    assert [name for name, _ in state.requests] == ["upload", "deploy", "delete_model"]
    assert state.models == {}


def test_the_schema_oracle_rejects_unknown_fields_and_enum_values(
    fake: tuple[FakeVertex, str],
) -> None:
    state, api = fake
    bad = props(api, spot=False)
    bad["deployments"][0]["acceleratorType"] = "NVIDIA_L5"
    with pytest.raises((ValueError, KeyError, VertexApiError)):
        provider().create(bad)
    # The model was uploaded; no deployment with an accelerator Vertex AI lacks was sent.
    assert [name for name, _ in state.requests] == ["upload"]
    with pytest.raises(json_format.ParseError):
        json_format.Parse(
            json.dumps({"deployedModel": {"dedicatedResources": {"spotVm": True}}}),
            aiplatform_v1.DeployModelRequest.pb()(),
            ignore_unknown_fields=False,
        )
    with pytest.raises(json_format.ParseError):
        json_format.Parse(
            json.dumps(
                {
                    "deployedModel": {
                        "dedicatedResources": {"machineSpec": {"acceleratorType": "NVIDIA_L5"}}
                    }
                }
            ),
            aiplatform_v1.DeployModelRequest.pb()(),
            ignore_unknown_fields=False,
        )


def test_the_provider_survives_pulumis_serialization_in_a_fresh_process() -> None:
    import subprocess
    import sys

    from pulumi.dynamic.dynamic import serialize_provider

    serialized = serialize_provider(ModelDeploymentProvider())
    program = (
        "import base64, sys, dill\n"
        "provider = dill.loads(base64.b64decode(sys.stdin.read()))\n"
        "print(type(provider).__module__, type(provider).__name__, provider.credentials)\n"
        "print(sorted(m for m in sys.modules if m.startswith('google.cloud.aiplatform')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        input=serialized,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.splitlines() == [
        "inferstack.vertex.provider ModelDeploymentProvider None",
        "[]",
    ]


def test_a_partial_create_is_undone(fake: tuple[FakeVertex, str]) -> None:
    state, api = fake
    state.deny_after["deploy"] = 1  # the spot deployment succeeds, the fallback is refused
    with pytest.raises(VertexApiError, match="DeployModel failed: 403"):
        provider().create(props(api))
    assert [name for name, _ in state.requests] == [
        "upload",
        "deploy",
        "deploy",
        "undeploy",
        "delete_model",
    ]
    assert state.deployed == {} and state.models == {} and state.schema_errors == []

"""Traces on Vertex AI: the collector sidecar of the Cloud Run gateway, as registered.

The sidecar's configuration is checked against the transcription of the pinned collector
release that the on-prem tests use (tests/unit/test_tracing_collector.py, its ``config_errors``),
and the service as registered is judged by the trace content rule.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from inferstack.compliance.model import RuleConfig
from inferstack.compliance.registry import rule
from inferstack.deployment import parse_deployment, validate_for_target
from inferstack.errors import SpecError
from inferstack.preview import CapturedResource
from inferstack.tracing.collector import (
    COLLECTOR_IMAGE,
    GATEWAY_CALLBACK,
    HEADERS_ENV,
    HEALTH_PORT,
    HTTP_PORT,
    LOOPBACK,
    gateway_export_env,
)
from inferstack.tracing.content import CONTENT_PROCESSORS, DROP_ATTRIBUTES, RETENTION_ANNOTATION
from inferstack.vertex import Endpoint
from inferstack.vertex.args import VertexArgs
from inferstack.vertex.gateway_config import CONFIG_ENV
from inferstack.vertex.tracing import COLLECTOR_CONFIG_ENV, CONTAINER, SECRET_ROLE

Recording = Callable[..., list[CapturedResource]]

_UNIT = Path(__file__).parents[1] / "unit" / "test_tracing_collector.py"
_loader = importlib.util.spec_from_file_location("tracing_collector_schema", _UNIT)
assert _loader is not None and _loader.loader is not None
_schema = importlib.util.module_from_spec(_loader)
_loader.loader.exec_module(_schema)
config_errors: Callable[[dict[str, Any]], list[str]] = _schema.config_errors

REGION = "europe-west4"
PROJECT = "acme-llm"
SERVICE = "gcp:cloudrunv2/service:Service"
SECRET_MEMBER = "gcp:secretmanager/secretIamMember:SecretIamMember"
REPOSITORY = "gcp:artifactregistry/repository:Repository"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
ENDPOINT = "https://langfuse.example.com/api/public/otel"
TRACING: dict[str, Any] = {
    "endpoint": ENDPOINT,
    "headers_secret": {"name": "langfuse-otlp", "key": "3"},
    "sampling_ratio": 0.2,
}
_RUNS: dict[str, list[CapturedResource]] = {}


def spec(tracing: dict[str, Any] | None = None, **observability: Any) -> dict[str, Any]:
    section = dict(observability)
    if tracing is not None:
        section["tracing"] = tracing
    return {"name": "bot", "model": {"id": LLAMA}, "observability": section}


def run(recording: Recording, deployment: dict[str, Any]) -> list[CapturedResource]:
    key = json.dumps(deployment, sort_keys=True)
    if key not in _RUNS:
        _RUNS[key] = recording(
            lambda: Endpoint("bot", deployment, args=VertexArgs()),
            preview=True,
            config={"gcp:region": REGION, "gcp:project": PROJECT},
        )
    return _RUNS[key]


def of(resources: list[CapturedResource], token: str) -> list[CapturedResource]:
    return [r for r in resources if r.type == token]


def service(resources: list[CapturedResource]) -> CapturedResource:
    (found,) = of(resources, SERVICE)
    return found


def containers(resources: list[CapturedResource]) -> dict[str, dict[str, Any]]:
    found: list[dict[str, Any]] = service(resources).inputs["template"]["containers"]
    return {c["name"]: c for c in found}


def env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueSource")) for e in container["envs"]}


def sidecar_config(resources: list[CapturedResource]) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(
        env(containers(resources)[CONTAINER])[COLLECTOR_CONFIG_ENV]
    )
    return loaded


def test_the_sidecar_runs_the_pinned_collector_through_a_cmek_repository(
    recording: Recording,
) -> None:
    resources = run(recording, spec(TRACING))
    sidecar = containers(resources)[CONTAINER]
    digest = COLLECTOR_IMAGE.split("@", 1)[1]
    (repository,) = [r for r in of(resources, REPOSITORY) if r.name.endswith("collector-images")]
    repo_id = repository.inputs["repositoryId"]
    assert sidecar["image"] == (
        f"{REGION}-docker.pkg.dev/{PROJECT}/{repo_id}/otel/opentelemetry-collector-contrib@{digest}"
    )
    assert repository.inputs["remoteRepositoryConfig"]["dockerRepository"] == {
        "publicRepository": "DOCKER_HUB"
    }
    assert repository.inputs["mode"] == "REMOTE_REPOSITORY" and "kmsKeyName" in repository.inputs
    assert sidecar["args"] == [f"--config=env:{COLLECTOR_CONFIG_ENV}"]


def test_the_gateway_stays_the_ingress_and_starts_after_the_collector(
    recording: Recording,
) -> None:
    resources = run(recording, spec(TRACING))
    found = containers(resources)
    assert list(found) == ["gateway", CONTAINER]
    gateway, sidecar = found["gateway"], found[CONTAINER]
    assert "ports" in gateway and "ports" not in sidecar
    assert gateway["dependsOns"] == [CONTAINER]
    assert sidecar["startupProbe"]["httpGet"]["port"] == HEALTH_PORT
    health = sidecar_config(resources)["extensions"]["health_check"]["endpoint"]
    assert health.endswith(f":{HEALTH_PORT}")


def test_the_sidecar_config_is_valid_and_listens_on_loopback_only(recording: Recording) -> None:
    config = sidecar_config(run(recording, spec(TRACING)))
    assert config_errors(config) == []
    protocols = config["receivers"]["otlp"]["protocols"]
    assert {p["endpoint"].rsplit(":", 1)[0] for p in protocols.values()} == {LOOPBACK}
    exporter = config["exporters"]["otlphttp"]
    assert exporter["endpoint"] == ENDPOINT
    assert exporter["headers"] == f"${{env:{HEADERS_ENV}}}"
    sampler = config["processors"]["probabilistic_sampler"]
    assert sampler["sampling_percentage"] == 20


def test_content_is_dropped_unless_captured(recording: Recording) -> None:
    dropped = run(recording, spec(TRACING))
    config = sidecar_config(dropped)
    pipeline = config["service"]["pipelines"]["traces"]["processors"]
    assert all(name in pipeline and name in config["processors"] for name in CONTENT_PROCESSORS)
    statements = config["processors"][DROP_ATTRIBUTES]["trace_statements"][0]["statements"]
    assert any('"^gen_ai\\\\.(input|output)\\\\.messages$"' in s for s in statements)
    litellm = json.loads(env(containers(dropped)["gateway"])[CONFIG_ENV])
    assert litellm["litellm_settings"]["turn_off_message_logging"] is True
    assert "annotations" not in service(dropped).inputs

    captured = run(
        recording, spec({**TRACING, "capture_content": True, "content_retention_days": 14})
    )
    kept = sidecar_config(captured)
    assert not set(CONTENT_PROCESSORS) & set(kept["processors"])
    assert config_errors(kept) == []
    assert service(captured).inputs["annotations"] == {RETENTION_ANNOTATION: "14"}
    litellm = json.loads(env(containers(captured)["gateway"])[CONFIG_ENV])
    assert litellm["litellm_settings"]["turn_off_message_logging"] is False


def test_litellm_exports_to_the_sidecar_on_loopback(recording: Recording) -> None:
    resources = run(recording, spec(TRACING))
    gateway = env(containers(resources)["gateway"])
    assert gateway["OTEL_ENDPOINT"] == f"http://{LOOPBACK}:{HTTP_PORT}"
    expected = gateway_export_env(f"http://{LOOPBACK}:{HTTP_PORT}", "bot-gateway")
    assert {k: gateway[k] for k in expected} == expected
    litellm = json.loads(gateway[CONFIG_ENV])
    assert litellm["litellm_settings"]["callbacks"] == [GATEWAY_CALLBACK]


def test_the_headers_secret_is_granted_on_that_secret_only(recording: Recording) -> None:
    resources = run(recording, spec(TRACING))
    sidecar = env(containers(resources)[CONTAINER])
    assert sidecar[HEADERS_ENV] == {
        "secretKeyRef": {"secret": f"projects/{PROJECT}/secrets/langfuse-otlp", "version": "3"}
    }
    (grant,) = of(resources, SECRET_MEMBER)
    account = service(resources).inputs["template"]["serviceAccount"]
    assert grant.inputs == {
        "project": PROJECT,
        "secretId": "langfuse-otlp",
        "role": SECRET_ROLE,
        "member": f"serviceAccount:{account}",
    }
    assert not [r for r in of(resources, PROJECT_MEMBER) if "secretmanager" in r.inputs["role"]]
    assert grant.urn in service(resources).dependencies


def test_a_secret_in_another_project_is_granted_there(recording: Recording) -> None:
    tracing = {**TRACING, "headers_secret": {"name": "projects/ops/secrets/otlp", "key": "latest"}}
    resources = run(recording, spec(tracing))
    (grant,) = of(resources, SECRET_MEMBER)
    assert (grant.inputs["project"], grant.inputs["secretId"]) == ("ops", "otlp")
    sidecar = env(containers(resources)[CONTAINER])
    assert sidecar[HEADERS_ENV]["secretKeyRef"] == {
        "secret": "projects/ops/secrets/otlp",
        "version": "latest",
    }


def test_without_tracing_the_gateway_runs_alone(recording: Recording) -> None:
    resources = run(recording, spec())
    assert list(containers(resources)) == ["gateway"]
    assert of(resources, SECRET_MEMBER) == []
    assert not [r for r in of(resources, REPOSITORY) if r.name.endswith("collector-images")]
    litellm = json.loads(env(containers(resources)["gateway"])[CONFIG_ENV])
    assert "callbacks" not in litellm["litellm_settings"]


def test_the_content_rule_passes_the_service_and_flags_content_kept_without_retention(
    recording: Recording,
) -> None:
    checked = rule("gcp-cloudrun-service-restrict-trace-content")
    inputs = service(run(recording, spec(TRACING))).inputs
    found: list[str] = []
    checked.check(_Resource(inputs), lambda message, *_: found.append(message), RuleConfig({}))
    assert found == []
    captured = service(
        run(recording, spec({**TRACING, "capture_content": True, "content_retention_days": 14}))
    ).inputs
    stripped = {k: v for k, v in captured.items() if k != "annotations"}
    checked.check(_Resource(stripped), lambda message, *_: found.append(message), RuleConfig({}))
    assert len(found) == 1 and "no retention" in found[0]


@dataclass
class _Resource:
    """The part of pulumi_policy's ResourceValidationArgs the rule reads."""

    props: dict[str, Any]
    resource_type: str = SERVICE
    urn: str = "urn:pulumi:test::p::gcp:cloudrunv2/service:Service::gateway-service"
    name: str = "gateway-service"
    provider: None = None


@pytest.mark.parametrize(
    ("tracing", "path"),
    [
        ({**TRACING, "runtime_spans": True}, "observability.tracing.runtime_spans"),
        (
            {**TRACING, "headers_secret": {"name": "langfuse-otlp", "key": "headers"}},
            "observability.tracing.headers_secret.key",
        ),
        (
            {**TRACING, "headers_secret": {"name": "a/b", "key": "1"}},
            "observability.tracing.headers_secret.name",
        ),
    ],
)
def test_what_vertex_cannot_trace_is_refused_before_any_resource(
    recording: Recording, tracing: dict[str, Any], path: str
) -> None:
    registered: list[CapturedResource] = []
    with pytest.raises(SpecError) as raised:
        registered = recording(
            lambda: Endpoint("bot", spec(tracing), args=VertexArgs()),
            preview=True,
            config={"gcp:region": REGION, "gcp:project": PROJECT},
        )
    assert raised.value.path == path
    assert "\n" not in str(raised.value)
    assert registered == []


def test_vertex_accepts_the_tracing_section() -> None:
    parsed = parse_deployment(spec(TRACING))
    validate_for_target(parsed, "vertex", REGION)

"""The trace collector beside an on-prem service, and the runtime's export to it (manifests)."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
import yaml

from inferstack.deployment import DeploymentSpec, parse_deployment, validate_for_target
from inferstack.errors import SpecError
from inferstack.kubernetes import LLMServiceArgs, build_plan
from inferstack.kubernetes.manifests import service_manifests
from inferstack.kubernetes.tracing import check_tracing, image_repository
from inferstack.tracing.collector import COLLECTOR_IMAGE, HEADERS_ENV
from inferstack.tracing.content import CONTENT_PROCESSORS, RETENTION_ANNOTATION

KUBERNETES_VERSION = "1.30.0"
TRACED_IMAGE = "registry.example.com/llm/vllm-openai-otel:v0.11.0@sha256:" + "ab" * 32
TRACING = {
    "endpoint": "https://langfuse.example.com/api/public/otel",
    "headers_secret": {"name": "langfuse-otlp", "key": "headers"},
    "sampling_ratio": 0.2,
}


def spec_for(tracing: dict[str, Any] | None, **serving: Any) -> DeploymentSpec:
    observability: dict[str, Any] = {} if tracing is None else {"tracing": tracing}
    return parse_deployment(
        {
            "name": "chat",
            "environment": "prod",
            "model": {
                "id": "meta-llama/Llama-3.1-8B-Instruct",
                "dtype": "bf16",
                "max_context": 8192,
            },
            "serving": {
                "runtime": "vllm",
                "image": "vllm/vllm-openai:v0.11.0@sha256:" + "01" * 32,
                **serving,
            },
            "compute": {"gpu_type": "L40S", "gpu_count": 1},
            "observability": observability,
        }
    )


def manifests(spec: DeploymentSpec, args: LLMServiceArgs | None = None) -> list[dict[str, Any]]:
    args = args or LLMServiceArgs()
    check_tracing(spec)
    plan = build_plan(spec, validate_for_target(spec, "onprem"), args, name="chat")
    return service_manifests(spec, plan, args)


def by_name(found: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (match,) = [m for m in found if m["kind"] == kind and m["metadata"]["name"] == name]
    return match


def server(found: list[dict[str, Any]]) -> dict[str, Any]:
    pod = by_name(found, "Deployment", "chat")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    return dict(container)


def test_no_tracing_no_collector() -> None:
    found = manifests(spec_for(None))
    assert not [m for m in found if "otel-collector" in m["metadata"]["name"]]
    assert "--otlp-traces-endpoint" not in server(found)["args"]


def test_collector_objects_are_valid_and_restricted() -> None:
    found = manifests(spec_for(TRACING))
    collector = [
        m for m in found if "otel" in m["metadata"]["name"] or "trace" in m["metadata"]["name"]
    ]
    assert sorted((m["kind"], m["metadata"]["name"]) for m in collector) == [
        ("ConfigMap", "chat-otel-collector"),
        ("Deployment", "chat-otel-collector"),
        ("NetworkPolicy", "chat-allow-trace-export"),
        ("NetworkPolicy", "chat-otel-collector-export"),
        ("NetworkPolicy", "chat-otel-collector-ingress"),
        ("Service", "chat-otel-collector"),
    ]
    for manifest in collector:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        assert manifest["metadata"]["namespace"] == "chat"
    deployment = by_name(found, "Deployment", "chat-otel-collector")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == COLLECTOR_IMAGE
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert deployment["spec"]["replicas"] == 2  # prod
    headers = [e for e in container["env"] if e["name"] == HEADERS_ENV]
    assert headers == [
        {
            "name": HEADERS_ENV,
            "valueFrom": {"secretKeyRef": {"name": "langfuse-otlp", "key": "headers"}},
        }
    ]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == "otel-collector"
    service = by_name(found, "Service", "chat-otel-collector")
    assert service["spec"]["type"] == "ClusterIP"
    assert {p["port"] for p in service["spec"]["ports"]} == {4317, 4318}
    assert service["spec"]["selector"].items() <= labels.items()


def test_config_map_carries_the_config_the_pod_reads() -> None:
    found = manifests(spec_for(TRACING))
    config_map = by_name(found, "ConfigMap", "chat-otel-collector")
    config = yaml.safe_load(config_map["data"]["relay"])
    assert config["service"]["pipelines"]["traces"]["processors"][1:3] == list(CONTENT_PROCESSORS)
    assert "annotations" not in config_map["metadata"]
    pod = by_name(found, "Deployment", "chat-otel-collector")["spec"]["template"]["spec"]
    (volume,) = pod["volumes"]
    assert volume["configMap"]["name"] == "chat-otel-collector"
    (item,) = volume["configMap"]["items"]
    (mount,) = pod["containers"][0]["volumeMounts"]
    assert pod["containers"][0]["args"] == [f"--config=file:{mount['mountPath']}/{item['path']}"]
    captured = manifests(
        spec_for({**TRACING, "capture_content": True, "content_retention_days": 30})
    )
    annotations = by_name(captured, "ConfigMap", "chat-otel-collector")["metadata"]["annotations"]
    assert annotations == {RETENTION_ANNOTATION: "30"}


def test_config_change_rolls_the_collector() -> None:
    def digest(tracing: dict[str, Any]) -> str:
        found = manifests(spec_for(tracing))
        template = by_name(found, "Deployment", "chat-otel-collector")["spec"]["template"]
        return str(template["metadata"]["annotations"]["inferstack.dev/config-sha256"])

    assert digest(TRACING) != digest({**TRACING, "sampling_ratio": 0.5})


def test_network_policies_admit_senders_and_export_only() -> None:
    found = manifests(spec_for(TRACING))
    ingress = by_name(found, "NetworkPolicy", "chat-otel-collector-ingress")["spec"]
    (rule,) = ingress["ingress"]
    (source,) = rule["from"]
    expressions = source["podSelector"]["matchExpressions"]
    assert expressions == [
        {
            "key": "app.kubernetes.io/component",
            "operator": "In",
            "values": ["inference-server", "gateway"],
        }
    ]
    assert source["podSelector"]["matchLabels"] == {"app.kubernetes.io/instance": "chat"}
    assert {p["port"] for p in rule["ports"]} == {4317, 4318}
    export = by_name(found, "NetworkPolicy", "chat-otel-collector-export")["spec"]
    (egress,) = export["egress"]
    assert egress["ports"] == [{"protocol": "TCP", "port": 443}]
    assert egress["to"] == [{"ipBlock": {"cidr": "0.0.0.0/0"}}]
    narrowed = manifests(spec_for(TRACING), LLMServiceArgs(trace_export_cidrs=["192.0.2.0/24"]))
    export = by_name(narrowed, "NetworkPolicy", "chat-otel-collector-export")["spec"]
    assert export["egress"][0]["to"] == [{"ipBlock": {"cidr": "192.0.2.0/24"}}]
    in_cluster = {
        **TRACING,
        "endpoint": "http://langfuse-web.langfuse.svc.cluster.local:3000/api/public/otel",
    }
    export = by_name(manifests(spec_for(in_cluster)), "NetworkPolicy", "chat-otel-collector-export")
    (egress,) = export["spec"]["egress"]
    assert egress["to"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "langfuse"}}}
    ]
    assert egress["ports"] == [{"protocol": "TCP", "port": 3000}]


def with_front(spec: DeploymentSpec) -> list[dict[str, Any]]:
    """The service's manifests with its gateway and guard, as LLMService registers them."""
    from inferstack import targets
    from inferstack.kubernetes.gateway import build_front

    args = LLMServiceArgs(guard_image="registry.example.com/llm-guard-api@sha256:" + "cd" * 32)
    check_tracing(spec)
    plan = build_plan(spec, validate_for_target(spec, "onprem"), args, name="chat")
    front = build_front(spec, plan, args, targets.get("onprem"))
    return service_manifests(spec, plan, args, front=front)


def gateway_parts(found: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, str]]:
    """The gateway's LiteLLM config and its container's plain environment."""
    import json

    config = json.loads(by_name(found, "ConfigMap", "chat-gateway")["data"]["config.yaml"])
    pod = by_name(found, "Deployment", "chat-gateway")["spec"]["template"]["spec"]
    (container,) = [c for c in pod["containers"] if c["name"] == "gateway"]
    return config, {v["name"]: v["value"] for v in container["env"] if "value" in v}


def test_the_gateway_exports_its_spans_to_the_collector_without_content() -> None:
    found = with_front(spec_for(TRACING))
    config, env = gateway_parts(found)
    settings = config["litellm_settings"]
    assert settings["callbacks"] == ["otel"]
    assert settings["turn_off_message_logging"] is True  # prompts stay out of the spans
    # LiteLLM's OpenTelemetryConfig.from_env; it appends /v1/traces to the endpoint.
    assert env["OTEL_EXPORTER"] == "otlp_http"
    assert env["OTEL_ENDPOINT"] == "http://chat-otel-collector.chat.svc:4318"
    assert env["OTEL_SERVICE_NAME"] == "chat-gateway"
    # ...and the collector's ingress policy admits the gateway's pods on that port.
    ingress = by_name(found, "NetworkPolicy", "chat-otel-collector-ingress")
    (rule,) = ingress["spec"]["ingress"]
    assert "gateway" in rule["from"][0]["podSelector"]["matchExpressions"][0]["values"]
    assert 4318 in {p["port"] for p in rule["ports"]}


def test_the_gateway_sends_content_only_when_traces_capture_it() -> None:
    captured = {**TRACING, "capture_content": True, "content_retention_days": 30}
    config, _ = gateway_parts(with_front(spec_for(captured)))
    assert config["litellm_settings"]["turn_off_message_logging"] is False
    plain, env = gateway_parts(with_front(spec_for(None)))
    assert "callbacks" not in plain["litellm_settings"]
    assert plain["litellm_settings"]["turn_off_message_logging"] is True
    assert not [name for name in env if name.startswith("OTEL_")]


def test_runtime_spans_point_vllm_at_the_collector_over_grpc() -> None:
    found = manifests(spec_for({**TRACING, "runtime_spans": True}, image=TRACED_IMAGE))
    container = server(found)
    args = container["args"]
    endpoint = args[args.index("--otlp-traces-endpoint") + 1]
    assert endpoint == "http://chat-otel-collector.chat.svc:4317"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] == "grpc"
    assert env["OTEL_TRACES_SAMPLER"] == "parentbased_always_on"
    # Without runtime spans the runtime is left alone; the gateway's spans are still collected.
    assert "--otlp-traces-endpoint" not in server(manifests(spec_for(TRACING)))["args"]


def test_runtime_spans_point_tgi_at_the_collector() -> None:
    spec = parse_deployment(
        {
            "name": "chat",
            "model": {
                "id": "meta-llama/Llama-3.1-8B-Instruct",
                "dtype": "bf16",
                "max_context": 8192,
            },
            "serving": {"runtime": "tgi"},
            "compute": {"gpu_type": "L40S", "gpu_count": 1},
            "observability": {"tracing": {**TRACING, "runtime_spans": True}},
        }
    )
    args = server(manifests(spec))["args"]
    assert args[args.index("--otlp-endpoint") + 1] == "http://chat-otel-collector.chat.svc:4317"


@pytest.mark.parametrize(
    ("serving", "problem"),
    [
        ({}, "published vllm/vllm-openai image has no OpenTelemetry SDK"),
        ({"image": None}, "published vllm/vllm-openai image has no OpenTelemetry SDK"),
        ({"image": "docker.io/vllm/vllm-openai:v0.11.0@sha256:" + "02" * 32}, "published vllm"),
    ],
)
def test_runtime_spans_refused_where_vllm_would_exit(serving: dict[str, Any], problem: str) -> None:
    spec = spec_for({**TRACING, "runtime_spans": True}, **serving)
    with pytest.raises(SpecError, match=problem) as caught:
        check_tracing(spec)
    assert caught.value.path == "observability.tracing.runtime_spans"


def test_image_repository() -> None:
    assert image_repository("vllm/vllm-openai:v0.11.0@sha256:" + "0" * 64) == "vllm/vllm-openai"
    assert (
        image_repository("registry.example.com:5000/llm/vllm:1")
        == "registry.example.com:5000/llm/vllm"
    )
    assert image_repository("vllm/vllm-openai") == "vllm/vllm-openai"

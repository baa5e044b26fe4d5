"""LLMService: the inputs every child gets, with a defaults-only spec and a full spec."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import pytest

from inferstack.errors import SpecError
from inferstack.kubernetes import LLMService, LLMServiceArgs
from inferstack.preview import CapturedResource

Recording = Callable[..., list[CapturedResource]]

COMPONENT = "inferstack:kubernetes:LLMService"
STACK = "pulumi:pulumi:Stack"
DEFAULTS: dict[str, Any] = {"name": "chat", "model": {"id": "Qwen/Qwen2.5-0.5B-Instruct"}}
FULL: dict[str, Any] = {
    "name": "support-bot",
    "environment": "prod",
    "model": {
        "id": "meta-llama/Llama-3.1-8B-Instruct",
        "source": "hf://meta-llama/Llama-3.1-8B-Instruct@0e9e39f249a16976918f6564b8830bc894c89659",
        "dtype": "bf16",
        "max_context": 8192,
        "hf_token_secret": {"name": "hf-token", "key": "hf_token"},
    },
    "serving": {
        "runtime": "vllm",
        "image": "vllm/vllm-openai:v0.11.0@sha256:" + "b" * 64,
        "max_concurrency": 16,
        "port": 8080,
        "gpu_memory_utilization": 0.85,
        "extra_args": ["--enable-prefix-caching"],
    },
    "compute": {
        "gpu_type": "L4",
        "gpu_count": 2,
        "node_selector": {"nvidia.com/gpu.product": "NVIDIA-L4"},
        "tolerations": [{"key": "gpu", "operator": "Equal", "value": "l4", "effect": "NoSchedule"}],
        "runtime_class_name": "nvidia-cdi",
    },
    "scaling": {
        "min_replicas": 3,
        "max_replicas": 8,
        "target": {"metric": "queue_depth", "value": 4},
        "scale_out_cooldown_seconds": 30,
        "scale_in_cooldown_seconds": 900,
    },
    "security": {
        "network": {
            "hostname": "bot.llm.example.com",
            "tls_secret_name": "bot-cert",
            "allowed_cidrs": ["10.20.0.0/16", "192.168.10.0/24"],
            "ingress_class_name": "nginx-internal",
        },
        "auth": "mtls",
        "client_ca_secret_name": "partners-ca",
        "rate_limit": {"requests_per_second": 7, "burst": 30},
        "max_request_bytes": 200000,
    },
    "observability": {"alarms": {"email": "oncall@example.com"}},
    "compliance": {"frameworks": ["hipaa", "gdpr"], "phi": True},
    "tags": {"team": "ml-platform", "cost-center": "llm-42"},
}
# Prod runs the guard only by digest: a mirror's (a test value, not a published image).
GUARD_IMAGE = "registry.example.com/mirror/llm-guard-api:0.3.16@sha256:" + "ab" * 32
FRONT = ("-gateway", "-guard")
FULL_ARGS = LLMServiceArgs(
    guard_image=GUARD_IMAGE,
    namespace="llm-prod",
    model_cache={"kind": "shared", "storage_class_name": "cephfs", "size_gi": 80},
    ingress_namespace="edge",
    monitoring_namespace="observability",
    prometheus_url="http://prometheus.observability.svc:9090",
    monitoring_labels={"prometheus": "main"},
    download_egress_cidrs=["0.0.0.0/0", "203.0.113.0/24"],
    cluster_issuer="internal-ca",
    image_pull_secrets=["registry-creds"],
    priority_class_name="inference",
    termination_grace_period_seconds=300,
)


def run(
    recording: Recording,
    spec: dict[str, Any],
    args: LLMServiceArgs | None = None,
    **options: Any,
) -> list[CapturedResource]:
    return recording(lambda: LLMService(spec["name"], spec, args=args), **options)


def kinds(resources: list[CapturedResource], kind: str) -> list[CapturedResource]:
    return [r for r in resources if r.type.rsplit(":", 1)[-1] == kind and r.custom]


def one(resources: list[CapturedResource], kind: str, name: str | None = None) -> dict[str, Any]:
    # Without a name: the model server's object, not the gateway's or the guard's.
    found = [
        r
        for r in kinds(resources, kind)
        if (r.name == name if name is not None else not r.name.endswith(FRONT))
    ]
    assert len(found) == 1, f"{kind} {name}: {[r.name for r in found]}"
    return found[0].inputs


def pod(resources: list[CapturedResource]) -> dict[str, Any]:
    spec: dict[str, Any] = one(resources, "Deployment")["spec"]["template"]["spec"]
    return spec


def container(resources: list[CapturedResource], name: str = "server") -> dict[str, Any]:
    spec = pod(resources)
    found: list[dict[str, Any]] = [
        c for c in spec["containers"] + spec.get("initContainers", []) if c["name"] == name
    ]
    assert len(found) == 1
    return found[0]


def env_of(c: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c["env"]}


def arg(args: list[str], flag: str) -> str:
    assert flag in args, f"{flag} missing from {args}"
    return args[args.index(flag) + 1]


@pytest.fixture(scope="module")
def defaults() -> list[CapturedResource]:
    from inferstack.preview import record

    return record(lambda: LLMService("chat", DEFAULTS))


@pytest.fixture(scope="module")
def full() -> list[CapturedResource]:
    from inferstack.preview import record

    return record(lambda: LLMService("support-bot", FULL, args=FULL_ARGS))


# -- structure -------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["defaults", "full"])
def test_every_child_is_parented_named_and_labelled(
    which: str, request: pytest.FixtureRequest
) -> None:
    resources: list[CapturedResource] = request.getfixturevalue(which)
    spec = DEFAULTS if which == "defaults" else FULL
    (component,) = [r for r in resources if r.type == COMPONENT]
    children = [r for r in resources if r.type not in (STACK, COMPONENT)]
    assert len(children) >= 12
    namespace = "chat" if which == "defaults" else "llm-prod"
    for child in children:
        assert child.parent == component.urn, child.urn
        assert child.name.startswith(spec["name"]), child.urn
        meta = child.inputs["metadata"]
        labels = meta["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "inferstack"
        assert labels["inferstack/deployment"] == spec["name"]
        assert labels["app.kubernetes.io/instance"] == spec["name"]
        if child.type.endswith(":Namespace"):
            assert meta["name"] == namespace
            assert "namespace" not in meta
            continue
        assert meta["name"].startswith(spec["name"]), child.urn
        assert meta["namespace"] == namespace, child.urn


def test_namespaced_children_wait_for_the_namespace(defaults: list[CapturedResource]) -> None:
    (namespace,) = kinds(defaults, "Namespace")
    others = [r for r in defaults if r.custom and r is not namespace]
    assert others
    for child in others:
        assert namespace.urn in child.dependencies, child.urn


def test_user_tags_merge_into_labels_beside_the_reserved_ones(
    full: list[CapturedResource],
) -> None:
    for child in [r for r in full if r.custom]:
        labels = child.inputs["metadata"]["labels"]
        assert labels["team"] == "ml-platform"
        assert labels["cost-center"] == "llm-42"
        assert labels["inferstack/environment"] == "prod"
        assert labels["app.kubernetes.io/managed-by"] == "inferstack"


def test_defaults_register_the_expected_children(defaults: list[CapturedResource]) -> None:
    types = sorted(r.type for r in defaults if r.custom)
    assert types == sorted(
        [
            "kubernetes:core/v1:Namespace",
            "kubernetes:core/v1:PersistentVolumeClaim",
            "kubernetes:policy/v1:PodDisruptionBudget",
            # The model server, the gateway and the guard.
            *["kubernetes:core/v1:ServiceAccount"] * 3,
            *["kubernetes:apps/v1:Deployment"] * 3,
            *["kubernetes:core/v1:Service"] * 3,
            # Default deny, DNS, scraper, download; gateway to model, ingress controller to
            # gateway, gateway egress, gateway to guard, guard download.
            *["kubernetes:networking.k8s.io/v1:NetworkPolicy"] * 9,
            "kubernetes:networking.k8s.io/v1:Ingress",
            "kubernetes:keda.sh/v1alpha1:ScaledObject",
            "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
            # The dashboard, the gateway's config and the guard's scanners.
            *["kubernetes:core/v1:ConfigMap"] * 3,
        ]
    )
    # Alarms are off outside prod unless asked for.
    assert not kinds(defaults, "PrometheusRule")


def test_full_spec_adds_alerts_routed_to_email(full: list[CapturedResource]) -> None:
    rules = one(full, "PrometheusRule")["spec"]["groups"][0]["rules"]
    alerts = {r["alert"]: r for r in rules}
    assert set(alerts) == {
        "LLMHighErrorRate",
        "LLMPodRestarting",
        "LLMReplicasUnavailable",
        "LLMQueueBacklog",
        "LLMKVCacheSaturated",
    }
    assert 'status=~"5.."' in alerts["LLMHighErrorRate"]["expr"]
    assert "vllm:num_requests_waiting" in alerts["LLMQueueBacklog"]["expr"]
    assert "vllm:kv_cache_usage_perc" in alerts["LLMKVCacheSaturated"]["expr"]
    assert "kube_pod_container_status_restarts_total" in alerts["LLMPodRestarting"]["expr"]
    assert alerts["LLMReplicasUnavailable"]["expr"].endswith("< 3")
    assert one(full, "PrometheusRule")["metadata"]["labels"]["prometheus"] == "main"
    route = one(full, "AlertmanagerConfig")["spec"]
    assert route["receivers"][0]["emailConfigs"][0]["to"] == "oncall@example.com"
    assert route["route"]["matchers"][0]["value"] == "support-bot"


# -- namespace and identity ------------------------------------------------------------------


def test_namespace_enforces_pod_security_restricted(defaults: list[CapturedResource]) -> None:
    labels = one(defaults, "Namespace")["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"


def test_service_account_mounts_no_token(defaults: list[CapturedResource]) -> None:
    assert one(defaults, "ServiceAccount")["automountServiceAccountToken"] is False
    spec = pod(defaults)
    assert spec["serviceAccountName"] == "chat"
    assert spec["automountServiceAccountToken"] is False


def test_existing_namespace_is_not_created(recording: Recording) -> None:
    args = LLMServiceArgs(namespace="shared-llm", create_namespace=False)
    resources = run(recording, DEFAULTS, args)
    assert not kinds(resources, "Namespace")
    assert one(resources, "Deployment")["metadata"]["namespace"] == "shared-llm"


# -- the pod ---------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["defaults", "full"])
def test_every_container_is_hardened(which: str, request: pytest.FixtureRequest) -> None:
    spec = pod(request.getfixturevalue(which))
    assert spec["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "runAsGroup": 1000,
        "fsGroup": 1000,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    containers = spec["containers"] + spec["initContainers"]
    assert [c["name"] for c in containers] == ["server", "model-download"]
    for c in containers:
        assert c["securityContext"] == {
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "runAsGroup": 1000,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        }
        assert c["imagePullPolicy"] == "IfNotPresent"
        assert set(c["resources"]["limits"]) >= {"cpu", "memory"}


def test_caches_are_emptydirs_pointed_to_by_env(defaults: list[CapturedResource]) -> None:
    spec = pod(defaults)
    volumes = {v["name"]: v for v in spec["volumes"]}
    server = container(defaults)
    mounts = {m["mountPath"]: m["name"] for m in server["volumeMounts"]}
    env = env_of(server)
    for variable in (
        "HF_HOME",
        "VLLM_CACHE_ROOT",
        "TRITON_CACHE_DIR",
        "TORCHINDUCTOR_CACHE_DIR",
        "XDG_CONFIG_HOME",
        "XDG_CACHE_HOME",
        "HOME",
    ):
        path = env[variable]
        assert "emptyDir" in volumes[mounts[path]], variable
    assert "emptyDir" in volumes[mounts["/tmp"]]
    # One GPU: no shared memory volume needed.
    assert "/dev/shm" not in mounts


def test_tensor_parallel_gets_dev_shm_in_memory(full: list[CapturedResource]) -> None:
    spec = pod(full)
    shm = next(v for v in spec["volumes"] if v["name"] == "dshm")
    assert shm["emptyDir"] == {"medium": "Memory", "sizeLimit": "4Gi"}
    mounts = {m["mountPath"] for m in container(full)["volumeMounts"]}
    assert "/dev/shm" in mounts


def test_gpu_requests_equal_limits(
    defaults: list[CapturedResource], full: list[CapturedResource]
) -> None:
    for resources, gpus in ((defaults, "1"), (full, "2")):
        res = container(resources)["resources"]
        assert res["requests"]["nvidia.com/gpu"] == gpus
        assert res["limits"]["nvidia.com/gpu"] == gpus
        assert res["requests"]["memory"] == res["limits"]["memory"]


def test_hf_token_comes_from_the_secret_and_only_the_download_gets_it(
    full: list[CapturedResource],
) -> None:
    download = env_of(container(full, "model-download"))
    assert download["HF_TOKEN"] == {"secretKeyRef": {"name": "hf-token", "key": "hf_token"}}
    assert "HF_TOKEN" not in env_of(container(full))
    for c in pod(full)["containers"] + pod(full)["initContainers"]:
        for variable in c["env"]:
            assert "value" in variable or "secretKeyRef" in variable["valueFrom"]
            assert "hf_" not in str(variable.get("value", "")).lower()


def test_server_runs_offline_from_the_cache(full: list[CapturedResource]) -> None:
    env = env_of(container(full))
    assert env["HF_HUB_OFFLINE"] == "1"
    assert env["HF_HUB_CACHE"] == "/models/hub"
    download = env_of(container(full, "model-download"))
    assert download["MODEL_REPO"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert download["MODEL_REVISION"] == "0e9e39f249a16976918f6564b8830bc894c89659"
    assert download["HF_HUB_CACHE"] == "/models/hub"


def test_vllm_args_follow_the_spec(full: list[CapturedResource]) -> None:
    server = container(full)
    args = server["args"]
    assert server["command"] == ["python3", "-m", "vllm.entrypoints.openai.api_server"]
    assert arg(args, "--model") == "meta-llama/Llama-3.1-8B-Instruct"
    assert arg(args, "--served-model-name") == "meta-llama/Llama-3.1-8B-Instruct"
    assert arg(args, "--max-model-len") == "8192"
    assert arg(args, "--max-num-seqs") == "16"
    assert arg(args, "--gpu-memory-utilization") == "0.85"
    assert arg(args, "--tensor-parallel-size") == "2"
    assert arg(args, "--dtype") == "bfloat16"
    assert arg(args, "--port") == "8080"
    assert arg(args, "--revision") == "0e9e39f249a16976918f6564b8830bc894c89659"
    assert args[-1] == "--enable-prefix-caching"
    assert server["image"] == FULL["serving"]["image"]
    assert server["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]


def test_served_context_is_the_validated_one(defaults: list[CapturedResource]) -> None:
    from inferstack.deployment import parse_deployment
    from inferstack.deployment.targets import serving_context

    expected = serving_context(parse_deployment(DEFAULTS))
    assert arg(container(defaults)["args"], "--max-model-len") == str(expected)


def test_default_image_is_the_catalog_image_pinned_by_digest(
    defaults: list[CapturedResource],
) -> None:
    from inferstack import catalog

    runtime = catalog.runtimes()["vllm"]
    image = container(defaults)["image"]
    assert image.startswith(runtime.image)
    if runtime.digest:
        assert image.endswith("@" + runtime.digest.removeprefix("@"))


def test_scheduling_follows_the_spec(
    defaults: list[CapturedResource], full: list[CapturedResource]
) -> None:
    assert pod(defaults)["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    assert pod(defaults)["runtimeClassName"] == "nvidia"
    # The GPU model the fit assumed (L4 by default), by its GPU Feature Discovery label.
    assert pod(defaults)["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-L4"}
    spec = pod(full)
    assert spec["tolerations"] == [
        {"key": "gpu", "operator": "Equal", "value": "l4", "effect": "NoSchedule"}
    ]
    assert spec["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-L4"}
    assert spec["runtimeClassName"] == "nvidia-cdi"
    assert spec["priorityClassName"] == "inference"
    assert spec["imagePullSecrets"] == [{"name": "registry-creds"}]
    keys = {c["topologyKey"] for c in spec["topologySpreadConstraints"]}
    assert keys == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
    for constraint in spec["topologySpreadConstraints"]:
        assert (
            constraint["labelSelector"]["matchLabels"]
            == one(full, "Deployment")["spec"]["selector"]["matchLabels"]
        )


def test_graceful_drain(full: list[CapturedResource]) -> None:
    assert pod(full)["terminationGracePeriodSeconds"] == 300
    assert container(full)["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "15"]


# -- probes and the startup budget -----------------------------------------------------------


def startup_window(resources: list[CapturedResource]) -> int:
    probe = container(resources)["startupProbe"]
    return int(probe["failureThreshold"] * probe["periodSeconds"])


def test_probes_start_with_a_startup_probe_on_the_health_path(
    defaults: list[CapturedResource],
) -> None:
    server = container(defaults)
    for name in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert server[name]["httpGet"] == {"path": "/health", "port": "http"}
    assert (
        server["livenessProbe"]["failureThreshold"] * server["livenessProbe"]["periodSeconds"] >= 60
    )


def test_startup_budget_grows_with_model_size(recording: Recording) -> None:
    small = run(recording, DEFAULTS)
    large = run(
        recording,
        {"name": "big", "model": {"id": "Qwen/Qwen2.5-14B-Instruct", "max_context": 4096}},
    )
    assert startup_window(large) > startup_window(small)

    def deadline(resources: list[CapturedResource]) -> int:
        return int(one(resources, "Deployment")["spec"]["progressDeadlineSeconds"])

    assert deadline(large) > deadline(small)
    # The progress deadline covers the download (init container) plus the startup window.
    assert deadline(large) > startup_window(large) + 28 * 1000 / 50


def test_deployment_timeout_covers_the_progress_deadline(full: list[CapturedResource]) -> None:
    (deployment,) = [r for r in kinds(full, "Deployment") if r.name == "support-bot"]
    deadline = deployment.inputs["spec"]["progressDeadlineSeconds"]
    assert deployment.custom_timeouts is not None
    assert int(deployment.custom_timeouts[0].removesuffix("s")) > deadline
    assert "spec.replicas" in deployment.ignore_changes
    # The gateway and the guard keep their replica count: nothing autoscales them.
    for name in ("support-bot-gateway", "support-bot-guard"):
        (front,) = [r for r in kinds(full, "Deployment") if r.name == name]
        assert "spec.replicas" not in (front.ignore_changes or [])


# -- model cache -----------------------------------------------------------------------------


def test_shared_cache_is_an_rwx_claim(full: list[CapturedResource]) -> None:
    claim = one(full, "PersistentVolumeClaim")
    assert claim["metadata"]["name"] == "support-bot-model-cache"
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["spec"]["storageClassName"] == "cephfs"
    assert claim["spec"]["resources"]["requests"]["storage"] == "80Gi"
    volume = next(v for v in pod(full)["volumes"] if v["name"] == "model-cache")
    assert volume["persistentVolumeClaim"] == {"claimName": "support-bot-model-cache"}


@pytest.mark.parametrize(
    ("cache", "expected"),
    [
        ({"kind": "per_pod"}, "emptyDir"),
        ({"kind": "per_pod", "storage_class_name": "local-path"}, "ephemeral"),
    ],
)
def test_per_pod_cache_needs_no_rwx_storage(
    recording: Recording, cache: dict[str, Any], expected: str
) -> None:
    resources = run(recording, DEFAULTS, LLMServiceArgs(model_cache=cache))
    assert not kinds(resources, "PersistentVolumeClaim")
    volume = next(v for v in pod(resources)["volumes"] if v["name"] == "model-cache")
    assert expected in volume
    if expected == "ephemeral":
        template = volume["ephemeral"]["volumeClaimTemplate"]["spec"]
        assert template["storageClassName"] == "local-path"
        assert template["accessModes"] == ["ReadWriteOnce"]


def test_pvc_source_mounts_the_claim_read_only_and_downloads_nothing(
    recording: Recording,
) -> None:
    spec = {**DEFAULTS, "model": {**DEFAULTS["model"], "source": "pvc://weights/qwen/0.5b"}}
    resources = run(recording, spec)
    assert "initContainers" not in pod(resources)
    volume = next(v for v in pod(resources)["volumes"] if v["name"] == "model-cache")
    assert volume["persistentVolumeClaim"] == {"claimName": "weights", "readOnly": True}
    assert arg(container(resources)["args"], "--model") == "/models/qwen/0.5b"
    policies = [r.name for r in kinds(resources, "NetworkPolicy")]
    assert "chat-allow-model-download" not in policies


def test_cluster_settings_come_from_stack_config(recording: Recording) -> None:
    config = {
        "inferstack:kubernetes": json.dumps(
            {"namespace": "llm", "model_cache": {"kind": "per_pod"}}
        )
    }
    resources = recording(lambda: LLMService("chat", DEFAULTS), config=config)
    assert one(resources, "Deployment")["metadata"]["namespace"] == "llm"
    assert not kinds(resources, "PersistentVolumeClaim")


# -- runtimes --------------------------------------------------------------------------------


def test_tgi_args(recording: Recording) -> None:
    spec = {
        "name": "tgi",
        "model": {"id": "Qwen/Qwen2.5-1.5B-Instruct", "dtype": "int4-awq", "max_context": 4096},
        "serving": {"runtime": "tgi", "max_concurrency": 32},
        "compute": {"gpu_count": 1},
        "security": {"auth": "api_key", "max_request_bytes": 100000},
    }
    resources = run(recording, spec)
    server = container(resources)
    args = server["args"]
    assert server["command"] == ["text-generation-launcher"]
    assert arg(args, "--model-id") == "Qwen/Qwen2.5-1.5B-Instruct"
    assert arg(args, "--max-total-tokens") == "4096"
    assert arg(args, "--max-input-tokens") == "4095"
    assert arg(args, "--max-concurrent-requests") == "32"
    assert arg(args, "--num-shard") == "1"
    assert arg(args, "--quantize") == "awq"
    assert arg(args, "--payload-limit") == "100000"
    assert arg(args, "--usage-stats") == "off"
    assert env_of(server)["API_KEY"] == {"secretKeyRef": {"name": "tgi-api-key", "key": "api-key"}}
    # The API key is checked by the server: the ingress adds no auth of its own.
    annotations = one(resources, "Ingress")["metadata"]["annotations"]
    assert not any("auth-" in key for key in annotations)
    query = one(resources, "ScaledObject")["spec"]["triggers"][0]["metadata"]["query"]
    assert "tgi_batch_current_size" in query and "tgi_queue_size" in query


def test_ollama_env_and_fixed_replicas(recording: Recording) -> None:
    spec = {
        "name": "olla",
        "model": {
            "id": "Qwen/Qwen2.5-1.5B-Instruct",
            "source": "hf://Qwen/Qwen2.5-1.5B-Instruct-GGUF",
            "dtype": "gguf-q4_k_m",
            "max_context": 4096,
        },
        "serving": {"runtime": "ollama", "max_concurrency": 4},
        "compute": {"gpu_count": 1},
        "scaling": {"min_replicas": 2},
    }
    resources = run(recording, spec)
    env = env_of(container(resources))
    assert env["OLLAMA_HOST"] == "0.0.0.0:8000"
    assert env["OLLAMA_CONTEXT_LENGTH"] == "4096"
    assert env["OLLAMA_NUM_PARALLEL"] == "4"
    assert env["OLLAMA_MODELS"] == "/models/ollama"
    assert env["OLLAMA_KEEP_ALIVE"] == "-1"
    pull = env_of(container(resources, "model-download"))
    assert pull["OLLAMA_PULL"] == "hf.co/Qwen/Qwen2.5-1.5B-Instruct-GGUF:Q4_K_M"
    # No Prometheus metrics from Ollama: no scraping, no autoscaler on them; replicas stay put.
    assert not kinds(resources, "ServiceMonitor")
    assert not kinds(resources, "ScaledObject")
    assert one(resources, "Deployment")["spec"]["replicas"] == 2
    policies = [r.name for r in kinds(resources, "NetworkPolicy")]
    assert "olla-allow-metrics-scraper" not in policies


def test_llamacpp_args(recording: Recording) -> None:
    spec = {
        "name": "llama",
        "model": {
            "id": "meta-llama/Llama-3.2-3B-Instruct",
            "source": "hf://bartowski/Llama-3.2-3B-Instruct-GGUF@main",
            "dtype": "gguf-q5_k_m",
            "max_context": 8192,
        },
        "serving": {"runtime": "llamacpp", "max_concurrency": 4},
        "compute": {"gpu_count": 1},
    }
    resources = run(recording, spec)
    args = container(resources)["args"]
    # One file per repository, revision and quantization in the cache.
    model = "/models/gguf/bartowski-llama-3.2-3b-instruct-gguf/main/Q5_K_M.gguf"
    assert arg(args, "-m") == model
    assert arg(args, "-c") == str(8192 * 4)  # llama-server splits -c across its slots
    assert arg(args, "-np") == "4"
    assert arg(args, "-ngl") == "999"
    assert "--metrics" in args
    download = env_of(container(resources, "model-download"))
    assert download["MODEL_QUANT"] == "Q5_K_M"
    assert download["MODEL_FILE"] == arg(args, "-m")
    query = one(resources, "ScaledObject")["spec"]["triggers"][0]["metadata"]["query"]
    assert "llamacpp:requests_processing" in query


# -- service, autoscaling, disruption --------------------------------------------------------


def test_service_is_cluster_ip(full: list[CapturedResource]) -> None:
    spec = one(full, "Service")["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["ports"] == [
        {"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}
    ]
    assert spec["selector"] == one(full, "Deployment")["spec"]["selector"]["matchLabels"]


def test_autoscaler_scales_on_llm_load_not_cpu(
    defaults: list[CapturedResource], full: list[CapturedResource]
) -> None:
    scaled = one(defaults, "ScaledObject")["spec"]
    (trigger,) = scaled["triggers"]
    assert trigger["type"] == "prometheus"
    assert trigger["type"] not in ("cpu", "memory")
    query = trigger["metadata"]["query"]
    assert "vllm:num_requests_running" in query and "vllm:num_requests_waiting" in query
    assert 'namespace="chat",service="chat"' in query
    assert trigger["metadata"]["threshold"] == "8"
    assert scaled["minReplicaCount"] == 1 and scaled["maxReplicaCount"] == 4
    assert scaled["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "chat",
    }

    spec = one(full, "ScaledObject")["spec"]
    (trigger,) = spec["triggers"]
    assert trigger["metadata"]["query"].startswith("sum(vllm:num_requests_waiting")
    assert trigger["metadata"]["threshold"] == "4"
    assert trigger["metadata"]["serverAddress"] == "http://prometheus.observability.svc:9090"
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (3, 8)
    behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleUp"]["stabilizationWindowSeconds"] == 30
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 900
    assert one(full, "Deployment")["spec"]["replicas"] == 3


def test_scale_to_zero_wakes_on_ingress_requests(recording: Recording) -> None:
    spec = {**DEFAULTS, "scaling": {"min_replicas": 0, "scale_to_zero": True}}
    scaled = one(run(recording, spec), "ScaledObject")["spec"]
    assert scaled["minReplicaCount"] == 0
    assert scaled["cooldownPeriod"] == 300
    activation = next(t for t in scaled["triggers"] if t["name"] == "ingress-activation")
    assert 'nginx_ingress_controller_requests{ingress="chat"}' in activation["metadata"]["query"]
    assert activation["metadata"]["activationThreshold"] == "0"


def test_fixed_size_services_get_no_autoscaler(recording: Recording) -> None:
    spec = {**DEFAULTS, "scaling": {"min_replicas": 2, "max_replicas": 2}}
    resources = run(recording, spec)
    assert not kinds(resources, "ScaledObject")
    assert one(resources, "Deployment")["spec"]["replicas"] == 2


def test_disruption_budget_allows_one_eviction_at_a_time(full: list[CapturedResource]) -> None:
    spec = one(full, "PodDisruptionBudget")["spec"]
    assert spec["maxUnavailable"] == 1
    assert (
        spec["selector"]["matchLabels"]
        == one(full, "Deployment")["spec"]["selector"]["matchLabels"]
    )


# -- network ---------------------------------------------------------------------------------


def policies(resources: list[CapturedResource]) -> dict[str, dict[str, Any]]:
    return {r.name: r.inputs["spec"] for r in kinds(resources, "NetworkPolicy")}


def test_network_policies_deny_by_default(full: list[CapturedResource]) -> None:
    found = policies(full)
    deny = found["support-bot-default-deny"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    dns = found["support-bot-allow-dns"]["egress"][0]
    assert dns["to"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "kube-system"
    }
    assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}


def test_server_port_admits_only_the_gateway_and_the_scraper(
    full: list[CapturedResource],
) -> None:
    found = policies(full)
    server = {"app.kubernetes.io/instance": "support-bot"}
    model = [
        (name, rule)
        for name, policy in found.items()
        if policy["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/component")
        == "inference-server"
        for rule in policy.get("ingress", [])
    ]
    peers = {}
    for name, rule in model:
        assert rule["ports"] == [{"protocol": "TCP", "port": 8080}]
        (peer,) = rule["from"]
        peers[name] = peer
    assert peers == {
        "support-bot-allow-gateway": {
            "podSelector": {"matchLabels": {**server, "app.kubernetes.io/component": "gateway"}}
        },
        "support-bot-allow-metrics-scraper": {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}}
        },
    }
    # The ingress controller reaches the gateway's port only.
    (rule,) = found["support-bot-gateway-allow-ingress-controller"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 4000}]
    assert rule["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "edge"
    }


def test_model_download_egress_is_https_outside_private_ranges(
    full: list[CapturedResource],
) -> None:
    (rule,) = policies(full)["support-bot-allow-model-download"]["egress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 443}]
    blocks = [peer["ipBlock"] for peer in rule["to"]]
    assert blocks[0]["cidr"] == "0.0.0.0/0"
    assert {"10.0.0.0/8", "169.254.0.0/16"} <= set(blocks[0]["except"])
    assert blocks[1] == {"cidr": "203.0.113.0/24"}


def ingress_annotations_of(resources: list[CapturedResource]) -> dict[str, str]:
    result: dict[str, str] = one(resources, "Ingress")["metadata"]["annotations"]
    return result


NGINX = "nginx.ingress.kubernetes.io"


def test_ingress_tls_auth_rate_limit_and_body_size(full: list[CapturedResource]) -> None:
    ingress = one(full, "Ingress")
    spec = ingress["spec"]
    assert spec["ingressClassName"] == "nginx-internal"
    assert spec["tls"] == [{"hosts": ["bot.llm.example.com"], "secretName": "bot-cert"}]
    (rule,) = spec["rules"]
    assert rule["host"] == "bot.llm.example.com"
    (path,) = rule["http"]["paths"]
    assert path["path"] == "/v1"
    # The gateway, never the model's own Service.
    assert path["backend"]["service"] == {"name": "support-bot-gateway", "port": {"name": "http"}}
    found = ingress_annotations_of(full)
    assert found[f"{NGINX}/force-ssl-redirect"] == "true"
    assert found[f"{NGINX}/auth-tls-verify-client"] == "on"
    assert found[f"{NGINX}/auth-tls-secret"] == "llm-prod/partners-ca"
    assert found[f"{NGINX}/limit-rps"] == "7"
    assert found[f"{NGINX}/limit-burst-multiplier"] == "5"  # ceil(30 / 7)
    assert found[f"{NGINX}/proxy-body-size"] == "196k"  # ceil(200000 / 1024)
    assert found[f"{NGINX}/whitelist-source-range"] == "10.20.0.0/16,192.168.10.0/24"
    assert found["cert-manager.io/cluster-issuer"] == "internal-ca"


def test_default_ingress_admits_private_networks_only(
    defaults: list[CapturedResource],
) -> None:
    found = ingress_annotations_of(defaults)
    ranges = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"
    assert found[f"{NGINX}/whitelist-source-range"] == ranges


def test_default_ingress_uses_oauth2_proxy(defaults: list[CapturedResource]) -> None:
    found = ingress_annotations_of(defaults)
    assert found[f"{NGINX}/auth-url"] == "https://$host/oauth2/auth"
    assert found[f"{NGINX}/auth-signin"].startswith("https://$host/oauth2/start")
    assert found[f"{NGINX}/limit-rps"] == "20"
    assert found[f"{NGINX}/limit-burst-multiplier"] == "2"
    assert found[f"{NGINX}/proxy-body-size"] == "64k"
    spec = one(defaults, "Ingress")["spec"]
    assert spec["tls"] == [{"hosts": ["chat.inferstack.internal"], "secretName": "chat-tls"}]


def test_oidc_urls_from_the_spec(recording: Recording) -> None:
    spec = {
        **DEFAULTS,
        "security": {
            "oidc_auth_url": "https://sso.example.com/oauth2/auth",
            "oidc_signin_url": "https://sso.example.com/oauth2/start",
        },
    }
    found = ingress_annotations_of(run(recording, spec))
    assert found[f"{NGINX}/auth-url"] == "https://sso.example.com/oauth2/auth"
    assert found[f"{NGINX}/auth-signin"] == "https://sso.example.com/oauth2/start"


# -- monitoring ------------------------------------------------------------------------------


def test_service_monitor_scrapes_the_metrics_path(defaults: list[CapturedResource]) -> None:
    monitor = one(defaults, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    spec = monitor["spec"]
    assert (
        spec["selector"]["matchLabels"].items()
        <= one(defaults, "Service")["metadata"]["labels"].items()
    )
    assert spec["namespaceSelector"] == {"matchNames": ["chat"]}
    assert spec["endpoints"][0]["port"] == "http"
    assert spec["endpoints"][0]["path"] == "/metrics"


def test_dashboard_config_map_has_the_llm_panels(defaults: list[CapturedResource]) -> None:
    config_map = one(defaults, "ConfigMap")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    board = json.loads(config_map["data"]["chat.json"])
    titles = {p["title"] for p in board["panels"]}
    assert {
        "Requests running / waiting",
        "KV cache usage",
        "Time to first token",
        "Time per output token",
        "Tokens/s",
    } <= titles
    exprs = " ".join(t["expr"] for p in board["panels"] for t in p["targets"])
    for metric in (
        "vllm:num_requests_running",
        "vllm:num_requests_waiting",
        "vllm:kv_cache_usage_perc",
        "vllm:time_to_first_token_seconds_bucket",
        "vllm:generation_tokens_total",
    ):
        assert metric in exprs


# -- outputs and providers -------------------------------------------------------------------


def test_outputs(recording: Recording) -> None:
    seen: dict[str, Any] = {}

    def program() -> None:
        service = LLMService("support-bot", FULL, args=FULL_ARGS)
        for key, output in service.outputs().items():
            output.apply(functools.partial(seen.__setitem__, key))

    recording(program)
    assert seen == {
        "namespace": "llm-prod",
        "service_name": "support-bot",
        "endpoint_url": "https://bot.llm.example.com/v1",
        "service_account_name": "support-bot",
        "gateway_service_name": "support-bot-gateway",
    }


def test_children_use_the_given_provider(recording: Recording) -> None:
    def program() -> None:
        import pulumi_kubernetes as k8s

        provider = k8s.Provider("site-a", namespace="llm")
        LLMService("chat", DEFAULTS, provider=provider)

    resources = recording(program)
    (provider,) = [r for r in resources if r.type == "pulumi:providers:kubernetes"]
    children = [r for r in resources if r.custom and r.type.startswith("kubernetes:")]
    assert children
    for child in children:
        assert child.provider_urn == provider.urn, child.urn


def test_update_mode_gives_the_same_inputs(
    recording: Recording, defaults: list[CapturedResource]
) -> None:
    updated = run(recording, DEFAULTS, preview=False)
    assert {r.urn: r.inputs for r in updated if r.custom} == {
        r.urn: r.inputs for r in defaults if r.custom
    }


# -- bad specs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"serving": {"runtime": "lmi"}}, "serving.runtime"),
        ({"serving": {"runtime": "llamacpp"}}, "model.dtype"),
        (
            {"model": {"id": "Qwen/Qwen2.5-0.5B-Instruct", "source": "s3://bucket/q"}},
            "model.source",
        ),
        (
            {"model": {"id": "meta-llama/Llama-3.1-70B-Instruct"}, "compute": {"gpu_count": 1}},
            "compute.gpu_type",
        ),
        ({"tags": {"team": "ML Platform!"}}, "tags.team"),
        (
            {
                "model": {
                    "id": "Qwen/Qwen2.5-0.5B-Instruct",
                    "source": "hf://Qwen/Qwen2.5-0.5B-Instruct-GGUF",
                    "dtype": "gguf-q8_0",
                },
                "serving": {"runtime": "ollama"},
                "scaling": {"min_replicas": 0, "scale_to_zero": True},
            },
            "scaling.scale_to_zero",
        ),
        ({"observability": {"metrics": False}}, "observability.metrics"),
    ],
)
def test_bad_spec_raises_before_any_resource(
    recording: Recording, changes: dict[str, Any], path: str
) -> None:
    errors: list[SpecError] = []

    def program() -> None:
        try:
            LLMService("chat", {**DEFAULTS, **changes})
        except SpecError as exc:
            errors.append(exc)

    captured = recording(program)
    assert [e.path for e in errors] == [path]
    assert str(errors[0]).startswith("LLMService('chat') spec.")
    assert [r.type for r in captured if r.type != STACK] == []


def test_bad_cluster_settings_name_the_config_key(recording: Recording) -> None:
    errors: list[SpecError] = []

    def program() -> None:
        try:
            LLMService("chat", DEFAULTS)
        except SpecError as exc:
            errors.append(exc)

    config = {"inferstack:kubernetes": json.dumps({"model_cache": {"kind": "hostpath"}})}
    captured = recording(program, config=config)
    assert str(errors[0]).startswith("inferstack:kubernetes.model_cache.kind:")
    assert [r.type for r in captured if r.type != STACK] == []


def test_bad_component_name() -> None:
    with pytest.raises(SpecError, match="DNS label"):
        LLMService("Chat_Bot", DEFAULTS, args=LLMServiceArgs())

"""Fleet: per-site providers, device-pinned DaemonSets, offline delivery, rollout and telemetry."""

from __future__ import annotations

import copy
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from inferstack.deployment import DeploymentSpec, parse_deployment
from inferstack.deployment.targets import Hardware
from inferstack.errors import SpecError
from inferstack.jetson import Fleet, plan
from inferstack.jetson import labels as node_labels
from inferstack.jetson.args import FleetArgs
from inferstack.jetson.serving import FETCH_IMAGE
from inferstack.preview import CapturedResource
from inferstack.preview.values import Secret

Recording = Callable[..., list[CapturedResource]]

DAEMONSET = "kubernetes:apps/v1:DaemonSet"
PROVIDER = "pulumi:providers:kubernetes"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
COMPONENT = "inferstack:jetson:Fleet"
DIGEST = "@sha256:" + "c" * 64
QWEN = "Qwen/Qwen2.5-1.5B-Instruct"
GGUF_NEW = "hf://Qwen/Qwen2.5-1.5B-Instruct-GGUF@91cad51170dc346986eccefdc2dd33a9da36ead9"
GGUF_OLD = "hf://Qwen/Qwen2.5-1.5B-Instruct-GGUF@dd26da440ef0330c47919d1ecae0966d24022222"

DEFAULTS: dict[str, Any] = {
    "name": "lab",
    "model": {"id": QWEN},
    "compute": {
        "fleet": {
            "sites": [{"name": "lab", "context": "jetson-lab"}],
            "device_groups": [{"site": "lab", "module": "orin-nano-8gb", "count": 2}],
            "cohorts": [{"name": "stable", "sources": {"gguf-q4_k_m": GGUF_NEW}}],
        }
    },
}


def named(containers: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """The container called ``name``: serving pods run the server and the gateway."""
    (found,) = [c for c in containers if c["name"] == name]
    return found


def build(spec: DeploymentSpec) -> plan.FleetPlan:
    """The fleet's plan; it reads hardware per device group from the spec, so any module does."""
    return plan.build_plan(
        spec, Hardware("jetson", "agx-orin-64gb", 1), FleetArgs(), name=spec.name
    )


def full(devices: int = 1, sites: int = 3) -> dict[str, Any]:
    names = [f"clinic-{i}" for i in range(sites)]
    groups: list[dict[str, Any]] = []
    for name in names:
        groups += [
            {"site": name, "module": "agx-orin-64gb", "count": devices, "cohort": "canary"},
            {"site": name, "module": "orin-nx-16gb", "count": 4 * devices, "cohort": "stable"},
            {"site": name, "module": "orin-nano-8gb", "count": 8 * devices, "cohort": "stable"},
        ]
    images = {
        "vllm": "dustynv/vllm:0.6.6-r36.4.0" + DIGEST,
        "llamacpp": "dustynv/llama_cpp:r36.4.0" + DIGEST,
    }
    return {
        "name": "triage",
        "environment": "prod",
        "model": {"id": QWEN, "source": f"hf://{QWEN}@fb163acb387a011a0cd205b259aa1b253299a05d"},
        "compute": {
            "fleet": {
                "sites": [
                    {
                        "name": name,
                        "kubeconfig_secret": f"kubeconfig-{name}",
                        "link_mbps": 20 * (i + 1),
                        "mirror": {
                            "registry": f"registry.{name}.lan:5000",
                            "models_url": f"http://10.{i}.0.5:8080",
                            "cidr": f"10.{i}.0.5/32",
                        },
                    }
                    for i, name in enumerate(names)
                ],
                "device_groups": groups,
                "cohorts": [
                    {
                        "name": "canary",
                        "sources": {
                            "bf16": f"hf://{QWEN}@989aa7980e4cf806f80c7fef2b1adb7bc71aa306",
                            "gguf-q4_k_m": GGUF_NEW,
                        },
                        "images": images,
                    },
                    {"name": "stable", "sources": {"gguf-q4_k_m": GGUF_OLD}, "images": images},
                ],
                "variants": {"orin-nx-16gb": {"dtype": "bf16", "runtime": "vllm"}},
                "telemetry": {
                    "endpoint": "https://metrics.example.org/write",
                    "cidr": "203.0.113.7/32",
                },
                "exporter_image": "quay.io/prometheus/node-exporter:v1.8.2" + DIGEST,
            }
        },
        "security": {"network": {"hostname": "triage.internal"}},
        "compliance": {"frameworks": ["hipaa"], "phi": True},
    }


def secrets(sites: int = 3) -> dict[str, str]:
    return {
        f"inferstack:kubeconfig-clinic-{i}": "apiVersion: v1\nkind: Config\n" for i in range(sites)
    }


def run(recording: Recording, spec: dict[str, Any], **kwargs: Any) -> list[CapturedResource]:
    return recording(lambda: Fleet(spec["name"], spec), **kwargs)


@pytest.fixture(scope="module")
def prod(request: pytest.FixtureRequest) -> list[CapturedResource]:
    from inferstack.preview import record

    return record(lambda: Fleet("triage", full()), config=secrets())


def of(resources: list[CapturedResource], kind: str) -> list[CapturedResource]:
    return [r for r in resources if r.type == kind]


def serving(resources: list[CapturedResource]) -> list[CapturedResource]:
    return [
        r
        for r in of(resources, DAEMONSET)
        if r.inputs["metadata"]["labels"].get("app.kubernetes.io/component") == "inference-server"
    ]


def pod(resource: CapturedResource) -> dict[str, Any]:
    spec: dict[str, Any] = resource.inputs["spec"]["template"]["spec"]
    return spec


def affinity(resource: CapturedResource) -> dict[str, list[str]]:
    terms = pod(resource)["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    assert len(terms["nodeSelectorTerms"]) == 1
    return {
        e["key"]: e.get("values", []) for e in terms["nodeSelectorTerms"][0]["matchExpressions"]
    }


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_one_provider_per_site(prod: list[CapturedResource]) -> None:
    providers = of(prod, PROVIDER)
    assert len(providers) == 3
    assert all(isinstance(p.inputs["kubeconfig"], Secret) for p in providers)
    by_provider = Counter(r.provider_urn for r in prod if r.type.startswith("kubernetes:"))
    assert set(by_provider) == {p.urn for p in providers}


def test_every_child_is_parented_to_the_fleet(prod: list[CapturedResource]) -> None:
    (fleet,) = of(prod, COMPONENT)
    children = [r for r in prod if r.type not in (COMPONENT, "pulumi:pulumi:Stack")]
    assert children
    assert all(r.parent == fleet.urn for r in children)


def test_serving_daemonsets_use_the_gpu_and_pin_devices(prod: list[CapturedResource]) -> None:
    daemonsets = serving(prod)
    assert len(daemonsets) == 9  # 3 sites x 3 device groups
    for ds in daemonsets:
        spec = pod(ds)
        assert spec["runtimeClassName"] == "nvidia"
        rules = affinity(ds)
        labels = ds.inputs["metadata"]["labels"]
        assert rules[node_labels.COHORT] == [labels[node_labels.OBJECT_COHORT]]
        assert rules[node_labels.MODULE][0] in ("agx-orin-64gb", "orin-nx-16gb", "orin-nano-8gb")
        # HIPAA + PHI: only verified devices.
        assert rules[node_labels.SECURE_BOOT] == ["enabled"]
        assert rules[node_labels.DISK_ENCRYPTION] == ["enabled"]
        server = named(spec["containers"], "server")
        env = env_of(server)
        assert env["JETSON_JETPACK"] == "6"
        assert "@sha256:" in server["image"]
        assert server["image"].startswith("registry.clinic-")
        assert env["HF_ENDPOINT"].startswith("http://10.")
        security = server["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["capabilities"]["drop"] == ["ALL"]
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        cache = next(v for v in spec["volumes"] if v["name"] == "model-cache")
        assert cache["persistentVolumeClaim"]["claimName"] == "triage-model-cache"


def test_the_model_cache_is_a_directory_on_each_device(prod: list[CapturedResource]) -> None:
    volumes = of(prod, "kubernetes:core/v1:PersistentVolume")
    claims = of(prod, "kubernetes:core/v1:PersistentVolumeClaim")
    assert len(volumes) == len(claims) == 3  # one per site, whatever the number of devices
    for volume in volumes:
        spec = volume.inputs["spec"]
        assert spec["local"]["path"] == "/var/lib/inferstack/models"
        assert spec["persistentVolumeReclaimPolicy"] == "Retain"
        terms = spec["nodeAffinity"]["required"]["nodeSelectorTerms"]
        keys = {e["key"] for e in terms[0]["matchExpressions"]}
        assert {node_labels.MODULE, node_labels.SECURE_BOOT, node_labels.DISK_ENCRYPTION} <= keys
    namespaces = of(prod, "kubernetes:core/v1:Namespace")
    assert {
        n.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] for n in namespaces
    } == {"restricted"}


def test_small_modules_run_llamacpp_gguf_from_the_mirror(prod: list[CapturedResource]) -> None:
    nano = [ds for ds in serving(prod) if affinity(ds)[node_labels.MODULE] == ["orin-nano-8gb"]]
    assert len(nano) == 3
    for ds in nano:
        server = named(pod(ds)["containers"], "server")
        assert "/app/llama-server" in server["args"]
        env = env_of(server)
        # Each revision has its own file in the device cache.
        model_file = env["MODEL_FILE"]
        assert model_file in server["args"]
        assert "dd26da440ef0330c47919d1ecae0966d24022222/Q4_K_M.gguf" in model_file
        # The fetch script honours the site's model mirror.
        assert "${HF_ENDPOINT:-https://huggingface.co}" in env["FETCH_SCRIPT"]
        assert server["resources"]["limits"]["memory"] == "6Gi"  # 8 GB - 2 GB reserve


def test_startup_budget_follows_model_and_link(prod: list[CapturedResource]) -> None:
    thresholds: dict[tuple[str, str], int] = {}
    for ds in serving(prod):
        labels = ds.inputs["metadata"]["labels"]
        server = named(pod(ds)["containers"], "server")
        key = (labels[node_labels.SITE], affinity(ds)[node_labels.MODULE][0])
        thresholds[key] = int(server["startupProbe"]["failureThreshold"])
    # clinic-0 has the slowest link (20 Mbit/s), clinic-2 the fastest (60 Mbit/s).
    for module in ("agx-orin-64gb", "orin-nano-8gb"):
        assert thresholds[("clinic-0", module)] > thresholds[("clinic-2", module)]
    # bf16 on AGX moves more bytes than the 4-bit GGUF on Nano.
    assert thresholds[("clinic-0", "agx-orin-64gb")] > thresholds[("clinic-0", "orin-nano-8gb")]
    built = build(parse_deployment(full()))
    expected = {(w.site.name, w.module.name): w.budget.failure_threshold for w in built.workloads}
    assert thresholds == expected


def test_rolling_updates_and_disruption_budgets_keep_sites_serving(
    prod: list[CapturedResource],
) -> None:
    for ds in serving(prod):
        strategy = ds.inputs["spec"]["updateStrategy"]["rollingUpdate"]
        module = affinity(ds)[node_labels.MODULE][0]
        devices = {"agx-orin-64gb": 1, "orin-nx-16gb": 4, "orin-nano-8gb": 8}[module]
        assert strategy["maxSurge"] == 0
        assert strategy["maxUnavailable"] == plan.max_unavailable(devices)
        if devices > 1:
            assert strategy["maxUnavailable"] < devices
    budgets = of(prod, PDB)
    assert len(budgets) == 3  # one per site, over every serving pod of the site
    for budget in budgets:
        # 13 devices per site: drains may take 3 of them at once, never the whole site.
        assert budget.inputs["spec"]["maxUnavailable"] == 3
        selector = budget.inputs["spec"]["selector"]["matchLabels"]
        assert selector["app.kubernetes.io/component"] == "inference-server"


def test_stable_devices_stage_the_canary_release(prod: list[CapturedResource]) -> None:
    prepull = [
        ds
        for ds in of(prod, DAEMONSET)
        if ds.inputs["metadata"]["labels"].get("app.kubernetes.io/component") == "prepull"
    ]
    assert len(prepull) == 6  # the stable groups (NX + Nano) of 3 sites
    for ds in prepull:
        assert affinity(ds)[node_labels.COHORT] == ["stable"]
        (fetch,) = pod(ds)["initContainers"]
        values = " ".join(str(v) for v in env_of(fetch).values())
        assert "91cad51170dc346986eccefdc2dd33a9da36ead9" in values or "989aa798" in values
        (hold,) = pod(ds)["containers"]
        assert hold["image"] == fetch["image"]
        assert "runtimeClassName" not in pod(ds)


def test_egress_allows_only_dns_the_mirror_and_telemetry(prod: list[CapturedResource]) -> None:
    policies = of(prod, POLICY)
    for site in range(3):
        mine = [
            p
            for p in policies
            if p.inputs["metadata"]["labels"][node_labels.SITE] == f"clinic-{site}"
        ]
        deny = next(p for p in mine if p.inputs["metadata"]["name"].endswith("default-deny"))
        assert deny.inputs["spec"]["policyTypes"] == ["Ingress", "Egress"]
        egress_rules = [
            rule
            for p in mine
            if "Egress" in p.inputs["spec"]["policyTypes"]
            for rule in p.inputs["spec"].get("egress", [])
        ]
        blocks = [
            peer["ipBlock"]["cidr"]
            for rule in egress_rules
            for peer in rule["to"]
            if "ipBlock" in peer
        ]
        assert sorted(blocks) == sorted([f"10.{site}.0.5/32", "203.0.113.7/32"])
        assert "0.0.0.0/0" not in blocks


def test_canary_alerts_and_device_telemetry(prod: list[CapturedResource]) -> None:
    (rules,) = [
        r for r in of(prod, RULE) if r.inputs["metadata"]["labels"][node_labels.SITE] == "clinic-0"
    ]
    alerts = {rule["alert"] for group in rules.inputs["spec"]["groups"] for rule in group["rules"]}
    assert {
        "FleetCanaryErrorRate",
        "FleetCanarySlowFirstToken",
        "FleetCanaryMemoryPressure",
        "JetsonMemoryPressure",
        "JetsonThermalThrottling",
    } <= alerts
    exporters = [
        ds
        for ds in of(prod, DAEMONSET)
        if ds.inputs["metadata"]["labels"].get("app.kubernetes.io/component") == "jetson-exporter"
    ]
    assert len(exporters) == 3
    monitors = of(prod, "kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
    assert len(monitors) == 6  # server + exporter per site
    dashboards = [
        r
        for r in of(prod, "kubernetes:core/v1:ConfigMap")
        if r.inputs["metadata"]["labels"].get("grafana_dashboard") == "1"
    ]
    assert len(dashboards) == 3
    assert "node_thermal_zone_temp" in next(iter(dashboards[0].inputs["data"].values()))
    for exporter in exporters:
        (container,) = pod(exporter)["containers"]
        assert "--collector.thermal_zone" in container["args"]
        assert container["image"].startswith("registry.clinic-")
        assert all("hostPath" not in v for v in pod(exporter).get("volumes", []))


def test_resources_grow_with_sites_and_cohorts_not_devices(recording: Recording) -> None:
    few = recording(lambda: Fleet("triage", full(devices=1)), config=secrets())
    many = recording(lambda: Fleet("triage", full(devices=500)), config=secrets())
    assert Counter(r.type for r in few) == Counter(r.type for r in many)
    more_sites = recording(lambda: Fleet("triage", full(sites=4)), config=secrets(4))
    assert len(more_sites) > len(few)
    one_cohort = copy.deepcopy(full())
    fleet = one_cohort["compute"]["fleet"]
    fleet["cohorts"] = fleet["cohorts"][1:]
    for group in fleet["device_groups"]:
        group["cohort"] = "stable"
        group["name"] = f"{group['module']}-{group['count']}"
    fewer = recording(lambda: Fleet("triage", one_cohort), config=secrets())
    assert len(fewer) < len(few)


def test_defaults_only_fleet(recording: Recording) -> None:
    resources = run(recording, DEFAULTS)
    assert len(of(resources, PROVIDER)) == 1
    (ds,) = serving(resources)
    rules = affinity(ds)
    assert rules == {node_labels.MODULE: ["orin-nano-8gb"], node_labels.COHORT: ["stable"]}
    server = named(pod(ds)["containers"], "server")
    assert server["image"].startswith("dustynv/llama_cpp")
    policies = of(resources, POLICY)
    egress = [rule for p in policies for rule in p.inputs["spec"].get("egress", [])]
    https = [rule for rule in egress if rule.get("ports") == [{"protocol": "TCP", "port": 443}]]
    # Without a mirror, the hub over HTTPS, with private ranges excluded.
    assert https and "10.0.0.0/8" in https[0]["to"][0]["ipBlock"]["except"]


def test_preview_and_update_register_the_same_resources(recording: Recording) -> None:
    preview = recording(lambda: Fleet("triage", full()), config=secrets(), preview=True)
    update = recording(lambda: Fleet("triage", full()), config=secrets(), preview=False)
    assert sorted(r.urn for r in preview) == sorted(r.urn for r in update)


def test_a_model_that_does_not_fit_registers_nothing(recording: Recording) -> None:
    spec = copy.deepcopy(DEFAULTS)
    spec["model"] = {"id": "meta-llama/Llama-3.1-8B-Instruct"}
    spec["compute"]["fleet"]["variants"] = {"orin-nano-8gb": {"dtype": "bf16", "runtime": "vllm"}}
    with pytest.raises(SpecError) as caught:
        run(recording, spec)
    assert caught.value.path == "compute.fleet.device_groups[0]"


def tagged_fleet(environment: str, frameworks: list[str], **fleet: Any) -> DeploymentSpec:
    """DEFAULTS (llama.cpp on Orin Nano, its catalog image by tag) in ``environment``."""
    spec = copy.deepcopy(DEFAULTS)
    spec["environment"] = environment
    spec["compliance"] = {"frameworks": frameworks}
    spec["compute"]["fleet"].update(fleet)
    return parse_deployment(spec)


@pytest.mark.parametrize(
    ("environment", "frameworks"), [("staging", ["owasp-llm"]), ("prod", ["hipaa"])]
)
def test_an_image_by_tag_is_refused_where_the_packs_require_digests(
    environment: str, frameworks: list[str]
) -> None:
    # kubernetes-apps-workload-require-image-digest: prod in every pack, staging too in owasp-llm.
    keys = []
    for fleet in ({}, {"exporter_image": "quay.io/prometheus/node-exporter:v1.8.2" + DIGEST}):
        with pytest.raises(SpecError) as caught:
            build(tagged_fleet(environment, frameworks, **fleet))
        assert f"which {environment} " in str(caught.value)
        keys.append(caught.value.path)
    assert keys == ["compute.fleet.exporter_image", "compute.fleet.cohorts[0].images.llamacpp"]


@pytest.mark.parametrize(
    ("environment", "frameworks"), [("staging", ["hipaa", "gdpr"]), ("dev", ["owasp-llm"])]
)
def test_tags_are_kept_where_no_pack_the_stack_runs_requires_digests(
    environment: str, frameworks: list[str]
) -> None:
    (workload,) = build(tagged_fleet(environment, frameworks)).workloads
    assert workload.release.image == "dustynv/llama_cpp:r36.4.0"


# -- Ollama on every module ---------------------------------------------------------------------

OLLAMA = "ollama/ollama:0.12.3@sha256:" + "d" * 64


def ollama_fleet(canary: str = "ollama") -> dict[str, Any]:
    spec = copy.deepcopy(full())
    fleet = spec["compute"]["fleet"]
    images = {"ollama": OLLAMA, "llamacpp": "dustynv/llama_cpp:r36.4.0" + DIGEST}
    fleet["cohorts"] = [
        {"name": "canary", "sources": {"gguf-q4_k_m": GGUF_NEW}, "images": images},
        {"name": "stable", "sources": {"gguf-q4_k_m": GGUF_OLD}, "images": images},
    ]
    gguf = {"dtype": "gguf-q4_k_m", "runtime": "ollama"}
    fleet["variants"] = dict.fromkeys(("orin-nx-16gb", "orin-nano-8gb"), gguf)
    fleet["variants"]["agx-orin-64gb"] = {**gguf, "runtime": canary}
    spec["model"] = {
        "id": QWEN,
        "source": GGUF_OLD,
        "dtype": "gguf-q4_k_m",
        "hf_token_secret": {"name": "hf-token"},
    }
    spec["serving"] = {"runtime": "ollama"}
    return spec


@pytest.fixture(scope="module")
def ollama() -> list[CapturedResource]:
    from inferstack.preview import record

    return record(lambda: Fleet("triage", ollama_fleet()), config=secrets())


def test_ollama_serves_the_gguf_the_init_container_stages(ollama: list[CapturedResource]) -> None:
    daemonsets = serving(ollama)
    assert len(daemonsets) == 9
    for ds in daemonsets:
        spec = pod(ds)
        server = named(spec["containers"], "server")
        fetch = named(spec["initContainers"], "model-download")
        env, fetched = env_of(server), env_of(fetch)
        assert spec["runtimeClassName"] == "nvidia"
        assert server["args"] == ["ollama", "serve"]
        assert server["image"].startswith("registry.clinic-") and server["image"].endswith(OLLAMA)
        assert fetch["image"].startswith("registry.clinic-")
        assert fetch["image"].endswith(FETCH_IMAGE.removeprefix("curlimages/curl"))
        assert env["JETSON_JETPACK"] == "6"
        assert env["OLLAMA_HOST"] == "0.0.0.0:8000"
        assert env["OLLAMA_MODELS"] == "/models/ollama"  # the device cache
        assert env["OLLAMA_KEEP_ALIVE"] == "-1"
        assert env["MODEL_FILE"] == fetched["MODEL_FILE"]
        assert env["OLLAMA_MODEL_NAME"] == QWEN
        assert fetched["HF_ENDPOINT"].startswith("http://10.")
        # The token reaches the fetch only.
        assert "HF_TOKEN" in fetched and "HF_TOKEN" not in env
        assert server["readinessProbe"]["httpGet"]["path"] == "/api/version"
        assert server["securityContext"]["readOnlyRootFilesystem"] is True
        assert {m["mountPath"] for m in fetch["volumeMounts"]} == {"/models", "/tmp"}
        module = affinity(ds)[node_labels.MODULE][0]
        family = {"agx-orin-64gb": (8192, 16), "orin-nx-16gb": (4096, 8)}
        context, sequences = family.get(module, (4096, 4))
        assert env["OLLAMA_CONTEXT_LENGTH"] == str(context)
        assert env["OLLAMA_NUM_PARALLEL"] == str(min(sequences, 16))


# Answers `list` only once its server is up, as Ollama does.
FAKE_OLLAMA = """#!/bin/sh
case "$1" in
  serve)
    echo "serve $OLLAMA_HOST" >> "$OLLAMA_LOG"
    if [ "$OLLAMA_HOST" = 127.0.0.1:11435 ]; then sleep 30; fi ;;
  list) [ "$OLLAMA_HOST" = 127.0.0.1:11435 ] && grep -q "serve $OLLAMA_HOST" "$OLLAMA_LOG" ;;
  create) echo "create $2 $(cat "$4") $OLLAMA_HOST" >> "$OLLAMA_LOG" ;;
esac
"""


def test_the_ollama_start_imports_the_file_then_serves(
    ollama: list[CapturedResource], tmp_path: Path
) -> None:
    server = named(pod(serving(ollama)[0])["containers"], "server")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "ollama"
    fake.write_text(FAKE_OLLAMA)
    fake.chmod(0o755)
    env = {k: v for k, v in env_of(server).items() if isinstance(v, str)}
    log = tmp_path / "ollama.log"
    env.update(
        {"TMPDIR": str(tmp_path), "OLLAMA_LOG": str(log), "PATH": f"{bin_dir}:/usr/bin:/bin"}
    )
    subprocess.run([*server["command"], *server["args"]], env=env, check=True, timeout=60)
    lines = log.read_text().splitlines()
    assert lines == [
        "serve 127.0.0.1:11435",
        f"create {QWEN} FROM {env['MODEL_FILE']} 127.0.0.1:11435",
        "serve 0.0.0.0:8000",
    ]


def test_ollama_startup_waits_only_for_the_load(ollama: list[CapturedResource]) -> None:
    thresholds: dict[str, set[int]] = {}
    for ds in serving(ollama):
        server = named(pod(ds)["containers"], "server")
        module = affinity(ds)[node_labels.MODULE][0]
        thresholds.setdefault(module, set()).add(server["startupProbe"]["failureThreshold"])
    # The init container fetches before the server starts: the link speed of the site
    # (20 to 60 Mbit/s) no longer stretches the probe.
    assert all(len(found) == 1 for found in thresholds.values())
    built = build(parse_deployment(ollama_fleet()))
    assert {w.budget.download_seconds for w in built.workloads} == {0}


def test_one_prepull_per_staged_release_and_site(ollama: list[CapturedResource]) -> None:
    prepulls = [
        ds
        for ds in of(ollama, DAEMONSET)
        if ds.inputs["metadata"]["labels"].get("app.kubernetes.io/component") == "prepull"
    ]
    # The stable NX and Nano groups stage the same canary release: one DaemonSet per site.
    assert len(prepulls) == 3
    for ds in prepulls:
        terms = pod(ds)["affinity"]["nodeAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"
        ]
        modules = set()
        for term in terms["nodeSelectorTerms"]:
            found = {e["key"]: e["values"] for e in term["matchExpressions"]}
            assert found[node_labels.COHORT] == ["stable"]
            assert found[node_labels.SECURE_BOOT] == found[node_labels.DISK_ENCRYPTION]
            modules.update(found[node_labels.MODULE])
        assert modules == {"orin-nx-16gb", "orin-nano-8gb"}
        (fetch,) = pod(ds)["initContainers"]
        assert "91cad51170dc346986eccefdc2dd33a9da36ead9" in env_of(fetch)["MODEL_FILE"]
        (hold,) = pod(ds)["containers"]
        assert hold["image"].endswith(OLLAMA)
        assert node_labels.DEVICE_GROUP not in ds.inputs["metadata"]["labels"]
        assert ds.inputs["metadata"]["name"] == "triage-stable-prepull"


def canary_alerts(resources: list[CapturedResource], site: str = "clinic-0") -> dict[str, Any]:
    (rules,) = [
        r for r in of(resources, RULE) if r.inputs["metadata"]["labels"][node_labels.SITE] == site
    ]
    return {
        rule["alert"]: rule
        for group in rules.inputs["spec"]["groups"]
        if group["name"].endswith(".canary")
        for rule in group["rules"]
    }


@pytest.mark.parametrize("runtime", ["ollama", "llamacpp"])
def test_canary_alerts_only_use_series_the_runtime_exports(
    recording: Recording, runtime: str
) -> None:
    resources = recording(lambda: Fleet("triage", ollama_fleet(runtime)), config=secrets())
    alerts = canary_alerts(resources)
    assert set(alerts) == {
        "FleetCanaryRestarts",
        "FleetCanaryUnavailable",
        "FleetCanaryMemoryPressure",
    }
    pressure = alerts["FleetCanaryMemoryPressure"]["expr"]
    assert "node_memory_MemAvailable_bytes" in pressure and "kube_pod_info" in pressure
    assert 'created_by_name=~"triage-canary-agx-orin-64gb"' in pressure
    # Unready for longer than the startup budget of the canary devices.
    built = build(parse_deployment(ollama_fleet(runtime)))
    budget = max(w.budget.seconds for w in built.workloads if w.cohort == "canary")
    assert int(alerts["FleetCanaryUnavailable"]["for"].removesuffix("m")) * 60 > budget
    # The exporter's series carry their node, which the memory alert joins on.
    exporter_monitors = [
        r
        for r in of(resources, "kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
        if "jetson-exporter" in r.inputs["metadata"]["name"]
    ]
    (endpoint,) = exporter_monitors[0].inputs["spec"]["endpoints"]
    assert endpoint["relabelings"][0]["targetLabel"] == "node"


def test_vllm_canaries_keep_error_rate_and_first_token_alerts(
    prod: list[CapturedResource],
) -> None:
    alerts = canary_alerts(prod)
    assert 'app_kubernetes_io_name="vllm"' in alerts["FleetCanaryErrorRate"]["expr"]
    assert "vllm:time_to_first_token" in alerts["FleetCanarySlowFirstToken"]["expr"]


def test_an_ollama_site_is_scraped_only_on_the_exporter(ollama: list[CapturedResource]) -> None:
    monitors = of(ollama, "kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
    assert all("jetson-exporter" in m.inputs["metadata"]["name"] for m in monitors)
    assert len(monitors) == 3
    scrapers = [p for p in of(ollama, POLICY) if p.name.endswith("allow-metrics-scraper")]
    assert len(scrapers) == 3
    for policy in scrapers:
        (rule,) = policy.inputs["spec"]["ingress"]
        assert rule["ports"] == [{"protocol": "TCP", "port": 9100}]


def test_api_key_auth_is_refused_where_a_group_serves_with_ollama(recording: Recording) -> None:
    keyed = {**DEFAULTS, "security": {"auth": "api_key"}}
    # llama.cpp (the default on small modules) checks the key itself.
    llamacpp = run(recording, keyed)
    (ds,) = serving(llamacpp)
    server = named(pod(ds)["containers"], "server")
    assert "secretKeyRef" in env_of(server)["LLAMA_API_KEY"]
    ollama = copy.deepcopy(keyed)
    ollama["serving"] = {"runtime": "ollama"}
    ollama["compute"]["fleet"]["variants"] = {
        "orin-nano-8gb": {"dtype": "gguf-q4_k_m", "runtime": "ollama"}
    }
    with pytest.raises(SpecError) as caught:
        build(parse_deployment(ollama))
    assert caught.value.path == "security.auth"
    assert "Ollama (device group 'orin-nano-8gb' at site 'lab') has no API key check" in str(
        caught.value
    )

"""Fleet: per-site providers, device-pinned DaemonSets, offline delivery, rollout and telemetry."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from inferstack.errors import SpecError
from inferstack.jetson import Fleet, plan
from inferstack.jetson import labels as node_labels
from inferstack.preview import CapturedResource
from inferstack.preview.values import Secret
from inferstack.spec import parse_deployment

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
        (server,) = spec["containers"]
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
        (server,) = pod(ds)["containers"]
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
        (server,) = pod(ds)["containers"]
        key = (labels[node_labels.SITE], affinity(ds)[node_labels.MODULE][0])
        thresholds[key] = int(server["startupProbe"]["failureThreshold"])
    # clinic-0 has the slowest link (20 Mbit/s), clinic-2 the fastest (60 Mbit/s).
    for module in ("agx-orin-64gb", "orin-nano-8gb"):
        assert thresholds[("clinic-0", module)] > thresholds[("clinic-2", module)]
    # bf16 on AGX moves more bytes than the 4-bit GGUF on Nano.
    assert thresholds[("clinic-0", "agx-orin-64gb")] > thresholds[("clinic-0", "orin-nano-8gb")]
    built = plan.build(parse_deployment(full()))
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
    (server,) = pod(ds)["containers"]
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

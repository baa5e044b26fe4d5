"""The jetson stacks: valid configs, offline preview and update, one folder of valid YAML per site.

Built-in kinds are validated by kubernetes-validate (strict, Kubernetes 1.30); the
prometheus-operator CRDs (ServiceMonitor, PrometheusRule) are outside its schemas.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from inferstack import catalog
from inferstack.deployment import is_digest_pinned, load_stack_config
from inferstack.jetson import labels as node_labels
from inferstack.jetson.gateway import GATEWAY_IMAGE
from inferstack.jetson.plan import split_registry
from inferstack.jetson.serving import FETCH_IMAGE
from inferstack.preview import PreviewRun, render, run_stack
from inferstack.preview.analyzer import evaluate

ROOT = Path(__file__).resolve().parents[2]
STACKS = ROOT / "stacks"
KUBERNETES_VERSION = "1.30.0"
CRD_APIS = ("monitoring.coreos.com/",)
DAEMONSET = "kubernetes:apps/v1:DaemonSet"


def config(stack: str) -> Path:
    return STACKS / f"Pulumi.{stack}.yaml"


@pytest.fixture(scope="module", params=["jetson-dev", "jetson-prod"])
def runs(request: pytest.FixtureRequest) -> dict[bool, PreviewRun]:
    path = config(request.param)
    return {preview: run_stack(path, preview=preview) for preview in (True, False)}


def test_dev_config() -> None:
    stack = load_stack_config(config("jetson-dev"))
    fleet = stack.deployment.compute.fleet
    assert stack.target == "jetson"
    assert fleet is not None
    assert [s.name for s in fleet.sites] == ["lab"]
    assert [(g.module, g.count) for g in fleet.device_groups] == [("orin-nano-8gb", 2)]


def test_prod_config() -> None:
    stack = load_stack_config(config("jetson-prod"))
    spec = stack.deployment
    fleet = spec.compute.fleet
    assert fleet is not None
    assert spec.environment == "prod"
    assert "hipaa" in spec.compliance.frameworks
    assert len(fleet.sites) == 3
    assert {g.module for g in fleet.device_groups} == {
        "agx-orin-64gb",
        "orin-nx-16gb",
        "orin-nano-8gb",
    }
    assert [c.name for c in fleet.cohorts] == ["canary", "stable"]
    for cohort in fleet.cohorts:
        assert all(is_digest_pinned(image) for image in cohort.images.values())


def test_preview_and_update_agree(runs: dict[bool, PreviewRun]) -> None:
    urns = {preview: sorted(r.urn for r in run.resources) for preview, run in runs.items()}
    assert urns[True] == urns[False]
    providers = [r for r in runs[True].resources if r.type == "pulumi:providers:kubernetes"]
    stack = load_stack_config(runs[True].config_path or "")
    assert stack.deployment.compute.fleet is not None
    assert len(providers) == len(stack.deployment.compute.fleet.sites)


def test_every_workload_is_pinned_to_devices(runs: dict[bool, PreviewRun]) -> None:
    run = runs[True]
    stack = load_stack_config(run.config_path or "")
    trusted = "hipaa" in stack.deployment.compliance.frameworks
    serving = [
        r
        for r in run.resources
        if r.type == DAEMONSET
        and r.inputs["metadata"]["labels"]["app.kubernetes.io/component"] == "inference-server"
    ]
    assert serving
    for ds in serving:
        spec = ds.inputs["spec"]["template"]["spec"]
        assert spec["runtimeClassName"] == "nvidia"
        terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        keys = {e["key"] for e in terms["nodeSelectorTerms"][0]["matchExpressions"]}
        assert {node_labels.MODULE, node_labels.COHORT} <= keys
        assert ({node_labels.SECURE_BOOT, node_labels.DISK_ENCRYPTION} <= keys) is trusted
        assert all(is_digest_pinned(c["image"]) for c in spec["containers"])
        assert spec["containers"][0]["name"] == "server"
        assert spec["containers"][0]["startupProbe"]["failureThreshold"] > 3


def test_packs_pass(runs: dict[bool, PreviewRun]) -> None:
    # The HIPAA pack is for the stack that declares HIPAA. The lab fleet runs on devices
    # without the trust labels, which that pack rightly refuses (and nothing else).
    stack = load_stack_config(runs[True].config_path or "")
    hipaa_pack = ROOT / "policy_packs" / "hipaa"
    hipaa = "hipaa" in stack.deployment.compliance.frameworks
    packs = [ROOT / "policy_packs" / "baseline", *([hipaa_pack] if hipaa else [])]
    for run in runs.values():
        mandatory = [v for v in evaluate(run, packs) if v.enforcement == "mandatory"]
        assert mandatory == []
    if not hipaa:
        refused = {
            v.policy for v in evaluate(runs[True], [hipaa_pack]) if v.enforcement == "mandatory"
        }
        assert refused == {"kubernetes-apps-daemonset-require-device-trust"}


def test_rendered_sites_are_valid_kubernetes(runs: dict[bool, PreviewRun], tmp_path: Path) -> None:
    run = runs[False]
    stack = load_stack_config(run.config_path or "")
    assert stack.deployment.compute.fleet is not None
    sites = {s.name for s in stack.deployment.compute.fleet.sites}
    files = render(run, tmp_path)
    assert {f.parent.name for f in files} == sites
    kinds: Counter[str] = Counter()
    for path in files:
        body = yaml.safe_load(path.read_text(encoding="utf-8"))
        kinds[body["kind"]] += 1
        assert body["metadata"]["labels"][node_labels.SITE] == path.parent.name
        if body["apiVersion"].startswith(CRD_APIS):
            continue
        kubernetes_validate.validate(body, KUBERNETES_VERSION, strict=True)
    assert kinds["Namespace"] == len(sites)
    assert kinds["PersistentVolume"] == len(sites)


def serving_daemonsets(run: PreviewRun) -> list[dict[str, Any]]:
    return [
        r.inputs
        for r in run.resources
        if r.type == DAEMONSET
        and r.inputs["metadata"]["labels"]["app.kubernetes.io/component"] == "inference-server"
    ]


def test_images_carry_publicly_pinned_digests(runs: dict[bool, PreviewRun]) -> None:
    ollama = catalog.runtime("ollama")
    assert ollama.digest is not None
    public = {
        f"{ollama.image}@{ollama.digest}",
        FETCH_IMAGE,
        GATEWAY_IMAGE,
        "quay.io/prometheus/node-exporter:v1.8.2"
        "@sha256:4032c6d5bfd752342c3e631c2f1de93ba6b86c41db6b167b9a35372c139e7706",
    }
    stack = load_stack_config(runs[True].config_path or "")
    fleet = stack.deployment.compute.fleet
    assert fleet is not None
    configured = {fleet.exporter_image, *(i for c in fleet.cohorts for i in c.images.values())}
    assert configured <= public
    # Mirrors keep the repository path (and the digest) of each image.
    paths = {split_registry(image)[1] for image in public}
    mirrors = tuple(s.mirror.registry + "/" for s in fleet.sites if s.mirror is not None)
    for resource in runs[True].resources:
        if resource.type != DAEMONSET:
            continue
        spec = resource.inputs["spec"]["template"]["spec"]
        for container in [*spec["containers"], *spec.get("initContainers", [])]:
            image = str(container["image"])
            prefix = next((m for m in mirrors if image.startswith(m)), None)
            path = image.removeprefix(prefix) if prefix else split_registry(image)[1]
            assert path in paths, image


def test_ollama_serves_the_staged_gguf_on_the_gpu(runs: dict[bool, PreviewRun]) -> None:
    stack = load_stack_config(runs[True].config_path or "")
    fleet = stack.deployment.compute.fleet
    assert fleet is not None
    daemonsets = serving_daemonsets(runs[True])
    assert len(daemonsets) == len(fleet.device_groups)
    for ds in daemonsets:
        spec = ds["spec"]["template"]["spec"]
        (server,) = [c for c in spec["containers"] if c["name"] == "server"]
        (fetch,) = [c for c in spec["initContainers"] if c["name"] == "model-download"]
        env = {e["name"]: e.get("value") for e in server["env"]}
        fetched = {e["name"]: e.get("value") for e in fetch["env"]}
        assert spec["runtimeClassName"] == "nvidia"
        assert server["args"] == ["ollama", "serve"]
        assert env["JETSON_JETPACK"] == "6"
        assert env["OLLAMA_KEEP_ALIVE"] == "-1"
        assert env["OLLAMA_MODELS"].startswith("/models/")  # the device cache
        assert int(env["OLLAMA_NUM_PARALLEL"]) >= 1 and int(env["OLLAMA_CONTEXT_LENGTH"]) >= 4096
        # The file the init container stages is the one the server imports.
        assert env["MODEL_FILE"] == fetched["MODEL_FILE"]
        assert fetched["MODEL_REVISION"] in env["MODEL_FILE"]
        assert "ollama create" in server["command"][2]
        assert server["readinessProbe"]["httpGet"]["path"] == "/api/version"
        assert server["securityContext"]["readOnlyRootFilesystem"] is True
        assert env["HOME"] == "/home/inferstack"
        site = ds["metadata"]["labels"][node_labels.SITE]
        mirror = fleet.site(site).mirror
        if mirror is not None:
            assert fetched["HF_ENDPOINT"] == mirror.models_url


def test_canary_alerts_use_only_series_that_exist(runs: dict[bool, PreviewRun]) -> None:
    rules = [
        r.inputs
        for r in runs[True].resources
        if r.type == "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
    ]
    canary = [
        rule
        for r in rules
        for group in r["spec"]["groups"]
        if group["name"].endswith(".canary")
        for rule in group["rules"]
    ]
    stack = load_stack_config(runs[True].config_path or "")
    fleet = stack.deployment.compute.fleet
    assert fleet is not None
    if len(fleet.cohorts) < 2:
        assert canary == []
        return
    names = {rule["alert"] for rule in canary}
    assert {"FleetCanaryRestarts", "FleetCanaryUnavailable", "FleetCanaryMemoryPressure"} <= names
    # Ollama exports no Prometheus metrics: no error-rate or first-token alerts on it.
    assert not names & {"FleetCanaryErrorRate", "FleetCanarySlowFirstToken"}
    assert not any("vllm:" in rule["expr"] or "http_requests" in rule["expr"] for rule in canary)
    scraped = [r for r in runs[True].resources if r.type.endswith(":ServiceMonitor")]
    assert all("jetson-exporter" in r.inputs["metadata"]["name"] for r in scraped)

"""The jetson stacks: valid configs, offline preview and update, one folder of valid YAML per site.

Built-in kinds are validated by kubernetes-validate (strict, Kubernetes 1.30); the
prometheus-operator CRDs (ServiceMonitor, PrometheusRule) are outside its schemas.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from inferstack.jetson import labels as node_labels
from inferstack.preview import PreviewRun, render, run_stack
from inferstack.preview.analyzer import evaluate
from inferstack.spec import is_digest_pinned, load_stack_config

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
        assert spec["containers"][0]["startupProbe"]["failureThreshold"] > 3


def test_packs_pass(runs: dict[bool, PreviewRun]) -> None:
    packs = [ROOT / "policy_packs" / "baseline", ROOT / "policy_packs" / "hipaa"]
    for run in runs.values():
        mandatory = [v for v in evaluate(run, packs) if v.enforcement == "mandatory"]
        assert mandatory == []


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

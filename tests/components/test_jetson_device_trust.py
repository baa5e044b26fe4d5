"""The device-trust rule, run through pulumi_policy's analyzer servicer on the fleet's manifests."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import pytest

from inferstack.compliance import controls
from inferstack.compliance.model import NAME_PATTERN
from inferstack.compliance.rules.jetson import RULES
from inferstack.deployment import DeploymentSpec, parse_deployment
from inferstack.deployment.targets import Hardware
from inferstack.jetson import labels as node_labels
from inferstack.jetson import plan
from inferstack.jetson.args import FleetArgs
from inferstack.jetson.manifests import site_manifests

# The analyzer harness is shared with the rule tests of tests/policy.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "policy"))
from policy_harness import MODES, Res, evaluate

(RULE,) = RULES
DAEMONSET = "kubernetes:apps/v1:DaemonSet"
GGUF = "hf://Qwen/Qwen2.5-1.5B-Instruct-GGUF@91cad51170dc346986eccefdc2dd33a9da36ead9"
TERMS = ("spec", "template", "spec", "affinity", "nodeAffinity")


def build(spec: DeploymentSpec) -> plan.FleetPlan:
    """The fleet's plan; it reads hardware per device group from the spec, so any module does."""
    return plan.build_plan(
        spec, Hardware("jetson", "agx-orin-64gb", 1), FleetArgs(), name=spec.name
    )


def fleet_daemonsets(**compliance: Any) -> list[dict[str, Any]]:
    spec = parse_deployment(
        {
            "name": "ward",
            "model": {"id": "Qwen/Qwen2.5-1.5B-Instruct"},
            "compute": {
                "fleet": {
                    "sites": [{"name": "a", "context": "a"}],
                    "device_groups": [{"site": "a", "module": "orin-nano-8gb", "count": 3}],
                    "cohorts": [{"name": "stable", "sources": {"gguf-q4_k_m": GGUF}}],
                }
            },
            "compliance": compliance,
        }
    )
    built = build(spec)
    return [
        m for m in site_manifests(spec, built, built.fleet.sites[0]) if m["kind"] == "DaemonSet"
    ]


def resource(manifest: dict[str, Any]) -> Res:
    props = {k: v for k, v in manifest.items() if k not in ("apiVersion", "kind")}
    return Res(DAEMONSET, manifest["metadata"]["name"], props)


def expressions(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    node = manifest
    for key in TERMS:
        node = node[key]
    terms = node["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    result: list[dict[str, Any]] = terms[0]["matchExpressions"]
    return result


def messages(manifest: dict[str, Any], mode: str) -> list[str]:
    return [d.message for d in evaluate(RULE, resource(manifest), mode, framework="hipaa")]


def test_rule_metadata() -> None:
    assert NAME_PATTERN.match(RULE.name)
    assert RULE.frameworks == frozenset({"hipaa"})
    known = {c.id for c in controls()}
    assert set(RULE.controls) <= known
    assert RULE.applies_to(DAEMONSET)
    assert "device_trust" in RULE.remediation


@pytest.mark.parametrize("mode", MODES)
def test_hipaa_fleet_workloads_are_compliant(mode: str) -> None:
    daemonsets = fleet_daemonsets(frameworks=["hipaa"])
    assert len(daemonsets) == 2  # the server and the stats exporter
    for manifest in daemonsets:
        assert messages(manifest, mode) == []


@pytest.mark.parametrize("mode", MODES)
def test_a_fleet_without_device_trust_is_flagged(mode: str) -> None:
    for manifest in fleet_daemonsets():
        found = messages(manifest, mode)
        assert len(found) == 1
        assert node_labels.SECURE_BOOT in found[0]
        assert node_labels.DISK_ENCRYPTION in found[0]


@pytest.mark.parametrize("mode", MODES)
def test_one_missing_label_is_flagged(mode: str) -> None:
    manifest = copy.deepcopy(fleet_daemonsets(phi=True)[0])
    exprs = expressions(manifest)
    exprs[:] = [e for e in exprs if e["key"] != node_labels.DISK_ENCRYPTION]
    (found,) = messages(manifest, mode)
    assert node_labels.DISK_ENCRYPTION in found
    assert node_labels.SECURE_BOOT not in found


@pytest.mark.parametrize("mode", MODES)
def test_a_weaker_alternative_term_is_flagged(mode: str) -> None:
    manifest = copy.deepcopy(fleet_daemonsets(phi=True)[0])
    node = manifest
    for key in TERMS:
        node = node[key]
    terms = node["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    terms.append({"matchExpressions": [{"key": node_labels.MODULE, "operator": "Exists"}]})
    (found,) = messages(manifest, mode)
    assert "term 1" in found


@pytest.mark.parametrize("mode", MODES)
def test_wrong_label_value_is_flagged(mode: str) -> None:
    manifest = copy.deepcopy(fleet_daemonsets(phi=True)[0])
    for expr in expressions(manifest):
        if expr["key"] == node_labels.SECURE_BOOT:
            expr["operator"], expr["values"] = "Exists", []
    (found,) = messages(manifest, mode)
    assert node_labels.SECURE_BOOT in found


@pytest.mark.parametrize("mode", MODES)
def test_daemonsets_outside_a_fleet_are_not_its_business(mode: str) -> None:
    props = {
        "metadata": {"name": "node-exporter", "labels": {"app": "node-exporter"}},
        "spec": {"template": {"spec": {"containers": [{"name": "x", "image": "x"}]}}},
    }
    assert evaluate(RULE, Res(DAEMONSET, "node-exporter", props), mode, framework="hipaa") == []


@pytest.mark.parametrize("mode", MODES)
def test_a_prepull_over_several_groups_requires_trust_in_every_term(mode: str) -> None:
    stable = GGUF.replace(
        "91cad51170dc346986eccefdc2dd33a9da36ead9", "dd26da440ef0330c47919d1ecae0966d24022222"
    )
    spec = parse_deployment(
        {
            "name": "ward",
            "model": {"id": "Qwen/Qwen2.5-1.5B-Instruct"},
            "compute": {
                "fleet": {
                    "sites": [{"name": "a", "context": "a"}],
                    "device_groups": [
                        {"site": "a", "module": "orin-nano-8gb", "count": 1, "cohort": "canary"},
                        {"site": "a", "module": "orin-nano-8gb", "count": 4},
                        {"site": "a", "module": "orin-nx-16gb", "count": 4},
                    ],
                    "cohorts": [
                        {"name": "canary", "sources": {"gguf-q4_k_m": GGUF}},
                        {"name": "stable", "sources": {"gguf-q4_k_m": stable}},
                    ],
                    "variants": {
                        m: {"dtype": "gguf-q4_k_m", "runtime": "ollama"}
                        for m in ("orin-nano-8gb", "orin-nx-16gb")
                    },
                }
            },
            "compliance": {"frameworks": ["hipaa"]},
        }
    )
    built = build(spec)
    daemonsets = [
        m for m in site_manifests(spec, built, built.fleet.sites[0]) if m["kind"] == "DaemonSet"
    ]
    (prepull,) = [d for d in daemonsets if d["metadata"]["name"].endswith("-prepull")]
    assert len(expressions_of_every_term(prepull)) == 2
    for manifest in daemonsets:
        assert messages(manifest, mode) == []


def expressions_of_every_term(manifest: dict[str, Any]) -> list[list[dict[str, Any]]]:
    node = manifest
    for key in TERMS:
        node = node[key]
    terms = node["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    return [term["matchExpressions"] for term in terms]

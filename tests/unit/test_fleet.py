"""Fleet spec, cohort selection, per-module fit, startup budget and release resolution."""

from __future__ import annotations

import math
from typing import Any

import pytest

from inferstack.deployment import DeploymentSpec, parse_deployment, validate_for_target
from inferstack.deployment import fleet as fleet_module
from inferstack.deployment.targets import Hardware
from inferstack.errors import SpecError
from inferstack.jetson import fit, plan
from inferstack.jetson.args import FleetArgs
from inferstack.jetson.budget import startup_probe_budget

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
QWEN = "Qwen/Qwen2.5-1.5B-Instruct"
GGUF = "hf://Qwen/Qwen2.5-1.5B-Instruct-GGUF@91cad51170dc346986eccefdc2dd33a9da36ead9"
DIGEST = "@sha256:" + "a" * 64


def build(spec: DeploymentSpec) -> plan.FleetPlan:
    """The fleet's plan; it reads hardware per device group from the spec, so any module does."""
    return plan.build_plan(
        spec, Hardware("jetson", "agx-orin-64gb", 1), FleetArgs(), name=spec.name
    )


def site(name: str = "clinic-a", **extra: Any) -> dict[str, Any]:
    return {"name": name, "context": name, **extra}


def deployment(
    fleet: dict[str, Any], model: str | dict[str, Any] = QWEN, **sections: Any
) -> DeploymentSpec:
    section = model if isinstance(model, dict) else {"id": model}
    return parse_deployment(
        {"name": "edge", "model": section, "compute": {"fleet": fleet}, **sections}
    )


def simple_fleet(module: str = "agx-orin-64gb", **extra: Any) -> dict[str, Any]:
    return {
        "sites": [site()],
        "device_groups": [{"site": "clinic-a", "module": module, "count": 3}],
        "cohorts": [{"name": "stable", "sources": {"gguf-q4_k_m": GGUF}}],
        **extra,
    }


def spec_error(fn: Any, *args: Any) -> SpecError:
    with pytest.raises(SpecError) as caught:
        fn(*args)
    return caught.value


# -- the pure spec ----------------------------------------------------------------------------


def test_compute_fleet_is_typed() -> None:
    s = deployment(simple_fleet())
    assert isinstance(s.compute.fleet, fleet_module.FleetSpec)
    assert s.compute.fleet.cohorts[0].name == "stable"


@pytest.mark.parametrize(
    "entry",
    [{"name": "a"}, {"name": "a", "context": "a", "kubeconfig_secret": "kubeconfig-a"}],
)
def test_a_site_is_reached_one_way(entry: dict[str, Any]) -> None:
    err = spec_error(deployment, {**simple_fleet(), "sites": [entry]})
    assert err.path.startswith("compute.fleet.sites")
    assert "exactly one of context" in str(err)


def test_group_must_name_a_site_and_a_cohort() -> None:
    groups = [{"site": "nowhere", "module": "orin-nano-8gb", "count": 1}]
    err = spec_error(deployment, {**simple_fleet(), "device_groups": groups})
    assert err.path == "compute.fleet.device_groups[0].site"
    assert "use one of clinic-a" in str(err)
    groups = [{"site": "clinic-a", "module": "orin-nano-8gb", "count": 1, "cohort": "beta"}]
    err = spec_error(deployment, {**simple_fleet(), "device_groups": groups})
    assert err.path == "compute.fleet.device_groups[0].cohort"


def test_duplicate_groups_and_sites_are_refused() -> None:
    group = {"site": "clinic-a", "module": "orin-nano-8gb", "count": 1}
    err = spec_error(deployment, {**simple_fleet(), "device_groups": [group, group]})
    assert err.path == "compute.fleet.device_groups[1].name"
    err = spec_error(deployment, {**simple_fleet(), "sites": [site(), site()]})
    assert err.path == "compute.fleet.sites[1].name"


def test_mirror_ports_and_networks() -> None:
    mirror = fleet_module.MirrorSpec(
        registry="registry.lan:5000", models_url="http://10.0.0.5:8080", cidr="10.0.0.5/32"
    )
    assert mirror.ports == [5000, 8080]
    assert fleet_module.MirrorSpec(registry="registry.lan", cidr="10.0.0.5/32").ports == [443]
    with pytest.raises(ValueError, match="whole internet"):
        fleet_module.MirrorSpec(registry="registry.lan", cidr="0.0.0.0/0")
    with pytest.raises(ValueError, match="no scheme"):
        fleet_module.MirrorSpec(registry="https://registry.lan", cidr="10.0.0.5/32")


def test_latest_images_are_refused_in_cohorts() -> None:
    cohorts = [{"name": "stable", "images": {"llamacpp": "dustynv/llama_cpp:latest"}}]
    err = spec_error(deployment, {**simple_fleet(), "cohorts": cohorts})
    assert "compute.fleet.cohorts" in err.path


# -- cohort selection ---------------------------------------------------------------------------


def rollout_fleet() -> fleet_module.FleetSpec:
    s = deployment(
        {
            "sites": [site("a"), site("b")],
            "device_groups": [
                {"site": "a", "module": "agx-orin-64gb", "count": 1, "cohort": "canary"},
                {"site": "a", "module": "agx-orin-64gb", "count": 5},
                {"site": "b", "module": "orin-nano-8gb", "count": 9, "cohort": "stable"},
            ],
            "cohorts": [
                {"name": "canary", "sources": {"gguf-q4_k_m": GGUF}},
                {"name": "stable", "sources": {"gguf-q4_k_m": GGUF}},
            ],
        }
    )
    assert s.compute.fleet is not None
    return s.compute.fleet


def test_cohort_selection() -> None:
    f = rollout_fleet()
    # A group without a cohort belongs to the widest (last) ring.
    assert f.cohort_of(f.device_groups[1]) == "stable"
    assert [g.count for g in f.groups(cohort="canary")] == [1]
    assert [g.count for g in f.groups(site="a", cohort="stable")] == [5]
    assert f.devices() == 15
    assert f.devices(cohort="stable") == 14
    assert f.cohorts_at("a") == ["canary", "stable"]
    assert f.cohorts_at("b") == ["stable"]
    assert f.previous_cohort("stable") == "canary"
    assert f.previous_cohort("canary") is None


# -- fit per module -----------------------------------------------------------------------------


def test_llama_8b_bf16_on_orin_nano_names_module_model_and_variant() -> None:
    s = deployment(
        {
            **simple_fleet("orin-nano-8gb"),
            "variants": {"orin-nano-8gb": {"dtype": "bf16", "runtime": "vllm"}},
        },
        model=LLAMA,
    )
    err = spec_error(validate_for_target, s, "jetson")
    assert err.path == "compute.fleet.device_groups[0]"
    message = str(err)
    assert LLAMA in message
    assert "orin-nano-8gb" in message
    assert "bf16" in message
    assert "gguf-q4_k_m" in message
    assert "llamacpp" in message


def test_llama_8b_gguf_q4_on_agx_orin_64gb_fits() -> None:
    source = (
        "hf://bartowski/Meta-Llama-3.1-8B-Instruct-GGUF@9a8dec50f04fa8fad1dc1e7bc20a84a512e2bb01"
    )
    s = deployment(
        {
            **simple_fleet("agx-orin-64gb"),
            "cohorts": [{"name": "stable", "sources": {"gguf-q4_k_m": source}}],
            "variants": {"agx-orin-64gb": {"dtype": "gguf-q4_k_m", "runtime": "llamacpp"}},
        },
        model=LLAMA,
    )
    assert validate_for_target(s, "jetson").name == "agx-orin-64gb"
    workload = build(s).workloads[0]
    assert workload.release.variant.dtype == "gguf-q4_k_m"
    assert workload.release.weights.repo == "bartowski/Meta-Llama-3.1-8B-Instruct-GGUF"


def test_the_suggested_variant_really_fits() -> None:
    s = deployment(
        {
            **simple_fleet("orin-nano-8gb"),
            "variants": {"orin-nano-8gb": {"dtype": "bf16", "runtime": "vllm"}},
        }
    )
    err = spec_error(validate_for_target, s, "jetson")
    suggested = str(err).split("use dtype ")[1].split(" ")[0]
    assert suggested.startswith("gguf-")
    fixed = deployment(
        {
            **simple_fleet("orin-nano-8gb"),
            "cohorts": [{"name": "stable", "sources": {suggested: GGUF}}],
            "variants": {"orin-nano-8gb": {"dtype": suggested, "runtime": "llamacpp"}},
        }
    )
    assert validate_for_target(fixed, "jetson").name == "orin-nano-8gb"


def test_small_modules_default_to_llamacpp_gguf_and_family_limits() -> None:
    s = deployment(simple_fleet("orin-nano-8gb"), serving={"max_concurrency": 32})
    hw = fit.module("orin-nano-8gb")
    v = fit.variant(s, hw, QWEN)
    assert (v.dtype, v.runtime) == ("gguf-q4_k_m", "llamacpp")
    assert (v.context, v.concurrency) == (hw.max_context, hw.max_num_seqs)
    big = fit.variant(s, fit.module("agx-orin-64gb"), QWEN)
    assert (big.dtype, big.runtime) == ("bf16", "vllm")


def test_unknown_module_suggests_the_closest() -> None:
    fleet = {
        **simple_fleet(),
        "device_groups": [{"site": "clinic-a", "module": "orin-nano-8g", "count": 1}],
    }
    err = spec_error(validate_for_target, deployment(fleet), "jetson")
    assert err.path == "compute.fleet.device_groups[0].module"
    assert "orin-nano-8gb" in str(err)


def test_instance_type_and_fleet_exclude_each_other() -> None:
    s = parse_deployment(
        {
            "name": "edge",
            "model": {"id": QWEN},
            "compute": {"instance_type": "orin-nano-8gb", "fleet": simple_fleet()},
        }
    )
    assert spec_error(validate_for_target, s, "jetson").path == "compute.instance_type"


# -- startup budget -----------------------------------------------------------------------------


def test_budget_grows_with_model_size_and_shrinks_with_link_speed() -> None:
    small, large = startup_probe_budget(2, 50), startup_probe_budget(16, 50)
    slow, fast = startup_probe_budget(8, 10), startup_probe_budget(8, 1000)
    assert large.seconds > small.seconds
    assert slow.seconds > fast.seconds
    # 8 GB over 10 Mbit/s (1.25 MB/s) with the 1.5x safety margin.
    assert slow.download_seconds == math.ceil(8000 / 1.25 * 1.5)
    assert slow.failure_threshold == math.ceil(
        (slow.download_seconds + slow.load_seconds) / slow.period_seconds
    )
    assert slow.seconds >= slow.download_seconds + slow.load_seconds


def test_plan_budget_follows_the_site_link() -> None:
    s = deployment(
        {
            **simple_fleet(),
            "sites": [site("fast", link_mbps=1000), site("slow", link_mbps=10)],
            "device_groups": [
                {"site": "fast", "module": "agx-orin-64gb", "count": 2},
                {"site": "slow", "module": "agx-orin-64gb", "count": 2},
            ],
        }
    )
    fast, slow = build(s).workloads
    assert fast.weights_gb == slow.weights_gb
    assert slow.budget.failure_threshold > fast.budget.failure_threshold


@pytest.mark.parametrize(("devices", "expected"), [(1, 1), (2, 1), (3, 1), (8, 2), (100, 25)])
def test_rolling_updates_leave_devices_serving(devices: int, expected: int) -> None:
    assert plan.max_unavailable(devices) == expected
    if devices > 1:
        assert plan.max_unavailable(devices) < devices


# -- releases -----------------------------------------------------------------------------------


def test_mirror_rewrites_the_registry() -> None:
    s = fleet_module.SiteSpec(
        name="a", context="a", mirror={"registry": "reg.lan:5000", "cidr": "10.0.0.1/32"}
    )
    assert plan.mirrored("dustynv/vllm:r36" + DIGEST, s) == "reg.lan:5000/dustynv/vllm:r36" + DIGEST
    assert plan.mirrored("ghcr.io/org/img:1", s) == "reg.lan:5000/org/img:1"
    assert plan.mirrored("busybox:1", s) == "reg.lan:5000/library/busybox:1"
    assert plan.mirrored("busybox:1", fleet_module.SiteSpec(name="b", context="b")) == "busybox:1"


def test_gguf_variant_needs_a_gguf_source() -> None:
    s = deployment({**simple_fleet("orin-nano-8gb"), "cohorts": [{"name": "stable"}]})
    err = spec_error(build, s)
    assert err.path == "compute.fleet.cohorts[0].sources"
    assert "gguf-q4_k_m" in str(err)


def test_prod_pins_images_revisions_and_the_exporter() -> None:
    fleet = simple_fleet("agx-orin-64gb")
    prod = {"environment": "prod"}
    err = spec_error(build, deployment(fleet, **prod))
    assert err.path == "compute.fleet.exporter_image"
    fleet["exporter_image"] = "exporter:1" + DIGEST
    err = spec_error(build, deployment(fleet, **prod))
    assert err.path == "model.source"
    assert "pin a commit" in str(err)
    pinned = {
        "model": {"id": QWEN, "source": f"hf://{QWEN}@989aa7980e4cf806f80c7fef2b1adb7bc71aa306"}
    }
    err = spec_error(build, deployment(fleet, **prod, **pinned))
    assert err.path == "compute.fleet.cohorts[0].images.vllm"
    fleet["cohorts"] = [{"name": "stable", "images": {"vllm": "dustynv/vllm:r36" + DIGEST}}]
    built = build(deployment(fleet, **prod, **pinned))
    assert built.workloads[0].release.image.endswith(DIGEST)


def test_stable_stages_the_canary_release() -> None:
    s = deployment(
        {
            "sites": [site()],
            "device_groups": [
                {"site": "clinic-a", "module": "orin-nano-8gb", "count": 1, "cohort": "canary"},
                {"site": "clinic-a", "module": "orin-nano-8gb", "count": 4, "cohort": "stable"},
            ],
            "cohorts": [
                {"name": "canary", "sources": {"gguf-q4_k_m": GGUF}},
                {"name": "stable", "sources": {"gguf-q4_k_m": GGUF.replace("91cad51", "dd26da4")}},
            ],
        }
    )
    canary, stable = build(s).workloads
    assert canary.staged is None
    assert stable.staged is not None
    assert stable.staged.weights == canary.release.weights
    # Once stable runs the canary's release there is nothing left to stage.
    same = s.model_copy(deep=True)
    assert same.compute.fleet is not None
    promoted = parse_deployment(
        {
            **same.model_dump(exclude_none=True),
            "compute": {
                "fleet": {
                    **same.compute.fleet.model_dump(exclude_none=True),
                    "cohorts": [
                        {"name": "canary", "sources": {"gguf-q4_k_m": GGUF}},
                        {"name": "stable", "sources": {"gguf-q4_k_m": GGUF}},
                    ],
                }
            },
        }
    )
    assert all(w.staged is None for w in build(promoted).workloads)


def test_device_trust_follows_hipaa_and_phi() -> None:
    assert not plan.device_trust(deployment(simple_fleet()))
    assert plan.device_trust(deployment(simple_fleet(), compliance={"frameworks": ["hipaa"]}))
    assert plan.device_trust(deployment(simple_fleet(), compliance={"phi": True}))
    assert plan.device_trust(deployment(simple_fleet(device_trust=True)))
    err = spec_error(build, deployment(simple_fleet(device_trust=False), compliance={"phi": True}))
    assert err.path == "compute.fleet.device_trust"


def test_jetson_without_a_fleet_checks_its_module() -> None:
    s = parse_deployment(
        {"name": "edge", "model": {"id": LLAMA}, "compute": {"instance_type": "orin-nano-8gb"}}
    )
    err = spec_error(validate_for_target, s, "jetson")
    assert err.path == "compute.instance_type"
    assert "orin-nano-8gb" in str(err)
    assert spec_error(build, s).path == "compute.fleet"


def test_ollama_is_served_and_fetched_before_it_starts() -> None:
    gguf = {"dtype": "gguf-q4_k_m", "runtime": "ollama"}
    s = deployment({**simple_fleet("orin-nano-8gb"), "variants": {"orin-nano-8gb": gguf}})
    (workload,) = build(s).workloads
    assert workload.release.variant.runtime == "ollama"
    # An init container fetches: the probe waits for the load alone, whatever the link.
    assert workload.budget.download_seconds == 0
    assert workload.budget == startup_probe_budget(workload.weights_gb, 1, downloads=False)
    llama = build(deployment(simple_fleet("orin-nano-8gb"))).workloads[0]
    assert llama.release.variant.runtime == "llamacpp"
    assert llama.budget.download_seconds > 0
    mlc = {"dtype": "int4-awq", "runtime": "mlc"}
    err = spec_error(
        build,
        deployment({**simple_fleet("orin-nano-8gb"), "variants": {"orin-nano-8gb": mlc}}),
    )
    assert "not served by the Jetson fleet" in str(err)
    assert "ollama" in str(err)

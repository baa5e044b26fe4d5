"""The pure manifest builders other components reuse: no Pulumi runtime involved."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from inferstack.deployment import ModelSpec, RateLimitSpec, parse_deployment, validate_for_target
from inferstack.kubernetes import (
    LLMServiceArgs,
    ModelRef,
    Names,
    ServingPlan,
    build_plan,
    cache_volumes,
    dashboard_config_map,
    disruption_budget,
    egress_blocks,
    ingress_annotations,
    model_ref,
    network_policies,
    pod_spec,
    replica_resources,
    startup_budget,
)
from inferstack.kubernetes.downloads import gguf_download_command
from inferstack.kubernetes.objects import type_token
from inferstack.kubernetes.plan import catalog_image
from inferstack.kubernetes.pod import download_container, server_container
from inferstack.kubernetes.runtime_data import gguf_path, model_location

NGINX = "nginx.ingress.kubernetes.io"


def test_startup_window_grows_with_weights_and_ignores_the_download() -> None:
    small = startup_budget(2.0, downloads=True)
    large = startup_budget(140.0, downloads=True)
    assert large.startup_seconds > small.startup_seconds
    assert large.startup_failure_threshold * large.period_seconds == large.startup_seconds
    # Loading 140 GB at 400 MB/s plus warm-up, with the safety factor, is under the window.
    assert large.startup_seconds >= (140_000 / 400 + 180) * 1.5
    cached = startup_budget(140.0, downloads=False)
    assert cached.startup_seconds == large.startup_seconds
    assert cached.download_seconds == 0


def test_progress_deadline_covers_pull_download_and_start() -> None:
    budget = startup_budget(16.0, downloads=True, download_mb_per_s=100, image_pull_seconds=300)
    assert budget.download_seconds == 240  # 16 GB at 100 MB/s, x1.5
    assert budget.progress_deadline_seconds >= 300 + 240 + budget.startup_seconds
    slower = startup_budget(16.0, downloads=True, download_mb_per_s=25, image_pull_seconds=300)
    assert slower.progress_deadline_seconds > budget.progress_deadline_seconds


def annotations_for(auth: str, **kwargs: object) -> dict[str, str]:
    return ingress_annotations(
        auth=auth,
        rate_limit=RateLimitSpec(requests_per_second=20, burst=50),
        max_request_bytes=65536,
        client_ca_secret="ns/ca",
        **kwargs,  # type: ignore[arg-type]
    )


def test_annotations_per_auth_mode() -> None:
    oidc = annotations_for("oidc")
    assert oidc[f"{NGINX}/auth-url"] == "https://$host/oauth2/auth"
    mtls = annotations_for("mtls")
    assert mtls[f"{NGINX}/auth-tls-verify-client"] == "on"
    assert mtls[f"{NGINX}/auth-tls-secret"] == "ns/ca"
    assert f"{NGINX}/auth-url" not in mtls
    api_key = annotations_for("api_key")
    assert not any("/auth-" in key for key in api_key)
    for found in (oidc, mtls, api_key):
        assert found[f"{NGINX}/limit-rps"] == "20"
        assert found[f"{NGINX}/limit-burst-multiplier"] == "3"
        assert found[f"{NGINX}/proxy-body-size"] == "64k"
        assert found[f"{NGINX}/force-ssl-redirect"] == "true"


def test_mtls_without_a_ca_is_refused() -> None:
    with pytest.raises(ValueError, match="client_ca_secret"):
        ingress_annotations(
            auth="mtls", rate_limit=RateLimitSpec(), max_request_bytes=1024, client_ca_secret=None
        )


def test_insecure_ingress_has_no_redirect() -> None:
    found = annotations_for("oidc", tls=False)
    assert f"{NGINX}/force-ssl-redirect" not in found


def test_egress_blocks_exclude_private_ranges_only_from_wide_blocks() -> None:
    wide, narrow, private = egress_blocks(["0.0.0.0/0", "198.51.100.0/24", "10.0.0.0/8"])
    assert set(wide["ipBlock"]["except"]) == {
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "100.64.0.0/10",
    }
    assert narrow == {"ipBlock": {"cidr": "198.51.100.0/24"}}
    # A mirror inside a private range is allowed as given.
    assert private == {"ipBlock": {"cidr": "10.0.0.0/8"}}


def test_model_ref_reads_the_source() -> None:
    ref = model_ref(
        ModelSpec(id="org/model", source="hf://org/model-GGUF@abc123", dtype="gguf-q4_k_m")
    )
    assert (ref.scheme, ref.repo, ref.revision, ref.quant) == (
        "hf",
        "org/model-GGUF",
        "abc123",
        "Q4_K_M",
    )
    assert ref.downloads
    default = model_ref(ModelSpec(id="org/model"))
    assert (default.repo, default.revision, default.quant) == ("org/model", None, None)
    pvc = model_ref(ModelSpec(id="org/model", source="pvc://weights/org/model"))
    assert (pvc.scheme, pvc.claim, pvc.path, pvc.downloads) == (
        "pvc",
        "weights",
        "org/model",
        False,
    )


def test_catalog_image_appends_the_digest_once() -> None:
    digest = "sha256:" + "c" * 64
    assert catalog_image("repo/img:v1", digest) == f"repo/img:v1@{digest}"
    assert catalog_image("repo/img:v1", "c" * 64) == f"repo/img:v1@{digest}"
    assert catalog_image(f"repo/img:v1@{digest}", digest) == f"repo/img:v1@{digest}"
    assert catalog_image("repo/img:v1", None) == "repo/img:v1"


def test_cache_layout_per_runtime() -> None:
    vllm = cache_volumes("vllm", shm_gi=4)
    names = {v["name"] for v in vllm.volumes}
    assert {"vllm-cache", "triton-cache", "inductor-cache", "dshm"} <= names
    llama = cache_volumes("llamacpp")
    env = {e["name"] for e in llama.env}
    assert "VLLM_CACHE_ROOT" not in env
    assert {"HOME", "HF_HOME", "XDG_CONFIG_HOME", "TMPDIR"} <= env
    assert all("emptyDir" in v for v in llama.volumes)


def test_args_reject_unknown_fields_with_the_config_key() -> None:
    from inferstack.errors import SpecError

    with pytest.raises(SpecError) as caught:
        LLMServiceArgs.parse({"namespce": "x"})
    assert str(caught.value).startswith("inferstack:kubernetes.namespce: is not a known field")
    with pytest.raises(SpecError, match=r"inferstack:kubernetes\.download_egress_cidrs"):
        LLMServiceArgs.parse({"download_egress_cidrs": ["10.0.0.1/8"]})


# -- parameters other components (a Jetson fleet) build on ----------------------------------


def plan_for(**changes: Any) -> ServingPlan:
    spec = parse_deployment(
        {
            "name": "blocks",
            "model": {
                "id": "Qwen/Qwen2.5-1.5B-Instruct",
                "source": "hf://Qwen/Qwen2.5-1.5B-Instruct-GGUF@91cad51170dc346986eccefdc2dd33a9da36ead9",
                "dtype": "gguf-q4_k_m",
            },
            "serving": {"runtime": "llamacpp", "max_concurrency": 4},
            "compute": {"gpu_type": "L4", "gpu_count": 1},
            **changes,
        }
    )
    hardware = validate_for_target(spec, "onprem")
    return build_plan(spec, hardware, LLMServiceArgs(), name="blocks")


def test_gguf_paths_keep_revisions_apart() -> None:
    ref = ModelRef("hf", "org/model", repo="Org/Model-GGUF", revision="abc123", quant="Q4_K_M")
    assert model_location(ref, "llamacpp") == "/models/gguf/org-model-gguf/abc123/Q4_K_M.gguf"
    newer = ModelRef("hf", "org/model", repo="Org/Model-GGUF", revision="def456", quant="Q4_K_M")
    assert gguf_path(newer) != gguf_path(ref)
    unpinned = ModelRef("hf", "org/model", repo="Org/Model-GGUF", quant="Q8_0")
    assert gguf_path(unpinned) == "/models/gguf/org-model-gguf/main/Q8_0.gguf"


FAKE_CURL = """#!/bin/sh
# Logs every URL; answers the file listing, writes the file for -o.
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    -o) out="$2"; shift ;;
    http*) echo "$1" >> "$CURL_LOG" ;;
  esac
  shift
done
if [ -n "$out" ]; then echo gguf > "$out"; else
  echo '[{"type":"file","path":"README.md"},{"type":"file","path":"m-q4_k_m.gguf"}]'; fi
"""


def run_gguf_download(tmp_path: Path, endpoint: str | None) -> tuple[list[str], Path]:
    plan = plan_for()
    command = gguf_download_command(plan)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    curl = bin_dir / "curl"
    curl.write_text(FAKE_CURL)
    curl.chmod(0o755)
    variables = {e["name"]: e["value"] for e in command.env if "value" in e}
    target = tmp_path / "cache" / variables["MODEL_FILE"].lstrip("/")
    environ = {
        **variables,
        "MODEL_FILE": str(target),
        "CURL_LOG": str(tmp_path / "curl.log"),
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
    }
    if endpoint is not None:
        environ["HF_ENDPOINT"] = endpoint
    subprocess.run([*command.command, *command.args], env=environ, check=True)
    return (tmp_path / "curl.log").read_text().split(), target


@pytest.mark.parametrize(
    ("endpoint", "base"),
    [(None, "https://huggingface.co"), ("http://10.0.0.5:8080", "http://10.0.0.5:8080")],
)
def test_gguf_download_honours_hf_endpoint(tmp_path: Path, endpoint: str | None, base: str) -> None:
    urls, target = run_gguf_download(tmp_path, endpoint)
    revision = "91cad51170dc346986eccefdc2dd33a9da36ead9"
    assert urls == [
        f"{base}/api/models/Qwen/Qwen2.5-1.5B-Instruct-GGUF/tree/{revision}",
        f"{base}/Qwen/Qwen2.5-1.5B-Instruct-GGUF/resolve/{revision}/m-q4_k_m.gguf",
    ]
    assert target.read_text() == "gguf\n"
    assert f"/{revision}/Q4_K_M.gguf" in str(target)


def test_server_container_takes_device_resources_and_startup_threshold() -> None:
    plan = plan_for()
    layout = cache_volumes(plan.runtime)
    mount = {"name": "model-cache", "mountPath": "/models"}
    default = server_container(plan, layout, mount)
    assert default["resources"] == replica_resources(plan)
    budget = plan.budget.startup_failure_threshold
    assert default["startupProbe"]["failureThreshold"] == budget
    device = {"limits": {"memory": "6Gi", "nvidia.com/gpu": "1"}}
    custom = server_container(
        plan, layout, mount, resources=device, startup_failure_threshold=budget + 40
    )
    assert custom["resources"] == device
    assert custom["startupProbe"]["failureThreshold"] == budget + 40
    # Only the startup window changes: readiness and liveness keep their cadence.
    assert custom["livenessProbe"] == default["livenessProbe"]


def test_disruption_budget_takes_a_count_or_a_share() -> None:
    plan = plan_for()
    assert disruption_budget(plan)["spec"]["maxUnavailable"] == 1
    assert disruption_budget(plan, max_unavailable=3)["spec"]["maxUnavailable"] == 3
    assert disruption_budget(plan, max_unavailable="25%")["spec"]["maxUnavailable"] == "25%"
    with pytest.raises(ValueError, match="block node drains"):
        disruption_budget(plan, max_unavailable=0)


def policies_by_name(manifests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m["spec"] for m in manifests}


def test_network_policies_take_download_egress_and_scrape_ports() -> None:
    plan = plan_for()
    common = {"ingress_namespace": "ingress-nginx", "monitoring_namespace": "monitoring"}
    mirror = [{"to": [{"ipBlock": {"cidr": "10.1.0.5/32"}}], "ports": [{"port": 5000}]}]
    found = policies_by_name(
        network_policies(
            plan,
            download_cidrs=["0.0.0.0/0"],
            download_egress=mirror,
            scrape_ports=[8080, 9100],
            **common,
        )
    )
    assert found["blocks-allow-model-download"]["egress"] == mirror
    (rule,) = found["blocks-allow-metrics-scraper"]["ingress"]
    assert [p["port"] for p in rule["ports"]] == [8080, 9100]
    default = policies_by_name(network_policies(plan, download_cidrs=["0.0.0.0/0"], **common))
    (https,) = default["blocks-allow-model-download"]["egress"]
    assert https["ports"] == [{"protocol": "TCP", "port": 443}]
    # No CIDRs and no rules: no download policy (an empty "to" would admit every address).
    closed = policies_by_name(network_policies(plan, download_cidrs=[], **common))
    assert "blocks-allow-model-download" not in closed


def test_pod_spec_for_a_daemonset() -> None:
    plan = plan_for()
    deployment_pod = pod_spec(plan)
    assert "topologySpreadConstraints" in deployment_pod
    assert [c["name"] for c in deployment_pod["initContainers"]] == ["model-download"]
    server = {"name": "server", "image": plan.image}
    cache = {"name": "model-cache", "persistentVolumeClaim": {"claimName": "device-cache"}}
    daemon_pod = pod_spec(plan, containers=[server], volumes=[cache], spread=False)
    assert daemon_pod["containers"] == [server]
    assert daemon_pod["volumes"] == [cache]
    assert "topologySpreadConstraints" not in daemon_pod
    assert "initContainers" not in daemon_pod
    # The hardening and placement stay.
    assert daemon_pod["securityContext"] == deployment_pod["securityContext"]
    assert daemon_pod["runtimeClassName"] == "nvidia"
    assert daemon_pod["automountServiceAccountToken"] is False


def test_shared_identity_and_download_in_another_image() -> None:
    plan = dataclasses.replace(
        plan_for(), names=Names(base="group-a", namespace="fleet", account="fleet")
    )
    assert pod_spec(plan)["serviceAccountName"] == "fleet"
    layout = cache_volumes(plan.runtime)
    mount = {"name": "model-cache", "mountPath": "/models"}
    init = download_container(
        plan, layout, mount, image="curl:1", command=gguf_download_command(plan)
    )
    assert init is not None
    assert init["image"] == "curl:1"
    assert init["command"] == ["sh", "-c"]


def test_dashboard_takes_extra_panels_and_a_title() -> None:
    plan = plan_for()
    extra = [("Device memory", "percentunit", [("{{node}}", "node_memory_MemAvailable_bytes")])]
    config_map = dashboard_config_map(plan, ingress_name="blocks", extra_panels=extra, title="T")
    board = json.loads(next(iter(config_map["data"].values())))
    assert board["title"] == "T"
    assert board["panels"][-1]["title"] == "Device memory"
    assert board["panels"][-1]["id"] == len(board["panels"])


@pytest.mark.parametrize(
    ("api_version", "kind", "token"),
    [
        ("v1", "Namespace", "kubernetes:core/v1:Namespace"),
        ("apps/v1", "DaemonSet", "kubernetes:apps/v1:DaemonSet"),
        (
            "monitoring.coreos.com/v1",
            "ServiceMonitor",
            "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
        ),
    ],
)
def test_object_type_tokens_match_the_typed_classes(
    api_version: str, kind: str, token: str
) -> None:
    assert type_token(api_version, kind) == token

"""The pure manifest builders other components reuse: no Pulumi runtime involved."""

from __future__ import annotations

import pytest

from inferstack.kubernetes import (
    LLMServiceArgs,
    cache_volumes,
    egress_blocks,
    ingress_annotations,
    model_ref,
    startup_budget,
)
from inferstack.kubernetes.plan import catalog_image
from inferstack.spec import ModelSpec, RateLimitSpec

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

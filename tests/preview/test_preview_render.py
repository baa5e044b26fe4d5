"""Kubernetes manifests from a recorded run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import kubernetes_validate
import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml

from inferstack.preview import CapturedResource, PreviewRun, RenderError, render
from inferstack.preview.render import RECORD, api_version_kind

KUBERNETES_VERSION = "1.30.0"
Recording = Callable[..., list[CapturedResource]]


def service(site: str | None = None, provider: k8s.Provider | None = None) -> None:
    labels = {"app": "llm"} | ({"inferstack/site": site} if site else {})
    opts = pulumi.ResourceOptions(provider=provider)
    namespace = k8s.core.v1.Namespace(
        f"ns-{site}", metadata={"name": "llm", "labels": labels}, opts=opts
    )
    k8s.apps.v1.Deployment(
        f"vllm-{site}",
        metadata={"name": "vllm", "namespace": namespace.metadata["name"], "labels": labels},
        spec={
            "replicas": 2,
            "selector": {"matchLabels": {"app": "llm"}},
            "template": {
                "metadata": {"labels": {"app": "llm"}},
                "spec": {
                    "containers": [
                        {
                            "name": "vllm",
                            "image": "vllm/vllm-openai@sha256:" + "0" * 64,
                            "ports": [{"containerPort": 8000}],
                            "env": [{"name": "TOKEN", "value": pulumi.Output.secret("s3cr3t")}],
                        }
                    ]
                },
            },
        },
        opts=opts,
    )
    k8s.core.v1.ConfigMap(
        f"uid-{site}",
        metadata={"name": "uid", "namespace": "llm", "labels": labels},
        data={"namespace-uid": namespace.metadata.apply(lambda m: m.uid or "")},
        opts=opts,
    )


def run_of(resources: list[CapturedResource], *, preview: bool = False) -> PreviewRun:
    return PreviewRun(
        stack="test", target="onprem", config_path=None, resources=resources, preview=preview
    )


def test_one_file_per_object_in_creation_order(recording: Recording, tmp_path: Path) -> None:
    run = run_of(recording(service, preview=False))

    written = render(run, tmp_path)

    assert [p.name for p in written] == [
        "01-namespace-llm.yaml",
        "02-configmap-uid.yaml",
        "03-deployment-vllm.yaml",
    ]
    deployment = yaml.safe_load(written[2].read_text(encoding="utf-8"))
    assert deployment["apiVersion"] == "apps/v1" and deployment["kind"] == "Deployment"
    assert list(deployment)[:3] == ["apiVersion", "kind", "metadata"]
    assert deployment["spec"]["replicas"] == 2
    assert "replicas: 2\n" in written[2].read_text(encoding="utf-8")  # not 2.0
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["ports"] == [{"containerPort": 8000}]
    assert container["env"] == [{"name": "TOKEN", "value": "s3cr3t"}]
    for path in written:
        manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_rendering_again_replaces_only_what_render_wrote(
    recording: Recording, tmp_path: Path
) -> None:
    first = render(run_of(recording(service, preview=False)), tmp_path)
    stale = tmp_path / "99-service-old.yaml"  # as if an object was since removed from the stack
    stale.write_text("kind: Service\n", encoding="utf-8")
    record = json.loads((tmp_path / RECORD).read_text(encoding="utf-8"))
    record["files"].append(stale.name)
    (tmp_path / RECORD).write_text(json.dumps(record), encoding="utf-8")
    users = tmp_path / "04-service-mine.yaml"  # the user's own file, named like a rendered one
    users.write_text("kind: Service\n", encoding="utf-8")
    keep = tmp_path / "kustomization.yaml"
    keep.write_text("resources: []\n", encoding="utf-8")

    second = render(run_of(recording(service, preview=False)), tmp_path)

    assert sorted(second) == sorted(first)
    assert all(path.exists() for path in second)
    assert not stale.exists()
    assert users.read_text(encoding="utf-8") == "kind: Service\n"
    assert keep.exists()
    recorded = json.loads((tmp_path / RECORD).read_text(encoding="utf-8"))["files"]
    assert recorded == sorted(str(path.relative_to(tmp_path)) for path in second)


def test_render_never_overwrites_a_file_it_did_not_write(
    recording: Recording, tmp_path: Path
) -> None:
    first = render(run_of(recording(service, preview=False)), tmp_path / "a")
    mine = tmp_path / "b" / first[0].name
    mine.parent.mkdir()
    mine.write_text("# mine\n", encoding="utf-8")

    with pytest.raises(RenderError, match="was not written by inferstack render"):
        render(run_of(recording(service, preview=False)), tmp_path / "b")

    assert mine.read_text(encoding="utf-8") == "# mine\n"
    assert [p.name for p in (tmp_path / "b").iterdir()] == [mine.name]


def test_metadata_keys_in_conventional_order(recording: Recording, tmp_path: Path) -> None:
    for path in render(run_of(recording(service, preview=False)), tmp_path):
        text = path.read_text(encoding="utf-8")
        assert text.startswith("apiVersion: "), path.name
        metadata = list(yaml.safe_load(text)["metadata"])
        assert metadata[0] == "name", path.name


def test_unknown_values_fail_with_the_field_path(recording: Recording, tmp_path: Path) -> None:
    def program() -> None:
        key = pulumi.CustomResource("aws:kms/key:Key", "key", {"arn": None})
        k8s.core.v1.ConfigMap("cm", metadata={"name": "cm"}, data={"key": key.arn})  # type: ignore[attr-defined]

    run = run_of(recording(program, preview=True), preview=True)

    with pytest.raises(RenderError, match=r"ConfigMap::cm: data\.key is only known after"):
        render(run, tmp_path)


def test_sites_get_their_own_folders(recording: Recording, tmp_path: Path) -> None:
    def fleet() -> None:
        service(site="store-17")
        service(site="store-42")

    written = render(run_of(recording(fleet, preview=False)), tmp_path)

    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == [
        "store-17/01-namespace-llm.yaml",
        "store-17/02-configmap-uid.yaml",
        "store-17/03-deployment-vllm.yaml",
        "store-42/01-namespace-llm.yaml",
        "store-42/02-configmap-uid.yaml",
        "store-42/03-deployment-vllm.yaml",
    ]


def test_one_folder_per_provider_when_there_are_several(
    recording: Recording, tmp_path: Path
) -> None:
    def fleet() -> None:
        for cluster in ("edge-a", "edge-b"):
            provider = k8s.Provider(cluster, kubeconfig="{}")
            k8s.core.v1.Namespace(
                f"ns-{cluster}",
                metadata={"name": "llm"},
                opts=pulumi.ResourceOptions(provider=provider),
            )

    written = render(run_of(recording(fleet, preview=False)), tmp_path)

    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == [
        "edge-a/01-namespace-llm.yaml",
        "edge-b/01-namespace-llm.yaml",
    ]


def test_components_and_unnamed_objects(recording: Recording, tmp_path: Path) -> None:
    def program() -> None:
        group = pulumi.ComponentResource("kubernetes:yaml/v2:ConfigGroup", "group")
        k8s.core.v1.Namespace(
            "ns", metadata={"name": "llm"}, opts=pulumi.ResourceOptions(parent=group)
        )

    written = render(run_of(recording(program, preview=False)), tmp_path)
    assert [p.name for p in written] == ["01-namespace-llm.yaml"]

    unnamed = run_of(recording(lambda: k8s.core.v1.Namespace("ns"), preview=False))
    with pytest.raises(RenderError, match=r"metadata\.name is not set"):
        render(unnamed, tmp_path)


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("kubernetes:apps/v1:Deployment", ("apps/v1", "Deployment")),
        ("kubernetes:core/v1:Service", ("v1", "Service")),
        (
            "kubernetes:networking.k8s.io/v1:NetworkPolicy",
            ("networking.k8s.io/v1", "NetworkPolicy"),
        ),
        (
            "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
            ("autoscaling/v2", "HorizontalPodAutoscaler"),
        ),
    ],
)
def test_api_version_and_kind_come_from_the_type_token(
    token: str, expected: tuple[str, str]
) -> None:
    assert api_version_kind(token) == expected

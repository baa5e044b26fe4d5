"""JSON Patch overrides of Kubernetes children: the engine, its errors, and both components."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from inferstack.errors import SpecError
from inferstack.jetson import Fleet
from inferstack.jetson.args import FleetArgs
from inferstack.kubernetes import LLMService, LLMServiceArgs
from inferstack.kubernetes.patches import (
    ObjectPatch,
    Patcher,
    PatchError,
    PatchOperation,
    apply_operation,
    apply_patches,
    pointer_tokens,
)
from inferstack.preview import CapturedResource

Recording = Callable[..., list[CapturedResource]]

STACK = "pulumi:pulumi:Stack"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
DAEMONSET = "kubernetes:apps/v1:DaemonSet"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
SERVICE_SPEC: dict[str, Any] = {"name": "chat", "model": {"id": "Qwen/Qwen2.5-0.5B-Instruct"}}


def op(kind: str, path: str, *value: Any) -> PatchOperation:
    data: dict[str, Any] = {"op": kind, "path": path}
    if value:
        data["value"] = value[0]
    return PatchOperation.model_validate(data)


def patch(kind: str, *ops: PatchOperation, name: str | None = None) -> ObjectPatch:
    return ObjectPatch(kind=kind, name=name, ops=list(ops))


def removal(kind: str, name: str | None = None) -> ObjectPatch:
    return ObjectPatch(kind=kind, name=name, remove=True)


def manifest(kind: str, name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


# -- JSON Pointer -------------------------------------------------------------------------------


def test_pointer_tokens_unescape_tilde_and_slash() -> None:
    assert pointer_tokens("") == []
    assert pointer_tokens("/metadata/labels/pod-security.kubernetes.io~1enforce") == [
        "metadata",
        "labels",
        "pod-security.kubernetes.io/enforce",
    ]
    assert pointer_tokens("/a~01/~10") == ["a~1", "/0"]
    assert pointer_tokens("/spec/") == ["spec", ""]
    with pytest.raises(ValueError, match="must start with '/'"):
        pointer_tokens("spec/replicas")
    with pytest.raises(ValueError, match="~0"):
        pointer_tokens("/a~2b")


# -- operations ---------------------------------------------------------------------------------


def test_add_sets_a_key_replaces_an_existing_one_and_inserts_into_lists() -> None:
    doc: dict[str, Any] = {"spec": {"items": [1, 2], "x": 1}}
    apply_operation(doc, op("add", "/spec/new", {"deep": True}))
    apply_operation(doc, op("add", "/spec/x", 5))
    apply_operation(doc, op("add", "/spec/items/0", 0))
    apply_operation(doc, op("add", "/spec/items/3", 3))  # index == length appends
    apply_operation(doc, op("add", "/spec/items/-", 4))
    assert doc == {"spec": {"items": [0, 1, 2, 3, 4], "x": 5, "new": {"deep": True}}}


def test_replace_needs_an_existing_target() -> None:
    doc: dict[str, Any] = {"spec": {"type": "ClusterIP", "ports": [{"port": 80}]}}
    apply_operation(doc, op("replace", "/spec/type", "LoadBalancer"))
    apply_operation(doc, op("replace", "/spec/ports/0/port", 8080))
    apply_operation(doc, op("replace", "/spec/ports/0", None))  # null is a value too
    assert doc == {"spec": {"type": "LoadBalancer", "ports": [None]}}
    with pytest.raises(PatchError, match=r"'/spec/missing' does not exist \(keys there: "):
        apply_operation(doc, op("replace", "/spec/missing", 1))
    with pytest.raises(PatchError, match=r"'/spec/ports/1' does not exist \(the list has 1 item\)"):
        apply_operation(doc, op("replace", "/spec/ports/1", 1))


def test_remove_deletes_keys_and_list_items() -> None:
    doc: dict[str, Any] = {"a": {"b": 1, "c": 2}, "l": ["x", "y", "z"]}
    apply_operation(doc, op("remove", "/a/b"))
    apply_operation(doc, op("remove", "/l/1"))
    assert doc == {"a": {"c": 2}, "l": ["x", "z"]}
    with pytest.raises(PatchError, match="'/a/b' does not exist"):
        apply_operation(doc, op("remove", "/a/b"))
    with pytest.raises(PatchError, match="'-'"):
        apply_operation(doc, op("remove", "/l/-"))


def test_paths_must_lead_somewhere() -> None:
    doc: dict[str, Any] = {"spec": {"n": 1, "items": [1, 2]}}
    cases = {
        op("add", "/spec/missing/child", 1): "'/spec/missing' does not exist",
        op("add", "/spec/items/3", 1): r"the list has 2 items",
        op("add", "/spec/items/01", 1): "is not a list index",
        op("replace", "/spec/items/x", 1): "'x' is not a list index",
        op("add", "/spec/n/child", 1): "'/spec/n' is a int value, not an object or a list",
        op("remove", "/spec/n/a/b"): "'/spec/n' is a int value, not a container",
    }
    for operation, message in cases.items():
        before = copy.deepcopy(doc)
        with pytest.raises(PatchError, match=message):
            apply_operation(doc, operation)
        assert doc == before


def test_values_are_copied_not_shared() -> None:
    value: dict[str, Any] = {"name": "HF_TOKEN"}
    doc: dict[str, Any] = {"env": []}
    apply_operation(doc, op("add", "/env/-", value))
    doc["env"][0]["name"] = "changed"
    assert value == {"name": "HF_TOKEN"}


# -- the config model ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"op": "add", "path": "/x"}, "'add' needs a value"),
        ({"op": "replace", "path": "/x"}, "'replace' needs a value"),
        ({"op": "remove", "path": "/x", "value": 1}, "'remove' takes no value"),
        ({"op": "move", "path": "/x"}, "Input should be"),
        ({"op": "add", "path": "", "value": {}}, "whole object"),
        ({"op": "replace", "path": "/kind", "value": "Pod"}, "kind, which cannot be patched"),
        ({"op": "add", "path": "/apiVersion", "value": "v2"}, "apiVersion"),
        ({"op": "replace", "path": "/metadata/name", "value": "x"}, "metadata/name"),
        ({"op": "remove", "path": "/metadata"}, "metadata/name"),
        ({"op": "add", "path": "x", "value": 1}, "must start with '/'"),
    ],
)
def test_operations_are_validated(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PatchOperation.model_validate(data)


def test_object_patches_take_ops_or_remove() -> None:
    assert ObjectPatch(kind="Service", remove=True).remove
    assert op("add", "/metadata/labels/team", "ml").value == "ml"
    assert op("replace", "/spec/x", None).value is None
    with pytest.raises(ValueError, match="either ops or remove"):
        ObjectPatch(kind="Service", ops=[op("remove", "/spec/type")], remove=True)
    with pytest.raises(ValueError, match="needs ops"):
        ObjectPatch(kind="Service")


@pytest.mark.parametrize(
    ("patches", "key", "problem"),
    [
        (
            [
                {
                    "kind": "Deployment",
                    "ops": [{"op": "add", "path": "/x", "value": 1}, {"op": "add"}],
                }
            ],
            "inferstack:kubernetes.patches[0].ops[1].path",
            "Field required",
        ),
        (
            [{"kind": "Service", "remove": True}, {"kind": "Ingress", "ops": [], "names": "x"}],
            "inferstack:kubernetes.patches[1].names",
            "is not a known field (known: kind, name, ops, remove)",
        ),
        (
            [{"kind": "Service", "ops": [{"op": "copy", "path": "/a"}]}],
            "inferstack:kubernetes.patches[0].ops[0].op",
            "'copy' is not allowed (use 'add', 'replace' or 'remove')",
        ),
        ([{"kind": "Service"}], "inferstack:kubernetes.patches[0]", "needs ops"),
    ],
)
def test_config_errors_name_the_patch(patches: list[Any], key: str, problem: str) -> None:
    with pytest.raises(SpecError) as caught:
        LLMServiceArgs.parse({"patches": patches})
    assert str(caught.value).startswith(f"{key}: {problem}")
    with pytest.raises(SpecError) as fleet_caught:
        FleetArgs.parse({"patches": patches})
    assert str(fleet_caught.value) == str(caught.value)


def test_a_fleet_takes_only_patches_from_the_cluster_settings() -> None:
    with pytest.raises(SpecError) as caught:
        FleetArgs.parse({"model_cache": {"kind": "shared"}})
    assert str(caught.value) == (
        "inferstack:kubernetes.model_cache: is not a known field (known: patches)"
    )


# -- applying patches to a component's manifests ------------------------------------------------


def objects() -> list[dict[str, Any]]:
    labels = {"team": "ml"}  # shared between objects, as the builders share label dicts
    items = [
        manifest("Deployment", "chat", replicas=1),
        manifest("NetworkPolicy", "chat-default-deny"),
        manifest("NetworkPolicy", "chat-allow-dns"),
        manifest("Service", "chat", type="ClusterIP"),
    ]
    for item in items:
        item["metadata"]["labels"] = labels
    return items


def test_patches_apply_in_order_to_the_named_or_every_object_of_a_kind() -> None:
    original = objects()
    snapshot = copy.deepcopy(original)
    patched = apply_patches(
        original,
        [
            patch("Deployment", op("replace", "/spec/replicas", 3)),
            patch("NetworkPolicy", op("add", "/metadata/labels/cni", "managed")),
            patch("NetworkPolicy", op("remove", "/metadata/labels/cni"), name="chat-allow-dns"),
            removal("Service"),
        ],
    )
    assert [m["metadata"]["name"] for m in patched] == [
        "chat",
        "chat-default-deny",
        "chat-allow-dns",
    ]
    assert patched[0]["spec"] == {"replicas": 3}
    assert patched[1]["metadata"]["labels"] == {"team": "ml", "cni": "managed"}
    assert patched[2]["metadata"]["labels"] == {"team": "ml"}
    # The builders' objects (and the label dict they share) are left as they were.
    assert original == snapshot
    assert original[0]["metadata"]["labels"] is original[1]["metadata"]["labels"]


def test_no_patches_return_the_same_objects() -> None:
    original = objects()
    assert apply_patches(original, []) == original
    assert all(a is b for a, b in zip(apply_patches(original, []), original, strict=True))


@pytest.mark.parametrize(
    ("patches", "message"),
    [
        (
            [removal("Deploymnt")],
            "inferstack:kubernetes.patches[0].kind: 'Deploymnt' is not a kind this component "
            "creates (kinds: Deployment, NetworkPolicy, Service)",
        ),
        (
            [removal("Service", "chat-svc")],
            "inferstack:kubernetes.patches[0].name: no Service is named 'chat-svc' "
            "(did you mean 'chat'? Service objects: chat)",
        ),
        (
            [removal("Service"), patch("Service", op("remove", "/spec/type"), name="chat")],
            "inferstack:kubernetes.patches[1].name: Service 'chat' is removed by an earlier patch",
        ),
        (
            [removal("NetworkPolicy"), removal("NetworkPolicy")],
            "inferstack:kubernetes.patches[1].name: every NetworkPolicy is removed by an earlier",
        ),
        (
            [
                patch("Service", op("remove", "/spec/type")),
                patch("Deployment", op("add", "/spec/replicas", 2), op("remove", "/spec/paused")),
            ],
            "inferstack:kubernetes.patches[1].ops[1].path: remove in Deployment 'chat': "
            "'/spec/paused' does not exist (keys there: replicas)",
        ),
    ],
)
def test_patches_that_cannot_apply_are_one_line_errors(
    patches: list[ObjectPatch], message: str
) -> None:
    with pytest.raises(SpecError) as caught:
        apply_patches(objects(), patches)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_a_patch_may_match_in_some_batches_only() -> None:
    patcher = Patcher([removal("Service", "east")])
    west = patcher.apply([manifest("Service", "west")])
    east = patcher.apply([manifest("Service", "east")])
    patcher.check_matched()
    assert (len(west), len(east)) == (1, 0)
    nowhere = Patcher([removal("Service", "north")])
    nowhere.apply([manifest("Service", "west")])
    nowhere.apply([manifest("Service", "east")])
    with pytest.raises(SpecError, match=r"Service objects: east, west"):
        nowhere.check_matched()


# -- in the components --------------------------------------------------------------------------


def inputs_of(resources: list[CapturedResource], token: str) -> dict[str, dict[str, Any]]:
    return {r.inputs["metadata"]["name"]: r.inputs for r in resources if r.type == token}


def test_llm_service_registers_the_patched_children(recording: Recording) -> None:
    args = LLMServiceArgs.parse(
        {
            "patches": [
                {
                    "kind": "Deployment",
                    "name": "chat",
                    "ops": [
                        {"op": "add", "path": "/spec/template/spec/hostNetwork", "value": True},
                        {"op": "add", "path": "/metadata/annotations", "value": {"a": "b"}},
                    ],
                },
                {"kind": "NetworkPolicy", "name": "chat-allow-dns", "remove": True},
            ]
        }
    )
    plain = recording(lambda: LLMService("chat", SERVICE_SPEC, args=LLMServiceArgs()))
    patched = recording(lambda: LLMService("chat", SERVICE_SPEC, args=args))
    deployment = inputs_of(patched, DEPLOYMENT)["chat"]
    assert deployment["spec"]["template"]["spec"]["hostNetwork"] is True
    assert deployment["metadata"]["annotations"] == {"a": "b"}
    assert "hostNetwork" not in inputs_of(plain, DEPLOYMENT)["chat"]["spec"]["template"]["spec"]
    assert set(inputs_of(plain, POLICY)) - set(inputs_of(patched, POLICY)) == {"chat-allow-dns"}
    assert len(patched) == len(plain) - 1


def test_llm_service_reads_patches_from_the_stack_config(recording: Recording) -> None:
    settings = {
        "patches": [
            {
                "kind": "Service",
                "ops": [{"op": "replace", "path": "/spec/type", "value": "NodePort"}],
            }
        ]
    }
    config = {"inferstack:kubernetes": json.dumps(settings)}
    resources = recording(lambda: LLMService("chat", SERVICE_SPEC), config=config)
    services = inputs_of(resources, "kubernetes:core/v1:Service")
    assert services["chat"]["spec"]["type"] == "NodePort"


def test_a_bad_patch_registers_nothing(recording: Recording) -> None:
    errors: list[SpecError] = []
    args = LLMServiceArgs(patches=[patch("Deployment", op("remove", "/spec/paused"))])

    def program() -> None:
        try:
            LLMService("chat", SERVICE_SPEC, args=args)
        except SpecError as exc:
            errors.append(exc)

    captured = recording(program)
    assert [e.path for e in errors] == ["inferstack:kubernetes.patches[0].ops[0].path"]
    assert [r.type for r in captured if r.type != STACK] == []


FLEET: dict[str, Any] = {
    "name": "lab",
    "model": {"id": "Qwen/Qwen2.5-1.5B-Instruct"},
    "compute": {
        "fleet": {
            "sites": [
                {"name": "north", "context": "jetson-north"},
                {"name": "south", "context": "jetson-south"},
            ],
            "device_groups": [
                {"site": "north", "module": "orin-nano-8gb", "count": 2},
                {"site": "south", "module": "orin-nx-16gb", "count": 2},
            ],
            "cohorts": [
                {
                    "name": "stable",
                    "sources": {
                        "gguf-q4_k_m": "hf://Qwen/Qwen2.5-1.5B-Instruct-GGUF@"
                        "91cad51170dc346986eccefdc2dd33a9da36ead9"
                    },
                }
            ],
        }
    },
}


def test_a_fleet_patches_every_site_where_the_object_exists(recording: Recording) -> None:
    args = FleetArgs(
        patches=[
            patch(
                "DaemonSet",
                op("add", "/spec/template/spec/priorityClassName", "edge-critical"),
                name="lab-stable-orin-nano-8gb",
            ),
            removal("NetworkPolicy", "lab-allow-dns"),
        ]
    )
    plain = recording(lambda: Fleet("lab", FLEET, args=FleetArgs()))
    patched = recording(lambda: Fleet("lab", FLEET, args=args))
    daemonsets = {r.name: r.inputs for r in patched if r.type == DAEMONSET}
    classes = {
        name: inputs["spec"]["template"]["spec"].get("priorityClassName")
        for name, inputs in daemonsets.items()
        if "orin" in name
    }
    assert classes == {
        "lab-north-daemonset-lab-stable-orin-nano-8gb": "edge-critical",
        "lab-south-daemonset-lab-stable-orin-nx-16gb": None,
    }
    dns = [r.name for r in plain if r.type == POLICY and r.name.endswith("allow-dns")]
    assert len(dns) == 2  # one per site, both removed
    assert not [r for r in patched if r.type == POLICY and r.name.endswith("allow-dns")]
    assert len(patched) == len(plain) - 2


def test_a_fleet_patch_matching_no_site_registers_nothing(recording: Recording) -> None:
    errors: list[SpecError] = []
    args = FleetArgs(patches=[removal("DaemonSet", "lab-stable-agx-orin-64gb")])

    def program() -> None:
        try:
            Fleet("lab", FLEET, args=args)
        except SpecError as exc:
            errors.append(exc)

    captured = recording(program)
    assert [e.path for e in errors] == ["inferstack:kubernetes.patches[0].name"]
    assert "lab-stable-orin-nano-8gb" in str(errors[0])
    assert [r.type for r in captured if r.type != STACK] == []

"""Wire-format values: decoding for assertions, re-encoding for packs, printing for reports."""

from __future__ import annotations

from inferstack.preview.values import (
    RESOURCE_SIG,
    SECRET_SIG,
    SIG_KEY,
    UNKNOWN,
    UNKNOWN_SENTINEL,
    Secret,
    find_unknown,
    for_engine,
    integral,
    plain,
    to_json,
)

REFERENCE = {SIG_KEY: RESOURCE_SIG, "urn": "urn:pulumi:s::p::aws:kms/key:Key::k", "id": "k-1"}
COMPONENT_REFERENCE = {SIG_KEY: RESOURCE_SIG, "urn": "urn:pulumi:s::p::x:y:Z::c"}
WIRE = {
    "arn": UNKNOWN_SENTINEL,
    "token": {SIG_KEY: SECRET_SIG, "value": "hf_x"},
    "key": REFERENCE,
    "parent": COMPONENT_REFERENCE,
    "spec": {"replicas": 2.0, "ratio": 0.9, "ports": [8000.0], "flag": True},
    "__defaults": [],
}


def test_plain_decodes_sentinels() -> None:
    value = plain(WIRE)

    assert value["arn"] is UNKNOWN
    assert value["token"] == Secret("hf_x")
    assert value["key"] == "urn:pulumi:s::p::aws:kms/key:Key::k"
    assert value["spec"]["replicas"] == 2.0


def test_for_engine_drops_references_and_internal_keys_but_keeps_secrets() -> None:
    value = for_engine(WIRE)

    assert value["key"] == "k-1"  # the engine sends a custom resource's id
    assert value["parent"] == "urn:pulumi:s::p::x:y:Z::c"  # and a component's URN
    assert value["token"] == {SIG_KEY: SECRET_SIG, "value": "hf_x"}
    assert value["arn"] == UNKNOWN_SENTINEL
    assert "__defaults" not in value


def test_report_form_restores_integers_and_hides_secrets() -> None:
    value = to_json(plain(WIRE))

    assert value["arn"] == "<computed>"
    assert value["token"] == "[secret]"
    assert value["spec"] == {"replicas": 2, "ratio": 0.9, "ports": [8000], "flag": True}
    assert isinstance(value["spec"]["replicas"], int)
    assert integral(True) is True


def test_find_unknown_names_the_path() -> None:
    assert find_unknown({"spec": {"containers": [{"image": "x"}, {"env": UNKNOWN}]}}) == (
        "spec.containers[1].env"
    )
    assert find_unknown({"a": [1, {"b": "c"}]}) is None

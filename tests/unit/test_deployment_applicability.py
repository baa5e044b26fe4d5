"""No spec field is ignored silently: each is used by a target or refused on it in one line."""

from __future__ import annotations

import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from inferstack.deployment.applicability import (
    UNIVERSAL,
    USED_BY,
    check_applicable,
    set_paths,
    targets_using,
)
from inferstack.deployment.loader import parse_deployment
from inferstack.deployment.models import DeploymentSpec
from inferstack.deployment.targets import validate_for_target
from inferstack.errors import SpecError
from inferstack.targets import NAMES

ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = ROOT / "components" / "inferstack"
MODEL = {"id": "meta-llama/Llama-3.2-3B-Instruct"}
JETSON = yaml.safe_load((ROOT / "stacks" / "Pulumi.jetson-prod.yaml").read_text(encoding="utf-8"))
# Values for restricted fields whose default is null (their default is used otherwise).
EXAMPLES: dict[str, Any] = {
    "compute.instance_type": "ml.g5.2xlarge",
    "compute.gpu_type": "L4",
    "compute.gpu_count": 1,
    "compute.fleet": JETSON["config"]["inferstack:deployment"]["compute"]["fleet"],
    "scaling.min_replicas": 1,
    "security.network.vpc_id": "vpc-0123456789abcdef0",
    "security.network.hostname": "chat.example.internal",
    "security.network.tls_secret_name": "chat-tls",
    "security.oidc_auth_url": "https://chat.example.internal/oauth2/auth",
    "security.oidc_signin_url": "https://chat.example.internal/oauth2/start",
    "security.client_ca_secret_name": "chat-ca",
    "observability.alarms.enabled": True,
    "observability.alarms.email": "oncall@example.com",
    "cost.monthly_budget_usd": 1000,
}


def leaves(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    """Every field path of the pydantic models, down to the table's entries."""
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        annotation = info.annotation
        sections = [
            a
            for a in (annotation, *typing.get_args(annotation))
            if isinstance(a, type) and issubclass(a, BaseModel)
        ]
        if sections and path not in USED_BY:
            yield from leaves(sections[0], f"{path}.")
        else:
            yield path


def field_info(path: str) -> Any:
    model: type[BaseModel] = DeploymentSpec
    info: Any = None
    for part in path.split("."):
        if info is not None:
            annotation = info.annotation
            model = next(
                a
                for a in (annotation, *typing.get_args(annotation))
                if isinstance(a, type) and issubclass(a, BaseModel)
            )
        info = model.model_fields[part]
    return info


def spec_setting(path: str) -> DeploymentSpec:
    """A valid spec in which ``path`` (and only it, besides name and model) is set explicitly."""
    value = (
        EXAMPLES[path]
        if path in EXAMPLES
        else field_info(path).get_default(call_default_factory=True)
    )
    raw: dict[str, Any] = {"name": "chat", "model": dict(MODEL)}
    node = raw
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return parse_deployment(raw)


FIELDS = sorted(leaves(DeploymentSpec))
RETENTION = "observability.log_retention_days"
CAPTURE = "compliance.data_capture.enabled"


def test_every_field_is_classified_exactly_once() -> None:
    """A new field fails here until the table says which targets use it."""
    unclassified = [p for p in FIELDS if (p in UNIVERSAL) == (p in USED_BY)]
    assert not unclassified, unclassified
    assert set(USED_BY) | UNIVERSAL == set(FIELDS)
    assert all(targets and targets <= set(NAMES) for targets, _ in USED_BY.values())


@pytest.mark.parametrize("path", FIELDS)
def test_every_field_is_used_or_refused_on_every_target(path: str) -> None:
    if path in UNIVERSAL:
        assert targets_using(path) == set(NAMES)
        return
    spec = spec_setting(path)
    assert path in set(set_paths(spec))

    for target in NAMES:
        if target in targets_using(path):
            check_applicable(spec, target)
            continue
        with pytest.raises(SpecError) as caught:
            check_applicable(spec, target)
        message = str(caught.value)
        assert caught.value.path == path, message
        assert "has no effect on" in message
        assert len(message.splitlines()) == 1


@pytest.mark.parametrize(
    ("target", "section", "path"),
    [
        (
            "onprem",
            {"observability": {"log_retention_days": 0}},
            "observability.log_retention_days",
        ),
        (
            "jetson",
            {"observability": {"log_retention_days": 7}},
            "observability.log_retention_days",
        ),
        ("onprem", {"cost": {"monthly_budget_usd": 1000}}, "cost.monthly_budget_usd"),
        (
            "onprem",
            {"compliance": {"data_capture": {"enabled": True}}},
            "compliance.data_capture.enabled",
        ),
        ("sagemaker", {"serving": {"port": 9000}}, "serving.port"),
        ("sagemaker", {"observability": {"dashboards": True}}, "observability.dashboards"),
    ],
)
def test_a_field_without_effect_fails_validation_naming_it(
    target: str, section: dict[str, Any], path: str
) -> None:
    spec = parse_deployment({"name": "chat", "model": dict(MODEL), **section})

    with pytest.raises(SpecError) as caught:
        validate_for_target(spec, target, "eu-west-1" if target == "sagemaker" else None)

    assert caught.value.path == path
    assert "has no effect on" in str(caught.value)


def test_each_restricted_field_is_read_by_a_target_that_uses_it() -> None:
    """Every table entry names a field the code of at least one of its targets reads."""
    folders = {"onprem": "kubernetes", "jetson": "jetson", "sagemaker": "aws"}
    shared = (COMPONENTS / "deployment" / "targets.py").read_text(encoding="utf-8")
    for path, (targets, _) in USED_BY.items():
        leaf = path.rsplit(".", 1)[-1]
        texts = [shared]
        for target in targets & set(folders):
            folder = COMPONENTS / folders[target]
            texts += [p.read_text(encoding="utf-8") for p in folder.glob("*.py")]
        assert any(f".{leaf}" in text for text in texts), path

"""Fix lines lead with the deployment spec key that fixes the finding, and that key exists.

A finding's fix line is read by a person who wrote a stack config, not provider properties:
rules whose outcome a spec field governs say "Set <spec key>...; on the resource: <property>".
"""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel

from inferstack.compliance import Rule, all_rules
from inferstack.deployment import DeploymentSpec

SPEC_FIRST = [rule for rule in all_rules() if "; on the resource:" in rule.remediation]
# Dotted lower-case paths like security.rate_limit or model.source.
KEY = re.compile(r"\b([a-z_]+(?:\.[a-z_]+)+)\b")


def spec_path_exists(path: str) -> bool:
    model: type[BaseModel] | None = DeploymentSpec
    for part in path.split("."):
        if model is None or part not in model.model_fields:
            return False
        annotation = model.model_fields[part].annotation
        model = next(
            (
                candidate
                for candidate in (annotation, *getattr(annotation, "__args__", ()))
                if isinstance(candidate, type) and issubclass(candidate, BaseModel)
            ),
            None,
        )
    return True


def test_the_spec_first_rules_include_the_ones_users_met() -> None:
    names = {rule.name for rule in SPEC_FIRST}
    assert {
        "aws-sagemaker-model-require-network-isolation",
        "kubernetes-networking-ingress-require-rate-limit",
        "azure-ml-onlineendpoint-restrict-auth-mode",
    } <= names


@pytest.mark.parametrize("rule", SPEC_FIRST, ids=lambda rule: rule.name)
def test_the_fix_names_spec_keys_that_exist(rule: Rule) -> None:
    spec_part = rule.remediation.split("; on the resource:")[0]
    keys = KEY.findall(spec_part)

    assert keys, f"{rule.name}: no spec key before 'on the resource'"
    assert [key for key in keys if not spec_path_exists(key)] == []


def test_a_misspelt_key_is_caught() -> None:
    assert spec_path_exists("security.network.tls_secret_name")
    assert not spec_path_exists("security.network.tls_secret")

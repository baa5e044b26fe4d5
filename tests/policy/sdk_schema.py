"""Resolve type tokens and input property names against the installed Pulumi SDKs.

A rule that checks a misspelt property never fires, so fixtures and rules are checked against the
generated SDK classes: the resource class registered for a token, and the wire (camelCase) names
of its ``*Args`` input types, followed recursively through nested input types.
"""

from __future__ import annotations

import importlib
import inspect
import keyword
import re
from collections.abc import Mapping
from functools import cache
from types import ModuleType
from typing import Any

from pulumi import _types as pulumi_types

_PACKAGES = {
    "aws": "pulumi_aws",
    "azure-native": "pulumi_azure_native",
    "gcp": "pulumi_gcp",
    "kubernetes": "pulumi_kubernetes",
}
# Types rules cover that no generated SDK declares, each with where its shape comes from.
NOT_IN_SDKS: Mapping[str, str] = {
    "kubernetes:keda.sh/v1alpha1:ScaledObject": "a KEDA custom resource (keda.sh/v1alpha1 CRD)",
    "pulumi-python:dynamic/vertex:ModelDeployment": "inferstack.vertex.provider.ModelDeployment",
}
_ARGS_NAME = re.compile(r"([A-Za-z_][\w.]*Args)\b")
_FREE_FORM = object()


def _module_path(package: str, module: str) -> str:
    root = _PACKAGES[package]
    if package == "kubernetes":
        group, _, version = module.partition("/")
        group = group.removesuffix(".k8s.io")
        return f"{root}.{group.replace('.', '_')}.{version}"
    if module == "index":
        return root
    name = module.split("/", 1)[0]
    # Python keywords get a trailing underscore in generated SDKs (pulumi_aws.lambda_).
    return f"{root}.{name}_" if keyword.iskeyword(name) else f"{root}.{name}"


@cache
def resource_class(token: str) -> type[Any]:
    """The SDK class whose type token is ``token`` (providers: ``pulumi:providers:<pkg>``)."""
    if token.startswith("pulumi:providers:"):
        package = token.rsplit(":", 1)[1]
        provider: type[Any] = importlib.import_module(_PACKAGES[package]).Provider
        return provider
    package, module, name = token.split(":")
    found = getattr(importlib.import_module(_module_path(package, module)), name)
    registered = getattr(found, "pulumi_type", None)
    assert registered == token, f"{token}: SDK class registers {registered}"
    return found  # type: ignore[no-any-return]


@cache
def args_class(token: str) -> type[Any]:
    cls = resource_class(token)
    module = importlib.import_module(cls.__module__)
    # Generated SDKs rename a resource's args to <Name>InitArgs when a nested type owns <Name>Args.
    for name in (f"{cls.__name__}InitArgs", f"{cls.__name__}Args"):
        if name in vars(module):
            return vars(module)[name]  # type: ignore[no-any-return]
    raise AssertionError(f"{token}: no args class in {module.__name__}")


def _names(cls: type[Any]) -> dict[str, str]:
    """Wire name -> Python parameter name of an input type."""
    return {wire: py for py, wire in pulumi_types.input_type_py_to_pulumi_names(cls).items()}


def _resolve(reference: str, home: ModuleType) -> type[Any] | None:
    if "." in reference:
        *parts, name = reference.split(".")
        root = home.__name__.split(".", 1)[0]
        module_name = ".".join([root, *(part.lstrip("_") for part in parts)])
        try:
            return getattr(importlib.import_module(module_name), name, None)
        except ModuleNotFoundError:
            return None
    found = getattr(home, reference, None)
    if found is None:
        package = importlib.import_module(home.__name__.rsplit(".", 1)[0])
        found = getattr(package, reference, None)
    return found


def _nested(cls: type[Any], parameter: str) -> tuple[list[type[Any]], bool]:
    """Input types a parameter may hold, and whether it is a map of them (Mapping[str, X])."""
    annotation = str(inspect.signature(cls.__init__).parameters[parameter].annotation)
    home = importlib.import_module(cls.__module__)
    found = []
    for reference in _ARGS_NAME.findall(annotation):
        resolved = _resolve(reference, home)
        if resolved is not None and resolved not in found:
            found.append(resolved)
    return found, "Mapping[str" in annotation


def unknown_paths(value: Any, classes: list[type[Any]], path: str = "") -> list[str]:
    """Property paths in ``value`` that none of the candidate input types declares."""
    if isinstance(value, list):
        return [
            p for i, item in enumerate(value) for p in unknown_paths(item, classes, f"{path}[{i}]")
        ]
    if not isinstance(value, Mapping) or not classes:
        return []
    problems: list[str] = []
    for key, item in value.items():
        owners = [cls for cls in classes if key in _names(cls)]
        if not owners:
            problems.append(f"{path}.{key}".lstrip("."))
            continue
        nested = [_nested(cls, _names(cls)[key]) for cls in owners]
        types = [t for found, _ in nested for t in found]
        if any(is_map for _, is_map in nested) and isinstance(item, Mapping):
            for name, entry in item.items():
                problems.extend(unknown_paths(entry, types, f"{path}.{key}.{name}"))
        else:
            problems.extend(unknown_paths(item, types, f"{path}.{key}"))
    return problems


def check_inputs(token: str, props: Mapping[str, Any]) -> list[str]:
    return unknown_paths(props, [args_class(token)])


def declares(token: str, *path: str) -> bool:
    """Whether the resource's inputs have a property at ``path`` (e.g. ("metadata", "labels"))."""
    classes = [args_class(token)]
    for key in path:
        owners = [cls for cls in classes if key in _names(cls)]
        if not owners:
            return False
        classes = [n for cls in owners for n in _nested(cls, _names(cls)[key])[0]]
    return True

"""Validate azure-native inputs against Microsoft's own management SDK models, offline.

Two kinds of models ship in the ``azure-mgmt-*`` packages:

- msrest models (azure-mgmt-machinelearningservices 2.x, API 2023-04-01): ``_attribute_map``
  (wire keys, flattened with dots, and types) and ``_validation`` (required, read-only,
  patterns, lengths, ranges), checked by ``Model.validate()`` after deserialization.
- TypeSpec models (azure-mgmt-keyvault, -storage, -containerregistry): ``rest_field`` wire
  names, visibility (read-only fields), and type annotations (optional or required, nested
  models, closed enums).

:func:`check` walks a request body against either: every key must be a field the API knows,
no read-only field may be sent, required fields must be present, nested models recurse, and
values must have the declared type (and msrest's constraints). It returns the problems found,
each naming its path.
"""

from __future__ import annotations

import datetime
import enum
import re
import sys
import types
import typing
from typing import Any

import isodate


def check(model: type[Any], body: Any, path: str = "$") -> list[str]:
    if hasattr(model, "_attribute_map"):
        return _msrest(model, body, path)
    return _typespec(model, body, path)


# -- msrest ------------------------------------------------------------------------------------


def _msrest(model: type[Any], body: Any, path: str) -> list[str]:
    if not isinstance(body, dict):
        return [f"{path}: expected an object for {model.__name__}, got {body!r}"]
    model = _msrest_subtype(model, body)
    fields: dict[str, tuple[str, str]] = {}  # wire path -> (attribute, type)
    for attribute, info in model._attribute_map.items():
        fields[info["key"].replace("\\.", "\x00")] = (attribute, info["type"])
    validation = getattr(model, "_validation", {})
    problems: list[str] = []
    flat = _flatten(body, {key.split(".")[0] for key in fields if "." in key}, fields)
    for key, value in flat.items():
        if key not in fields:
            problems.append(f"{path}.{key}: not a field of {model.__name__}")
            continue
        attribute, kind = fields[key]
        if validation.get(attribute, {}).get("readonly"):
            problems.append(f"{path}.{key}: read-only in {model.__name__}")
            continue
        rules = validation.get(attribute, {})
        problems += _constraints(rules, value, f"{path}.{key}")
        problems += _msrest_value(kind, value, f"{path}.{key}", sys.modules[model.__module__])
    for key, (attribute, _) in fields.items():
        rules = validation.get(attribute, {})
        if rules.get("required") and not rules.get("constant") and key not in flat:
            problems.append(f"{path}.{key}: required by {model.__name__}")
    return problems


def _constraints(rules: dict[str, Any], value: Any, path: str) -> list[str]:
    """msrest's client-side validation: patterns, lengths, ranges, item counts."""
    problems = []
    if "pattern" in rules and isinstance(value, str) and not re.search(rules["pattern"], value):
        problems.append(f"{path}: {value!r} does not match {rules['pattern']}")
    if isinstance(value, (str, list)):
        if len(value) < rules.get("min_length", rules.get("min_items", 0)):
            problems.append(
                f"{path}: shorter than {rules.get('min_length', rules.get('min_items'))}"
            )
        if len(value) > rules.get("max_length", rules.get("max_items", len(value))):
            problems.append(
                f"{path}: longer than {rules.get('max_length', rules.get('max_items'))}"
            )
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in rules and value < rules["minimum"]:
            problems.append(f"{path}: {value} is below {rules['minimum']}")
        if "maximum" in rules and value > rules["maximum"]:
            problems.append(f"{path}: {value} is above {rules['maximum']}")
    return problems


def _integral(value: Any) -> bool:
    """Integers arrive as floats (protobuf numbers); the provider sends 90.0 as 90."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _flatten(body: dict[str, Any], prefixes: set[str], fields: dict[str, Any]) -> dict[str, Any]:
    """Nested wire objects that msrest flattens (``properties.x``) as dotted keys."""
    flat: dict[str, Any] = {}
    for key, value in body.items():
        if key in prefixes and key not in fields and isinstance(value, dict):
            for inner, inner_value in _flatten(
                value,
                {
                    k.split(".", 2)[1]
                    for k in fields
                    if k.startswith(f"{key}.") and k.count(".") > 1
                },
                {
                    k.removeprefix(f"{key}."): v
                    for k, v in fields.items()
                    if k.startswith(f"{key}.")
                },
            ).items():
                flat[f"{key}.{inner}"] = inner_value
        else:
            flat[key] = value
    return flat


def _msrest_subtype(model: type[Any], body: dict[str, Any]) -> type[Any]:
    for attribute, subtypes in getattr(model, "_subtype_map", {}).items():
        key = model._attribute_map[attribute]["key"]
        name = subtypes.get(body.get(key))
        if name is not None:
            found: type[Any] = getattr(sys.modules[model.__module__], name)
            return found
    return model


def _msrest_value(kind: str, value: Any, path: str, module: types.ModuleType) -> list[str]:
    if kind.startswith("["):
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        return [
            p
            for i, v in enumerate(value)
            for p in _msrest_value(kind[1:-1], v, f"{path}[{i}]", module)
        ]
    if kind.startswith("{"):
        if not isinstance(value, dict):
            return [f"{path}: expected an object"]
        return [
            p for k, v in value.items() for p in _msrest_value(kind[1:-1], v, f"{path}.{k}", module)
        ]
    if kind in ("int", "long"):
        return [] if _integral(value) else [f"{path}: expected an integer, got {value!r}"]
    if kind == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected a number, got {value!r}"]
    if kind == "bool":
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean, got {value!r}"]
    if kind == "str":
        return [] if isinstance(value, str) else [f"{path}: expected a string, got {value!r}"]
    if kind == "object":
        return []
    if kind == "duration":
        try:
            isodate.parse_duration(value)
        except (isodate.ISO8601Error, TypeError, ValueError):
            return [f"{path}: {value!r} is not an ISO 8601 duration"]
        return []
    if kind == "iso-8601":
        try:
            datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return [f"{path}: {value!r} is not an ISO 8601 date-time"]
        return []
    nested = getattr(module, kind, None)
    if nested is None:
        return [f"{path}: unknown type {kind}"]
    if isinstance(nested, type) and issubclass(nested, enum.Enum):
        return [] if isinstance(value, str) else [f"{path}: expected one of {kind}"]
    return _msrest(nested, value, path)


# -- TypeSpec (model_base) ---------------------------------------------------------------------


def _typespec(model: type[Any], body: Any, path: str) -> list[str]:
    if not isinstance(body, dict):
        return [f"{path}: expected an object for {model.__name__}, got {body!r}"]
    model = _typespec_subtype(model, body)
    model({})  # computes the class's rest fields
    module = sys.modules[model.__module__]
    hints = _hints(model, module)
    fields = {rf._rest_name: (attr, rf) for attr, rf in model._attr_to_rest_field.items()}
    problems: list[str] = []
    for key, value in body.items():
        if key not in fields:
            problems.append(f"{path}.{key}: not a field of {model.__name__}")
            continue
        attr, rf = fields[key]
        if rf._visibility == ["read"]:
            problems.append(f"{path}.{key}: read-only in {model.__name__}")
            continue
        problems += _typespec_value(hints.get(attr, Any), value, f"{path}.{key}")
    for key, (attr, rf) in fields.items():
        if rf._visibility == ["read"] or getattr(rf, "_is_discriminator", False):
            continue
        if not _optional(hints.get(attr, Any)) and key not in body:
            problems.append(f"{path}.{key}: required by {model.__name__}")
    return problems


def _typespec_subtype(model: type[Any], body: dict[str, Any]) -> type[Any]:
    mapping = getattr(model, "__mapping__", None) or {}
    discriminator = next(
        (
            rf._rest_name
            for rf in getattr(model, "__dict__", {}).values()
            if getattr(rf, "_is_discriminator", False)
        ),
        None,
    )
    if discriminator and body.get(discriminator) in mapping:
        found: type[Any] = mapping[body[discriminator]]
        return found
    return model


def _hints(model: type[Any], module: types.ModuleType) -> dict[str, Any]:
    """Field annotations with every forward reference (``"_models.Sku"``) resolved."""
    namespace = dict(vars(module))
    namespace["_models"] = sys.modules[module.__name__.rsplit(".", 1)[0]]  # the models package
    hints: dict[str, Any] = {}
    for klass in reversed(model.__mro__):
        if "__annotations__" in vars(klass) and klass.__module__ == module.__name__:
            hints.update(typing.get_type_hints(klass, globalns=namespace, localns=namespace))
    return hints


def _optional(annotation: Any) -> bool:
    return type(None) in typing.get_args(annotation)


def _typespec_value(annotation: Any, value: Any, path: str) -> list[str]:
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (typing.Union, types.UnionType):
        if any(a is str for a in args) and isinstance(value, str):
            return []  # an open enum: any string
        results = [_typespec_value(a, value, path) for a in args]
        return [] if any(not r for r in results) else results[0]
    if origin is list:
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        return [p for i, v in enumerate(value) for p in _typespec_value(args[0], v, f"{path}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{path}: expected an object"]
        return [p for k, v in value.items() for p in _typespec_value(args[1], v, f"{path}.{k}")]
    if isinstance(annotation, type):
        if issubclass(annotation, enum.Enum):
            allowed = [m.value for m in annotation]
            return [] if value in allowed else [f"{path}: {value!r} is not one of {allowed}"]
        if (
            hasattr(annotation, "_attr_to_rest_field")
            or hasattr(annotation, "__mapping__")
            or annotation.__module__.endswith(".models._models")
        ):
            return _typespec(annotation, value, path)
        if annotation is bool:
            return [] if isinstance(value, bool) else [f"{path}: expected bool, got {value!r}"]
        if annotation is int:
            return [] if _integral(value) else [f"{path}: expected int, got {value!r}"]
        if annotation is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            return [] if ok else [f"{path}: expected number, got {value!r}"]
        if annotation is str:
            return [] if isinstance(value, str) else [f"{path}: expected str, got {value!r}"]
        if annotation is datetime.datetime:
            try:
                datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError:
                return [f"{path}: {value!r} is not a date-time"]
    return []

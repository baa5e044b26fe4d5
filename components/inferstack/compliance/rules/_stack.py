"""Find the resources that refer to one another in a stack, in preview as in update.

A companion resource (an S3 encryption configuration, a diagnostic setting) names its target by
an output of the target (``bucket.id``), which is unknown during preview. The engine also sends
``propertyDependencies``: the URNs each input was computed from, known in both modes. So a
reference is matched by property dependency first and by a known literal value second; without
property dependencies at all, a plain dependency on the target counts.
"""

from __future__ import annotations

import atexit
from collections.abc import Sequence
from typing import Any

from inferstack.compliance.model import StackResource
from inferstack.compliance.props import get


def of_type(resources: Sequence[StackResource], *types: str) -> list[StackResource]:
    """The resources of the given types, in stack order."""
    index = _type_index(resources)
    if len(types) == 1:
        return [resource for _, resource in index.get(types[0], ())]
    found = sorted(item for kind in set(types) for item in index.get(kind, ()))
    return [resource for _, resource in found]


# Stack rules look companions up once per target resource; scanning the stack each time is
# quadratic (seconds at 5,000 resources). So each AnalyzeStack request's resources are indexed
# once, and the indexes are kept for as long as that request's resource list is the one asked
# about (held here, so its id cannot be reused meanwhile).
_Positioned = list[tuple[int, StackResource]]
_cached: list[tuple[Sequence[StackResource], dict[Any, Any]]] = []
# The cached resources hold protobuf containers (their options); released before interpreter
# shutdown, because protobuf's C extension cannot free them once its module is finalized.
atexit.register(_cached.clear)


def _indexes(resources: Sequence[StackResource]) -> dict[Any, Any]:
    if not _cached or _cached[0][0] is not resources:
        _cached[:] = [(resources, {})]
    return _cached[0][1]


def _type_index(resources: Sequence[StackResource]) -> dict[str, _Positioned]:
    indexes = _indexes(resources)
    if "types" not in indexes:
        by_type: dict[str, _Positioned] = {}
        for position, resource in enumerate(resources):
            by_type.setdefault(resource.resource_type, []).append((position, resource))
        indexes["types"] = by_type
    index: dict[str, _Positioned] = indexes["types"]
    return index


def known_strings(*values: Any) -> frozenset[str]:
    return frozenset(value for value in values if isinstance(value, str) and value)


def depends_via(resource: StackResource, prop: str, target: StackResource) -> bool:
    deps = resource.property_dependencies
    if prop in list(deps):
        return any(dep.urn == target.urn for dep in deps[prop])
    if not list(deps):
        return any(dep.urn == target.urn for dep in resource.dependencies)
    return False


def refers_to(
    resource: StackResource, prop: str, target: StackResource, identities: frozenset[str]
) -> bool:
    """Whether ``resource.<prop>`` is computed from ``target`` or equals one of its known names."""
    if depends_via(resource, prop, target):
        return True
    value = get(resource.props, prop)
    return isinstance(value, str) and value in identities


def companions(
    resources: Sequence[StackResource],
    target: StackResource,
    types: tuple[str, ...],
    prop: str,
    identities: frozenset[str],
) -> list[StackResource]:
    """The resources of ``types`` whose ``prop`` refers to ``target`` (see :func:`refers_to`)."""
    by_urn, by_value = _reference_index(resources, types, prop)
    found = set(by_urn.get(target.urn, ()))
    for identity in identities:
        found.update(by_value.get(identity, ()))
    return [resource for _, resource in sorted(found, key=lambda item: item[0])]


def _reference_index(
    resources: Sequence[StackResource], types: tuple[str, ...], prop: str
) -> tuple[dict[str, set[tuple[int, StackResource]]], dict[str, set[tuple[int, StackResource]]]]:
    """Who refers to what through ``prop``: by the URNs it was computed from, and by value."""
    indexes = _indexes(resources)
    key = ("references", types, prop)
    if key not in indexes:
        by_urn: dict[str, set[tuple[int, StackResource]]] = {}
        by_value: dict[str, set[tuple[int, StackResource]]] = {}
        positions = {id(resource): position for position, resource in enumerate(resources)}
        for resource in of_type(resources, *types):
            item = (positions[id(resource)], resource)
            for urn in _referenced_urns(resource, prop):
                by_urn.setdefault(urn, set()).add(item)
            value = get(resource.props, prop)
            if isinstance(value, str):
                by_value.setdefault(value, set()).add(item)
        indexes[key] = (by_urn, by_value)
    result: tuple[dict[str, Any], dict[str, Any]] = indexes[key]
    return result


def _referenced_urns(resource: StackResource, prop: str) -> set[str]:
    # The same reading as depends_via: the input's own dependencies, else (when the engine
    # sent no property dependencies at all) the resource's plain dependencies.
    deps = resource.property_dependencies
    if prop in list(deps):
        return {dep.urn for dep in deps[prop]}
    if not list(deps):
        return {dep.urn for dep in resource.dependencies}
    return set()

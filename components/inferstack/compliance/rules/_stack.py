"""Find the resources that refer to one another in a stack, in preview as in update.

A companion resource (an S3 encryption configuration, a diagnostic setting) names its target by
an output of the target (``bucket.id``), which is unknown during preview. The engine also sends
``propertyDependencies``: the URNs each input was computed from, known in both modes. So a
reference is matched by property dependency first and by a known literal value second; without
property dependencies at all, a plain dependency on the target counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from inferstack.compliance.model import StackResource
from inferstack.compliance.props import get


def of_type(resources: Iterable[StackResource], *types: str) -> list[StackResource]:
    return [resource for resource in resources if resource.resource_type in types]


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
    return [r for r in of_type(resources, *types) if refers_to(r, prop, target, identities)]

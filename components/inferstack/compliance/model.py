"""The rule model: what a rule checks, which controls it serves and how it is configured.

A rule is plain data plus one validate function; :mod:`inferstack.compliance.policy` turns it into
a pulumi_policy policy. Rule functions receive pulumi_policy's own argument objects, typed here
by the attributes rules read, so tests can drive them through the real analyzer servicer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final, Literal, Protocol

Framework = Literal["baseline", "hipaa", "gdpr", "owasp-llm"]
FRAMEWORKS: Final[tuple[Framework, ...]] = ("baseline", "hipaa", "gdpr", "owasp-llm")

UNVERIFIABLE_MARKER: Final = "unverifiable at preview: "
"""Starts every finding about a value known only after deploy: marker, property path, ": ", why."""

NAME_PATTERN: Final = re.compile(
    r"^(kubernetes|aws|azure|gcp|all)-[a-z0-9]+-[a-z0-9]+"
    r"-(require|disallow|restrict|limit)-[a-z0-9]+(-[a-z0-9]+)*$"
)


class Severity(str, Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Enforcement(str, Enum):
    ADVISORY = "advisory"
    MANDATORY = "mandatory"
    DISABLED = "disabled"


class Scope(str, Enum):
    RESOURCE = "resource"
    STACK = "stack"


class Provider(Protocol):
    @property
    def resource_type(self) -> str: ...
    @property
    def props(self) -> Mapping[str, Any]: ...


class _Identified(Provider, Protocol):
    """What every resource a rule sees has: its type and inputs (as a provider has), its URN,
    its name and its provider."""

    @property
    def urn(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def provider(self) -> Provider | None: ...


class Resource(_Identified, Protocol):
    """What a resource rule sees (pulumi_policy's ``ResourceValidationArgs``)."""

    def not_applicable(self, reason: str | None = None) -> None:
        """Declare the policy not applicable to this resource (pulumi_policy raises here)."""
        ...


class StackResource(_Identified, Protocol):
    """One resource of the stack as a stack rule sees it (pulumi_policy's ``PolicyResource``)."""

    @property
    def dependencies(self) -> Sequence[StackResource]: ...
    @property
    def property_dependencies(self) -> Mapping[str, Sequence[StackResource]]: ...


class Report(Protocol):
    def __call__(self, message: str, urn: str | None = None, /) -> None: ...


class RuleConfig:
    """A rule's effective settings: the pack's framework defaults overlaid with pack config."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)

    def raw(self, key: str) -> Any:
        return self._values.get(key)

    def strings(self, key: str) -> tuple[str, ...]:
        value = self._values.get(key)
        if isinstance(value, str):
            return (value,)
        if isinstance(value, Sequence):
            return tuple(str(item) for item in value if item is not None)
        return ()

    def number(self, key: str) -> float | None:
        value = self._values.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)


ResourceCheck = Callable[[Resource, Report, RuleConfig], None]
StackCheck = Callable[[Sequence[StackResource], Report, RuleConfig], None]


@dataclass(frozen=True)
class Setting:
    """One config key of a rule: its JSON schema and its default per pack framework."""

    key: str
    schema: Mapping[str, Any]
    default: Any
    framework_defaults: Mapping[str, Any] = field(default_factory=dict)

    def default_for(self, framework: str) -> Any:
        return self.framework_defaults.get(framework, self.default)


@dataclass(frozen=True)
class Rule:
    """A policy rule.

    ``frameworks`` says which packs select it: ``baseline`` rules are in every pack, ``hipaa`` and
    ``gdpr`` rules only in that framework's pack. ``controls`` are the ids of
    :func:`inferstack.compliance.controls`; ``peers`` are ids of rules in other tools that check
    the same thing (checkov ``CKV_*``, ``cdk-nag:<rule>``, ``azure-policy:<definition id>``).

    ``reads`` are the property paths the rule judges (dotted, ``[*]`` for every list item): an
    unknown value at any of them makes the verdict a violation or *unverifiable at preview*,
    never a pass. ``references`` are paths only checked for presence (a key ARN, a subnet id):
    another resource's output is unknown at preview and counts as set. The policy tests inject
    an unknown at each declared path and fail a rule that reads a path it did not declare.
    """

    name: str
    description: str
    severity: Severity
    resource_types: tuple[str, ...]
    controls: tuple[str, ...]
    frameworks: frozenset[Framework]
    remediation: str
    check: ResourceCheck | StackCheck
    scope: Scope = Scope.RESOURCE
    enforcement: Enforcement = Enforcement.MANDATORY
    peers: tuple[str, ...] = ()
    settings: tuple[Setting, ...] = ()
    reads: tuple[str, ...] = ()
    references: tuple[str, ...] = ()

    @property
    def tags(self) -> tuple[str, ...]:
        return self.controls + tuple(f"peer:{peer}" for peer in self.peers)

    def applies_to(self, resource_type: str) -> bool:
        return any(_type_matches(pattern, resource_type) for pattern in self.resource_types)

    def in_pack(self, framework: Framework) -> bool:
        return "baseline" in self.frameworks or framework in self.frameworks


def _type_matches(pattern: str, resource_type: str) -> bool:
    if pattern.endswith("*"):
        return resource_type.startswith(pattern[:-1])
    return pattern == resource_type

"""Run rules through pulumi_policy's real analyzer servicer, in update and preview modes.

Fixtures mark the values a cloud computes (ARNs, ids, generated names) with :class:`Computed`.
In update mode they are the concrete value; in preview mode they become pulumi_policy's unknown
sentinels, exactly as the engine sends them. Going through the servicer means an unknown takes
the same path as in production: a finding *unverifiable at preview* comes back as pulumi_policy's
advisory "can't run policy" note carrying the marker, which :func:`evaluate` splits into one
:class:`Diagnostic` per finding (``unverifiable`` set). A downgrade without the marker means the
rule read an unknown behind the wrapper's back, and :func:`evaluate` fails.

:func:`recording_reads` records every property path a rule reads, through the same proxy
pulumi_policy wraps properties in, so tests can hold rules to the paths they declare.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import pulumi_policy.policy as policy_module
from google.protobuf import struct_pb2
from pulumi.runtime import proto
from pulumi_policy.policy import EnforcementLevel, _PolicyAnalyzerServicer
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

from inferstack.compliance.model import UNVERIFIABLE_MARKER, Framework, Rule, Scope
from inferstack.compliance.policy import to_policy

MODES: Final = ("update", "preview", "preview-typed")
PREVIEW_MODES: Final = ("preview", "preview-typed")
DOWNGRADE_PREFIX: Final = "can't run policy"
DELETE: Final = object()
LEVELS: Final = {
    "advisory": proto.ADVISORY,
    "mandatory": proto.MANDATORY,
    "disabled": proto.DISABLED,
}


@dataclass(frozen=True)
class Computed:
    """A value only the cloud knows: concrete on update, unknown during preview."""

    value: Any


@dataclass(frozen=True)
class Res:
    """A resource of a stack fixture; ``deps`` maps an input to the names it was computed from."""

    type: str
    name: str
    props: Mapping[str, Any]
    deps: Mapping[str, Sequence[str]] = field(default_factory=dict)
    provider: Res | None = None

    @property
    def urn(self) -> str:
        return urn(self.type, self.name)


@dataclass(frozen=True)
class Diagnostic:
    policy: str
    message: str
    urn: str
    mandatory: bool
    unverifiable: bool = False


def urn(resource_type: str, name: str) -> str:
    return f"urn:pulumi:test::inferstack::{resource_type}::{name}"


def _typed_sentinel(value: Any) -> str:
    if isinstance(value, bool):
        return UNKNOWN_BOOLEAN_VALUE
    if isinstance(value, int | float):
        return UNKNOWN_NUMBER_VALUE
    if isinstance(value, list):
        return UNKNOWN_ARRAY_VALUE
    if isinstance(value, dict):
        return UNKNOWN_OBJECT_VALUE
    return UNKNOWN_STRING_VALUE


def materialize(value: Any, mode: str) -> Any:
    """Plain wire data for ``mode``: Computed -> value (update) or an unknown sentinel (preview).

    The engine marshals every computed value as the string sentinel; ``preview-typed`` uses the
    type-specific sentinels pulumi_policy also recognises.
    """
    if isinstance(value, Computed):
        if mode == "update":
            return materialize(value.value, mode)
        return UNKNOWN_STRING_VALUE if mode == "preview" else _typed_sentinel(value.value)
    if isinstance(value, Mapping):
        return {key: materialize(item, mode) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [materialize(item, mode) for item in value]
    return value


def has_computed(value: Any) -> bool:
    if isinstance(value, Computed):
        return True
    if isinstance(value, Mapping):
        return any(has_computed(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(has_computed(item) for item in value)
    return False


def strip_computed(value: Any) -> Any:
    """The update-mode value, for checks that only care about property names."""
    return materialize(value, "update")


def struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(dict(value))
    return message


def patched(base: Mapping[str, Any], *changes: tuple[tuple[str | int, ...], Any]) -> dict[str, Any]:
    """A deep copy of ``base`` with each (path, value) set; value DELETE removes the key."""
    result: Any = copy.deepcopy(dict(base))
    for path, value in changes:
        target = result
        for key in path[:-1]:
            target = target.setdefault(key, {}) if isinstance(target, dict) else target[key]
        if value is DELETE:
            if isinstance(target, dict):
                target.pop(path[-1], None)
        else:
            target[path[-1]] = copy.deepcopy(value)
    return dict(result)


def _servicer(rule: Rule, framework: Framework, config: Mapping[str, Any] | None) -> Any:
    policy = to_policy(rule, framework)
    servicer = _PolicyAnalyzerServicer(
        "inferstack-test", "0.0.1", [policy], EnforcementLevel.ADVISORY
    )
    if config is not None:
        request = proto.ConfigureAnalyzerRequest()
        policy_config = request.policyConfig[rule.name]
        level = config.get("enforcementLevel", rule.enforcement.value)
        policy_config.enforcementLevel = LEVELS[level]
        properties = {key: value for key, value in config.items() if key != "enforcementLevel"}
        policy_config.properties.update(properties)
        servicer.Configure(request, None)  # type: ignore[no-untyped-call]
    return servicer


def _provider(resource: Res, mode: str) -> Any:
    assert resource.provider is not None
    provider = resource.provider
    return proto.AnalyzerProviderResource(
        type=provider.type,
        properties=struct(materialize(provider.props, mode)),
        urn=provider.urn,
        name=provider.name,
    )


def _diagnostics(response: Any) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for item in response.diagnostics:
        mandatory = item.enforcementLevel == proto.MANDATORY
        message = item.message
        if message.startswith(DOWNGRADE_PREFIX) and UNVERIFIABLE_MARKER in message:
            # pulumi_policy prefixes the first line with "can't run policy ... during preview: ".
            lines = message[message.index(UNVERIFIABLE_MARKER) :].split("\n")
            found.extend(
                Diagnostic(item.policyName, line, item.urn, mandatory, unverifiable=True)
                for line in lines
            )
            continue
        # A mandatory report carries the policy description on its first line.
        unverifiable = any(line.startswith(UNVERIFIABLE_MARKER) for line in message.split("\n"))
        found.append(Diagnostic(item.policyName, message, item.urn, mandatory, unverifiable))
    return found


def analyze_resource(
    rule: Rule,
    resource: Res,
    mode: str,
    *,
    framework: Framework = "baseline",
    config: Mapping[str, Any] | None = None,
) -> list[Diagnostic]:
    servicer = _servicer(rule, framework, config)
    request = proto.AnalyzeRequest(
        type=resource.type,
        properties=struct(materialize(resource.props, mode)),
        urn=resource.urn,
        name=resource.name,
    )
    if resource.provider is not None:
        request.provider.CopyFrom(_provider(resource, mode))
    return _diagnostics(servicer.Analyze(request, None))


def analyze_stack(
    rule: Rule,
    resources: Iterable[Res],
    mode: str,
    *,
    framework: Framework = "baseline",
    config: Mapping[str, Any] | None = None,
) -> list[Diagnostic]:
    resources = list(resources)
    by_name = {resource.name: resource for resource in resources}
    servicer = _servicer(rule, framework, config)
    request = proto.AnalyzeStackRequest()
    for resource in resources:
        item = request.resources.add()
        item.type = resource.type
        item.urn = resource.urn
        item.name = resource.name
        item.properties.CopyFrom(struct(materialize(resource.props, mode)))
        dependencies: list[str] = []
        for prop, names in resource.deps.items():
            urns = [by_name[name].urn for name in names]
            item.propertyDependencies[prop].urns.extend(urns)
            dependencies.extend(u for u in urns if u not in dependencies)
        item.dependencies.extend(dependencies)
        if resource.provider is not None:
            item.provider.CopyFrom(_provider(resource, mode))
    return _diagnostics(servicer.AnalyzeStack(request, None))


def evaluate(
    rule: Rule,
    subject: Res | Sequence[Res],
    mode: str,
    *,
    framework: Framework = "baseline",
    config: Mapping[str, Any] | None = None,
) -> list[Diagnostic]:
    """Diagnostics of one rule; fails if pulumi_policy downgraded it for reading an unknown."""
    if rule.scope is Scope.STACK:
        resources = [subject] if isinstance(subject, Res) else list(subject)
        found = analyze_stack(rule, resources, mode, framework=framework, config=config)
    else:
        assert isinstance(subject, Res), f"{rule.name} is a resource rule: give one resource"
        found = analyze_resource(rule, subject, mode, framework=framework, config=config)
    downgraded = [d.message for d in found if d.message.startswith(DOWNGRADE_PREFIX)]
    assert not downgraded, f"{rule.name} read an unknown value unchecked in {mode}: {downgraded}"
    return found


_SENTINELS: Final = frozenset(
    {
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_OBJECT_VALUE,
        UNKNOWN_STRING_VALUE,
    }
)


def _wrap(value: Any, path: str, sink: set[str]) -> Any:
    if isinstance(value, dict):
        return _RecordingDict(value, path, sink)
    if isinstance(value, list):
        return _RecordingList(value, path, sink)
    return value


def _child(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[*]"
    return f"{path}.{key}" if path else str(key)


class _RecordingDict(Mapping[str, Any]):
    """pulumi_policy's unknown-checking proxy for a mapping, recording each path read."""

    def __init__(self, data: dict[str, Any], path: str, sink: set[str]) -> None:
        self._data, self._path, self._sink = data, path, sink

    def __getitem__(self, key: str) -> Any:
        path = _child(self._path, key)
        self._sink.add(path)
        value = self._data[key]
        if isinstance(value, str) and value in _SENTINELS:
            raise UnknownValueError(value, path.split("."))
        return _wrap(value, path, self._sink)

    def __iter__(self) -> Iterator[str]:
        if self._path:
            self._sink.add(self._path)
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default


class _RecordingList(Sequence[Any]):
    def __init__(self, data: list[Any], path: str, sink: set[str]) -> None:
        self._data, self._path, self._sink = data, path, sink

    def __getitem__(self, index: Any) -> Any:
        path = _child(self._path, 0)
        self._sink.add(path)
        value = self._data[index]
        if isinstance(value, str) and value in _SENTINELS:
            raise UnknownValueError(value, path.split("."))
        return _wrap(value, path, self._sink)

    def __len__(self) -> int:
        self._sink.add(self._path)
        return len(self._data)


def _floats(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, Mapping):
        return {str(key): _floats(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_floats(item) for item in value]
    return value


def props_key(props: Mapping[str, Any], mode: str = "update") -> str:
    """One resource's properties as the servicer sees them (numbers arrive as floats)."""
    return json.dumps(_floats(materialize(props, mode)), sort_keys=True)


class Reads(dict[str, set[str]]):
    """Paths read, by :func:`props_key` of the properties they were read from."""

    def all(self) -> set[str]:
        return {path for paths in self.values() for path in paths}

    def of(self, props: Mapping[str, Any], mode: str = "update") -> set[str]:
        return self.get(props_key(props, mode), set())


@contextlib.contextmanager
def recording_reads() -> Iterator[Reads]:
    """Every property path (``[*]`` for list items) rules read while the block runs."""
    reads = Reads()
    original = policy_module.unknown_checking_proxy

    def recording(props: dict[str, Any]) -> Any:
        sink = reads.setdefault(json.dumps(_floats(props), sort_keys=True), set())
        return _RecordingDict(props, "", sink)

    policy_module.unknown_checking_proxy = recording  # type: ignore[assignment]
    try:
        yield reads
    finally:
        policy_module.unknown_checking_proxy = original


def _segments(path: str) -> list[str]:
    return path.replace("[*]", ".[*]").split(".")


def declared(path: str, paths: Iterable[str]) -> bool:
    """Whether reading ``path`` is covered by the declared ``paths``.

    A read on the way to a declared path is covered; so is a read inside a path declared as a
    whole subtree (``policy.*``: the rule judges the whole document).
    """
    read = _segments(path)
    for candidate in paths:
        subtree = candidate.endswith(".*")
        want = _segments(candidate.removesuffix(".*"))
        if read == want[: len(read)]:
            return True
        if subtree and read[: len(want)] == want:
            return True
    return False


def inject_unknown(props: Mapping[str, Any], path: str) -> tuple[dict[str, Any], int]:
    """A copy of ``props`` with an unknown at ``path`` (every item for ``[*]``), and how many.

    Only the last key may be new: a missing mapping or list on the way stops the injection (a
    value can only be unknown where its parent exists).
    """
    result: dict[str, Any] = materialize(copy.deepcopy(dict(props)), "update")
    segments = _segments(path.removesuffix(".*"))
    count = 0

    def walk(node: Any, rest: list[str]) -> None:
        nonlocal count
        head, tail = rest[0], rest[1:]
        if head == "[*]":
            if not isinstance(node, list):
                return
            for index in range(len(node)):
                if tail:
                    walk(node[index], tail)
                else:
                    node[index] = UNKNOWN_STRING_VALUE
                    count += 1
            return
        if not isinstance(node, dict):
            return
        if not tail:
            node[head] = UNKNOWN_STRING_VALUE
            count += 1
            return
        if head in node:
            walk(node[head], tail)

    walk(result, segments)
    return result, count


def verdict(diagnostics: Iterable[Diagnostic]) -> list[tuple[str, str]]:
    """What a reviewer sees: (urn, message) pairs, order-independent."""
    return sorted((d.urn, d.message) for d in diagnostics)

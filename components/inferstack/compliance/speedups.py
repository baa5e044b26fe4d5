"""Make pulumi_policy's analyzer fast enough for large stacks, without changing any verdict.

pulumi_policy's servicer handles a resource by looping over every policy of the pack, and for
each one converts the request's property Struct to a dict, deserializes it and wraps it in an
unknown-checking proxy before calling the policy, even when the policy does not look at this
resource type. With seventy policies that is seventy decodings per resource (95% of the time on
a Deployment) and a fixed cost per policy that bounds a pack to a few hundred resources a second.

:func:`install` changes two things:

- Decoding is memoized for the duration of one request (per thread: the gRPC server handles
  requests concurrently), so every policy shares one read-only view. Rules never mutate
  properties, which is what makes sharing safe.
- ``Analyze`` runs on a per-request view of the servicer whose policy list holds only the resource
  policies whose rule applies to the request's resource type. Skipped policies would have
  returned at once without a diagnostic, so the response is the same.

Both reach into pulumi_policy's internals (module globals, a name-mangled attribute, servicer
methods), so each change first checks that every internal it patches is there, in the shape it
expects; a pulumi_policy that differs keeps its own code for that change, slower and with the
same verdicts. The tests run every fixture with and without these changes, and with an
internal missing, and compare the verdicts.
"""

from __future__ import annotations

import atexit
import copy
import importlib
import threading
from collections.abc import Callable, Sequence
from typing import Any

from google.protobuf import json_format as _json_format

from inferstack.compliance.registry import rule as _rule

# Patched by name: these are pulumi_policy's module globals, not part of its typed API.
_policy: Any = importlib.import_module("pulumi_policy.policy")
_POLICIES = "_PolicyAnalyzerServicer__policies"
_local = threading.local()


def _release() -> None:
    # The memo holds protobuf messages; free them while protobuf's C extension is still alive.
    _local.cache = {}


atexit.register(_release)


def _cache() -> dict[tuple[str, int], tuple[Any, Any]]:
    cache: dict[tuple[str, int], tuple[Any, Any]] | None = getattr(_local, "cache", None)
    if cache is None:
        cache = _local.cache = {}
    return cache


def _memoized(kind: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(value: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs:  # e.g. deserialize with proxy_secrets for remediations: not shared
            return function(value, *args, **kwargs)
        cache = _cache()
        key = (kind, id(value))
        hit = cache.get(key)
        # The cache holds the input, so an id cannot be reused by another object meanwhile.
        if hit is not None and hit[0] is value:
            return hit[1]
        result = function(value)
        cache[key] = (value, result)
        return result

    return wrapper


class _JsonFormat:
    """google.protobuf.json_format with MessageToDict memoized."""

    def __init__(self) -> None:
        self.MessageToDict = _memoized("message", _json_format.MessageToDict)

    def __getattr__(self, name: str) -> Any:
        return getattr(_json_format, name)


def _applies(policy: Any, resource_type: str) -> bool:
    if not isinstance(policy, _policy.ResourceValidationPolicy):
        return False  # Analyze skips stack policies anyway
    try:
        return _rule(policy.name).applies_to(resource_type)
    except KeyError:
        return True  # not one of ours: keep it


class _PolicySelection:
    """The policies of a servicer that apply to each resource type, computed once per type."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[tuple[int, str], tuple[Any, list[Any]]] = {}

    def __call__(self, servicer: Any, resource_type: str) -> list[Any]:
        policies: Sequence[Any] = getattr(servicer, _POLICIES)
        key = (id(policies), resource_type)
        with self._lock:
            hit = self._by_key.get(key)
            if hit is None or hit[0] is not policies:
                hit = (policies, [p for p in policies if _applies(p, resource_type)])
                self._by_key[key] = hit
            return hit[1]


# Module globals Analyze reads per policy (decoding), and the servicer's own members.
_DECODERS = ("json_format", "deserialize_properties", "unknown_checking_proxy")


def _code_names(function: Any) -> set[str]:
    code = getattr(function, "__code__", None)
    return set(code.co_names) if code is not None else set()


def can_memoize() -> bool:
    """pulumi_policy decodes through the module globals this change wraps."""
    servicer = getattr(_policy, "_PolicyAnalyzerServicer", None)
    decoders = (
        callable(getattr(_policy, "deserialize_properties", None))
        and callable(getattr(_policy, "unknown_checking_proxy", None))
        and callable(getattr(getattr(_policy, "json_format", None), "MessageToDict", None))
    )
    if servicer is None or not decoders:
        return False
    configure = getattr(servicer, "_configure_runtime_settings", None)
    analyze = getattr(servicer, "Analyze", None)
    # Each request starts in _configure_runtime_settings (where the memo is reset), and Analyze
    # reads the decoders as globals (so the wrapped ones are the ones it calls).
    return callable(configure) and set(_DECODERS) <= _code_names(analyze)


def can_select() -> bool:
    """Analyze loops over the name-mangled policy list that a per-request view replaces."""
    servicer = getattr(_policy, "_PolicyAnalyzerServicer", None)
    if servicer is None or not isinstance(getattr(_policy, "ResourceValidationPolicy", None), type):
        return False
    analyze = getattr(servicer, "Analyze", None)
    init = getattr(servicer, "__init__", None)
    return (
        callable(analyze) and _POLICIES in _code_names(analyze) and _POLICIES in _code_names(init)
    )


def install() -> Callable[[], None]:
    """Apply each change whose internals are present; returns a function that undoes them."""
    servicer = _policy._PolicyAnalyzerServicer
    undo: list[Callable[[], None]] = []
    if can_memoize():
        undo.append(_memoize(servicer))
    if can_select():
        undo.append(_select(servicer))

    def uninstall() -> None:
        for step in reversed(undo):
            step()
        _local.cache = {}

    return uninstall


def _memoize(servicer: Any) -> Callable[[], None]:
    saved = (
        _policy.json_format,
        _policy.deserialize_properties,
        _policy.unknown_checking_proxy,
        servicer.__dict__.get("_configure_runtime_settings"),
    )
    configure = servicer._configure_runtime_settings

    def configure_request(self: Any) -> Any:
        # Analyze, AnalyzeStack and Remediate all start here: a new request, a fresh cache.
        _local.cache = {}
        return configure(self)

    _policy.json_format = _JsonFormat()
    _policy.deserialize_properties = _memoized("deserialized", saved[1])
    _policy.unknown_checking_proxy = _memoized("proxy", saved[2])
    servicer._configure_runtime_settings = configure_request

    def undo() -> None:
        _policy.json_format, _policy.deserialize_properties, _policy.unknown_checking_proxy = saved[
            :3
        ]
        _restore(servicer, "_configure_runtime_settings", saved[3])

    return undo


def _select(servicer: Any) -> Callable[[], None]:
    saved = servicer.__dict__.get("Analyze")
    analyze = servicer.Analyze
    select = _PolicySelection()

    def analyze_applicable(self: Any, request: Any, context: Any) -> Any:
        view = copy.copy(self)  # shares config with self; only the policy list differs
        setattr(view, _POLICIES, select(self, request.type))
        return analyze(view, request, context)

    servicer.Analyze = analyze_applicable
    return lambda: _restore(servicer, "Analyze", saved)


def _restore(owner: Any, name: str, saved: Any) -> None:
    if saved is None:
        if name in owner.__dict__:
            delattr(owner, name)
    else:
        setattr(owner, name, saved)

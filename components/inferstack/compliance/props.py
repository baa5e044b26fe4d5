"""Read resource properties without ever tripping over an unknown value.

During ``pulumi preview`` every value the cloud has not computed yet reaches a policy as one of
pulumi_policy's sentinel strings, wrapped in a proxy that raises ``UnknownValueError`` when the
value is read. pulumi_policy turns that exception into an advisory "can't run during preview"
note, so a mandatory rule that reads an unknown silently passes. These helpers are the only way
rules read properties: a scalar read that would raise is answered with :data:`UNKNOWN` instead,
and a missing key or index with :data:`MISSING`.

An unknown container is never read as empty: :func:`elements`, :func:`keys` and :func:`entries`
raise :class:`UnknownContainerError` naming the path, which the policy wrapper reports as
*unverifiable at preview* (findings reported before it still stand). Rules then decide what an
unknown scalar means. A reference to another resource (a key ARN, a subnet
id) is only checked for presence, so an unknown reference counts as set. A setting the rule must
compare (a flag, a number, a region) is reported as unverifiable when unknown, because a security
setting has to be decidable before deploy.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

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

SENTINELS: Final = frozenset(
    {
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_STRING_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_OBJECT_VALUE,
    }
)


class _Marker:
    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name

    def __bool__(self) -> bool:
        return False


UNKNOWN: Final = _Marker("UNKNOWN")
"""The value exists but will only be known after deploy."""

MISSING: Final = _Marker("MISSING")
"""The key is absent (or an index is out of range)."""

Key = str | int


class UnknownContainerError(Exception):
    """A container a rule must look inside is known only after deploy."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def dotted(path: Sequence[Key]) -> str:
    """``("spec", "rules", 0)`` -> ``spec.rules[0]``."""
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else key)
    return text or "(resource)"


def _container(container: Any, path: tuple[Key, ...]) -> Any:
    value = get(container, *path)
    if value is UNKNOWN:
        raise UnknownContainerError(dotted(path))
    return value


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN or (isinstance(value, str) and value in SENTINELS)


def is_missing(value: Any) -> bool:
    return value is MISSING or value is None


def _step(container: Any, key: Key) -> Any:
    if isinstance(key, str):
        if not isinstance(container, Mapping):
            return MISSING
    elif isinstance(container, str | bytes | Mapping) or not isinstance(container, Sequence):
        return MISSING
    try:
        found = container[key]
    except (KeyError, IndexError):
        return MISSING
    except UnknownValueError:
        # pulumi_policy's proxy raises on an unknown value; the exception never leaves here.
        return UNKNOWN
    return UNKNOWN if is_unknown(found) else found


def get(container: Any, *path: Key) -> Any:
    """The value at ``path``; UNKNOWN if it or a parent is unknown, MISSING if it is absent."""
    current = container
    for key in path:
        if is_unknown(current):
            return UNKNOWN
        current = _step(current, key)
        if current is MISSING:
            return MISSING
    return current


def present(container: Any, *path: Key) -> bool:
    """Whether ``path`` holds a value: an unknown reference counts, ``None`` and ``""`` do not."""
    value = get(container, *path)
    if value is UNKNOWN:
        return True
    return not (is_missing(value) or value == "")


def elements(container: Any, *path: Key) -> list[Any]:
    """The items of the list at ``path`` ([] if absent); unknown items come back as UNKNOWN.

    Raises :class:`UnknownContainerError` when the list itself is unknown.
    """
    value = _container(container, path)
    if (
        is_missing(value)
        or isinstance(value, str | bytes | Mapping)
        or not isinstance(value, Sequence)
    ):
        return []
    return [get(value, index) for index in range(len(value))]


def keys(container: Any, *path: Key) -> list[str]:
    """The keys of the mapping at ``path``; raises :class:`UnknownContainerError` if unknown."""
    value = _container(container, path)
    if isinstance(value, Mapping):
        return [str(key) for key in value]
    return []


def entries(container: Any, *path: Key) -> Iterator[tuple[str, Any]]:
    """Key/value pairs of the mapping at ``path``, unknown values as UNKNOWN.

    Raises :class:`UnknownContainerError` when the mapping itself is unknown.
    """
    value = _container(container, path)
    if isinstance(value, Mapping):
        for key in list(value):
            yield str(key), get(value, key)


def plain(value: Any) -> Any:
    """A deep copy as plain dicts/lists/scalars with unknowns replaced by UNKNOWN."""
    if is_unknown(value):
        return UNKNOWN
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in entries(value)}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [plain(get(value, index)) for index in range(len(value))]
    return value


def has_unknown(value: Any) -> bool:
    """Whether a plain value (from :func:`plain`) contains an unknown anywhere."""
    if value is UNKNOWN:
        return True
    if isinstance(value, Mapping):
        return any(has_unknown(item) for item in value.values())
    if isinstance(value, list):
        return any(has_unknown(item) for item in value)
    return False


def as_bool(value: Any) -> bool | None:
    """True/False for booleans and their string spellings; None for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def as_number(value: Any) -> float | None:
    """Numbers arrive as floats over the wire; numeric strings are accepted too."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def as_document(value: Any) -> Any:
    """A JSON document given either as an object or as its JSON text (IAM, bucket policies)."""
    if isinstance(value, str) and not is_unknown(value):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return MISSING
    return plain(value)

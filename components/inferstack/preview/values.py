"""Property values as they travel between the program, the engine protocol and reports.

The Pulumi wire format encodes unknowns, secrets and resource references as sentinel strings and
signature-keyed objects. Recorded resources keep that wire form (it is what policy packs decode);
these helpers turn it into plain Python values for assertions, reports and manifests.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from google.protobuf import json_format, struct_pb2

# Sentinels of the Pulumi property wire format (sdk/go/common/resource/properties.go).
UNKNOWN_SENTINEL: Final = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SIG_KEY: Final = "4dabf18193072939515e22adb298388d"
SECRET_SIG: Final = "1b47061264138c4ac30d75fd1eb44270"
RESOURCE_SIG: Final = "5cf8f73096256a8f31e491e813e4eb8e"
OUTPUT_VALUE_SIG: Final = "d0e6a833031e9bbcd3f4e8bde6ca49a4"

COMPUTED_TEXT: Final = "<computed>"
SECRET_TEXT: Final = "[secret]"


class Unknown:
    """A value only the cloud provider will know (an output not yet computed during preview)."""

    _instance: Unknown | None = None

    def __new__(cls) -> Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __reduce__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = Unknown()


@dataclass(frozen=True)
class Secret:
    """A value the program marked secret; reports print it as ``[secret]``."""

    value: Any

    def __repr__(self) -> str:
        return "Secret([secret])"


def struct_to_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    """The wire-format Struct as JSON-like Python data (sentinels left as they are)."""
    data: dict[str, Any] = json_format.MessageToDict(struct)
    return data


def dict_to_struct(data: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(dict(data))
    return struct


def plain(value: Any) -> Any:
    """Decode wire-format data: unknowns -> UNKNOWN, secrets -> Secret, references -> URN."""
    if isinstance(value, str):
        return UNKNOWN if value == UNKNOWN_SENTINEL else value
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        sig = value.get(SIG_KEY)
        if sig == SECRET_SIG:
            return Secret(plain(value.get("value")))
        if sig == RESOURCE_SIG:
            return str(value.get("urn", ""))
        if sig == OUTPUT_VALUE_SIG:
            inner = plain(value["value"]) if "value" in value else UNKNOWN
            return Secret(inner) if value.get("secret") else inner
        return {key: plain(item) for key, item in value.items()}
    return value


def for_engine(value: Any) -> Any:
    """Re-encode SDK wire data the way the engine sends it to analyzers.

    The engine marshals analyzer requests without resource references (a reference becomes the
    resource's id, or its URN for components) and without internal ``__`` keys; policy packs
    reject signatures they do not expect.
    """
    if isinstance(value, list):
        return [for_engine(item) for item in value]
    if isinstance(value, dict):
        sig = value.get(SIG_KEY)
        if sig == RESOURCE_SIG:
            resource_id = value.get("id")
            return resource_id if resource_id not in (None, "") else value.get("urn", "")
        if sig == OUTPUT_VALUE_SIG:
            inner = for_engine(value["value"]) if "value" in value else UNKNOWN_SENTINEL
            if value.get("secret"):
                return {SIG_KEY: SECRET_SIG, "value": inner}
            return inner
        if sig is not None:
            return {key: for_engine(item) for key, item in value.items()}
        return {key: for_engine(item) for key, item in value.items() if not key.startswith("__")}
    return value


def engine_struct(struct: struct_pb2.Struct) -> struct_pb2.Struct:
    return dict_to_struct(for_engine(struct_to_dict(struct)))


def integral(value: Any) -> Any:
    """Restore integers: the wire format carries every number as a float."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [integral(item) for item in value]
    if isinstance(value, dict):
        return {key: integral(item) for key, item in value.items()}
    if isinstance(value, Secret):
        return Secret(integral(value.value))
    return value


def to_json(value: Any) -> Any:
    """Report form: integers restored, unknowns as ``<computed>``, secrets as ``[secret]``."""
    if isinstance(value, Unknown):
        return COMPUTED_TEXT
    if isinstance(value, Secret):
        return SECRET_TEXT
    if isinstance(value, list):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    return integral(value)


def find_unknown(value: Any, path: str = "") -> str | None:
    """The dotted path of the first unknown inside ``value``, or None when all is known."""
    if isinstance(value, Unknown):
        return path or "."
    if isinstance(value, Secret):
        return find_unknown(value.value, path)
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = find_unknown(item, f"{path}[{index}]")
            if found is not None:
                return found
    if isinstance(value, dict):
        for key, item in value.items():
            found = find_unknown(item, f"{path}.{key}" if path else key)
            if found is not None:
                return found
    return None

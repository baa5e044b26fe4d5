"""Target settings a stack gives beside the DeploymentSpec (``inferstack:kubernetes``, ...).

The spec says what to serve and how securely; these say where the platform keeps things. They
load from an optional config object and fail like spec errors: one line naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from inferstack.errors import SpecError, fields_at, plain_message

ArgsT = TypeVar("ArgsT", bound="ComponentArgs")


class ComponentArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    config_key: ClassVar[str]
    """The stack config key, e.g. ``inferstack:kubernetes``."""

    @classmethod
    def parse(cls: type[ArgsT], data: Mapping[str, Any] | None) -> ArgsT:
        try:
            return cls.model_validate(dict(data or {}))
        except ValidationError as exc:
            raise args_error(cls, cls.config_key, exc) from None

    @classmethod
    def from_config(cls: type[ArgsT]) -> ArgsT:
        """The stack's config object, or the defaults when it is absent."""
        import pulumi

        namespace, key = cls.config_key.split(":")
        data = pulumi.Config(namespace).get_object(key)
        if data is not None and not isinstance(data, Mapping):
            raise SpecError(cls.config_key, "must be an object", "see docs/targets/")
        return cls.parse(data)


def args_error(model: type[BaseModel], key: str, exc: ValidationError) -> SpecError:
    """The first validation error as a one-line SpecError naming ``key.path[i].field``."""
    error = exc.errors()[0]
    loc = tuple(error["loc"])
    path = config_path(loc)
    message = plain_message(error)
    if error["type"] == "literal_error":
        expected = (error.get("ctx") or {}).get("expected", "")
        message = f"{error.get('input')!r} is not allowed (use {expected})"
    if error["type"] == "extra_forbidden":
        known = fields_at(model, loc[:-1])
        message = "is not a known field"
        if known:
            message += f" (known: {', '.join(known)})"
    return SpecError(f"{key}.{path}" if path else key, message)


def config_path(loc: Sequence[int | str]) -> str:
    """``("patches", 0, "ops", 1, "path")`` -> ``patches[0].ops[1].path``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text

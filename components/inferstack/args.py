"""Target settings a stack gives beside the DeploymentSpec (``inferstack:kubernetes``, ...).

The spec says what to serve and how securely; these say where the platform keeps things. They
load from an optional config object and fail like spec errors: one line naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from inferstack.errors import SpecError

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
            error = exc.errors()[0]
            path = ".".join(str(part) for part in error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = f"is not a known field (known: {', '.join(cls.model_fields)})"
            raise SpecError(f"{cls.config_key}.{path}", message) from None

    @classmethod
    def from_config(cls: type[ArgsT]) -> ArgsT:
        """The stack's config object, or the defaults when it is absent."""
        import pulumi

        namespace, key = cls.config_key.split(":")
        data = pulumi.Config(namespace).get_object(key)
        if data is not None and not isinstance(data, Mapping):
            raise SpecError(cls.config_key, "must be an object", "see docs/targets/")
        return cls.parse(data)

"""Errors raised before any resource is registered.

Every message is one line: the config key path, what is wrong, and how to fix it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

CONFIG_PREFIX = "inferstack:deployment"


class SpecError(ValueError):
    """A deployment spec that cannot be deployed as written.

    ``path`` is the dotted field path inside the deployment spec (``compute.instance_type``);
    ``str(error)`` is the one-line message shown to users, prefixed with the stack config key.
    """

    def __init__(
        self, path: str, problem: str, fix: str | None = None, *, shown_as: str | None = None
    ) -> None:
        self.path = path
        self.problem = problem
        self.fix = fix
        self.shown_as = shown_as
        """Set when the spec came from code: the call and argument shown instead of the key."""
        super().__init__(self.message)

    @property
    def key(self) -> str:
        if self.shown_as:
            return self.shown_as
        if ":" in self.path:  # already a full config key, e.g. aws:region
            return self.path
        return f"{CONFIG_PREFIX}.{self.path}" if self.path else CONFIG_PREFIX

    def naming(self, call: str, renames: Mapping[str, str] | None = None) -> SpecError:
        """The same error for a spec passed to ``call`` in code: ``spec.<path>``, not config.

        ``path`` stays the spec's field path; config keys the call read stay as they are, unless
        ``renames`` maps them to the argument that gave the value (``aws:region`` -> ``region``).
        """
        renamed = (renames or {}).get(self.path)
        if renamed is not None:
            shown = f"{call} {renamed}"
        elif ":" in self.path:
            return self
        else:
            shown = f"{call} {'.'.join(filter(None, ('spec', self.path)))}"
        return SpecError(self.path, self.problem, self.fix, shown_as=shown)

    @property
    def message(self) -> str:
        text = f"{self.key}: {self.problem}"
        if self.fix:
            text += f" ({self.fix})"
        return " ".join(text.split())

    def __str__(self) -> str:
        return self.message


# -- pydantic validation errors, for the spec loader and every target's args -------------------


def fields_at(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """Field names of the model found at ``loc`` inside ``model`` (list indices skipped)."""
    current: type[BaseModel] | None = model
    for part in loc:
        if isinstance(part, int):
            continue
        if current is None or part not in current.model_fields:
            return []
        current = model_in(current.model_fields[part].annotation)
    return list(current.model_fields) if current is not None else []


def model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside a field's annotation (``X | None``, ``list[X]``...), if any."""
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = model_in(arg)
        if found is not None:
            return found
    return None


def plain_message(error: Mapping[str, Any]) -> str:
    """pydantic's message of one error, without the ``Value error, `` of a validator's raise."""
    return str(error["msg"]).removeprefix("Value error, ")

"""JSON Patch overrides of the objects a Kubernetes component creates.

The components always build hardened objects, and a cluster sometimes needs one of them changed:
an annotation its ingress controller wants, a NetworkPolicy its CNI already manages. The
``patches`` of ``inferstack:kubernetes`` change a child with RFC 6902 operations (``add``,
``replace``, ``remove``; paths are RFC 6901 JSON Pointers) or drop it (``remove: true``).

Patches are applied to the manifests before any of them is registered, so what Pulumi creates,
what ``inferstack render`` writes and what the policy packs check are the patched objects: a patch
that weakens the hardening is reported like any other violation. Every patch is checked first: a
kind or name matching nothing, or a path that does not exist, is a one-line SpecError naming
``inferstack:kubernetes.patches[i]...``.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from inferstack.errors import SpecError

Manifest = dict[str, Any]

CONFIG_KEY = "inferstack:kubernetes"
# These identify the object (and name its Pulumi resource): patching them would make another one.
IDENTITY: tuple[tuple[str, ...], ...] = (("apiVersion",), ("kind",), ("metadata", "name"))
_FIX = "`inferstack render` writes the objects as they are built"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PatchOperation(_Model):
    """One RFC 6902 operation on one object."""

    op: Literal["add", "replace", "remove"]
    path: Annotated[str, Field(max_length=1024)]
    """A JSON Pointer into the manifest: ``/spec/template/spec/hostNetwork``; ``~1`` is '/'."""
    value: Any = None
    """The value to add or replace with (any JSON value, ``null`` included)."""

    @field_validator("path")
    @classmethod
    def _pointer(cls, value: str) -> str:
        tokens = pointer_tokens(value)
        if not tokens:
            raise ValueError("'' is the whole object; patch its fields instead")
        for identity in IDENTITY:
            if tuple(tokens) == identity[: len(tokens)]:
                raise ValueError(
                    f"'{value}' holds the object's {'/'.join(identity)}, which cannot be patched"
                )
        return value

    @model_validator(mode="after")
    def _value_matches_op(self) -> PatchOperation:
        given = "value" in self.model_fields_set
        if self.op != "remove" and not given:
            raise ValueError(f"'{self.op}' needs a value")
        if self.op == "remove" and given:
            raise ValueError("'remove' takes no value")
        return self


class ObjectPatch(_Model):
    """Operations on the component's objects of one kind (and name), or their removal."""

    kind: Annotated[str, Field(min_length=1)]
    """The object's kind as in its manifest: Deployment, NetworkPolicy, Ingress..."""
    name: str | None = None
    """Its ``metadata.name``; None: every object of that kind."""
    ops: list[PatchOperation] = Field(default_factory=list)
    remove: bool = False
    """Do not create the object(s) at all."""

    @model_validator(mode="after")
    def _ops_or_remove(self) -> ObjectPatch:
        if self.remove and self.ops:
            raise ValueError("give either ops or remove: true, not both")
        if not self.remove and not self.ops:
            raise ValueError("needs ops (or remove: true to not create the object)")
        return self


class PatchError(ValueError):
    """A path that does not lead where its operation needs it to."""


def pointer_tokens(pointer: str) -> list[str]:
    """RFC 6901: ``/a~1b/0`` -> ``["a/b", "0"]``; ``""`` is the whole document."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"'{pointer}' is not a JSON Pointer: it must start with '/'")
    tokens = pointer[1:].split("/")
    for token in tokens:
        if "~" in token.replace("~0", "").replace("~1", ""):
            raise ValueError(f"'{pointer}' has a '~' that is not ~0 ('~') or ~1 ('/')")
    return [token.replace("~1", "/").replace("~0", "~") for token in tokens]


def apply_operation(document: Any, operation: PatchOperation) -> None:
    """Apply one operation to ``document`` in place (RFC 6902 semantics)."""
    tokens = pointer_tokens(operation.path)
    parent = _walk(document, tokens[:-1])
    last = tokens[-1]
    where = _pointer(tokens)
    value = copy.deepcopy(operation.value)
    if isinstance(parent, dict):
        if operation.op == "add":
            parent[last] = value
        elif last not in parent:
            raise PatchError(f"'{where}' does not exist (keys there: {_keys(parent)})")
        elif operation.op == "replace":
            parent[last] = value
        else:
            del parent[last]
        return
    if isinstance(parent, list):
        if operation.op == "add" and last == "-":
            parent.append(value)
            return
        index = _index(last, parent, where, end_allowed=operation.op == "add")
        if operation.op == "add":
            parent.insert(index, value)
        elif operation.op == "replace":
            parent[index] = value
        else:
            del parent[index]
        return
    raise PatchError(f"'{_pointer(tokens[:-1])}' is a {_type(parent)}, not an object or a list")


def _walk(document: Any, tokens: Sequence[str]) -> Any:
    current = document
    for depth, token in enumerate(tokens):
        where = _pointer(tokens[: depth + 1])
        if isinstance(current, dict):
            if token not in current:
                raise PatchError(f"'{where}' does not exist (keys there: {_keys(current)})")
            current = current[token]
        elif isinstance(current, list):
            current = current[_index(token, current, where, end_allowed=False)]
        else:
            raise PatchError(f"'{_pointer(tokens[:depth])}' is a {_type(current)}, not a container")
    return current


def _index(token: str, items: list[Any], where: str, *, end_allowed: bool) -> int:
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise PatchError(f"'{where}': '{token}' is not a list index (0, 1, ... or '-' to append)")
    index = int(token)
    if index > len(items) or (index == len(items) and not end_allowed):
        count = f"{len(items)} item{'' if len(items) == 1 else 's'}"
        raise PatchError(f"'{where}' does not exist (the list has {count})")
    return index


def _pointer(tokens: Sequence[str]) -> str:
    return "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in tokens)


def _keys(mapping: dict[str, Any]) -> str:
    names = sorted(mapping)
    return ", ".join(names[:12]) + (", ..." if len(names) > 12 else "") if names else "none"


def _type(value: Any) -> str:
    return "null" if value is None else f"{type(value).__name__} value"


def _label(manifest: Manifest) -> str:
    return f"{manifest['kind']} '{manifest['metadata']['name']}'"


class Patcher:
    """Applies a stack's patches to the manifests of one or several batches (a fleet's sites).

    A patch may match objects in some batches only, so one that matched nothing anywhere is
    reported by :meth:`check_matched`, after every batch has been patched.
    """

    def __init__(self, patches: Sequence[ObjectPatch], key: str = CONFIG_KEY) -> None:
        self.patches = tuple(patches)
        self.key = key
        self._matched = [False] * len(self.patches)
        self._seen: dict[str, set[str]] = {}

    def apply(self, manifests: Sequence[Manifest]) -> list[Manifest]:
        """The manifests with every patch applied; patched ones are copies, inputs stay intact."""
        for manifest in manifests:
            self._seen.setdefault(manifest["kind"], set()).add(str(manifest["metadata"]["name"]))
        current = list(manifests)
        for index, patch in enumerate(self.patches):
            hits = [i for i, m in enumerate(current) if _matches(m, patch)]
            self._matched[index] = self._matched[index] or bool(hits)
            if patch.remove:
                dropped = set(hits)
                current = [m for i, m in enumerate(current) if i not in dropped]
                continue
            for i in hits:
                current[i] = self._patched(current[i], patch, index)
        return current

    def check_matched(self) -> None:
        """Raise SpecError for the first patch whose kind and name matched no object."""
        for index, patch in enumerate(self.patches):
            if self._matched[index]:
                continue
            where = f"{self.key}.patches[{index}]"
            kinds = sorted(self._seen)
            if patch.kind not in self._seen:
                raise SpecError(
                    f"{where}.kind",
                    f"'{patch.kind}' is not a kind this component creates",
                    f"kinds: {', '.join(kinds)}",
                )
            names = sorted(self._seen[patch.kind])
            if patch.name is None or patch.name in names:  # an earlier patch removed it
                which = f"{patch.kind} '{patch.name}'" if patch.name else f"every {patch.kind}"
                raise SpecError(
                    f"{where}.name",
                    f"{which} is removed by an earlier patch",
                    "patch it before removing it, or drop one of the two",
                )
            close = difflib.get_close_matches(str(patch.name), names, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise SpecError(
                f"{where}.name",
                f"no {patch.kind} is named '{patch.name}'",
                f"{hint}{patch.kind} objects: {', '.join(names)}",
            )

    def _patched(self, manifest: Manifest, patch: ObjectPatch, index: int) -> Manifest:
        document = copy.deepcopy(manifest)
        for number, operation in enumerate(patch.ops):
            try:
                apply_operation(document, operation)
            except PatchError as exc:
                raise SpecError(
                    f"{self.key}.patches[{index}].ops[{number}].path",
                    f"{operation.op} in {_label(manifest)}: {exc}",
                    _FIX,
                ) from None
        return document


def _matches(manifest: Manifest, patch: ObjectPatch) -> bool:
    if manifest["kind"] != patch.kind:
        return False
    return patch.name is None or manifest["metadata"]["name"] == patch.name


def apply_patches(
    manifests: Sequence[Manifest], patches: Sequence[ObjectPatch], key: str = CONFIG_KEY
) -> list[Manifest]:
    """``manifests`` with ``patches`` applied; SpecError for a patch that cannot apply."""
    patcher = Patcher(patches, key)
    patched = patcher.apply(manifests)
    patcher.check_matched()
    return patched

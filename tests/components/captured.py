"""Lookups in what one program registered under the recording mocks, for the component tests."""

from __future__ import annotations

from typing import Any

from inferstack.preview import CapturedResource


class Captured:
    """The resources one program registered, looked up by type token and name."""

    def __init__(self, resources: list[CapturedResource]) -> None:
        self.resources = resources

    def all(self, token: str) -> list[CapturedResource]:
        return [r for r in self.resources if r.type == token]

    def one(self, token: str, name: str | None = None) -> dict[str, Any]:
        """The inputs of the one resource of ``token`` (named ``name``, if given)."""
        found = [r for r in self.all(token) if name is None or r.name == name]
        assert len(found) == 1, f"{token} {name}: {[r.name for r in found]}"
        return found[0].inputs

    def resource(self, token: str, suffix: str) -> CapturedResource:
        """The one resource of ``token`` whose name ends in ``suffix``."""
        found = [r for r in self.all(token) if r.name.endswith(suffix)]
        assert len(found) == 1, f"{token} *{suffix}: {[r.name for r in self.all(token)]}"
        return found[0]

    def named(self, token: str, suffix: str) -> dict[str, Any]:
        """The inputs of the one resource of ``token`` whose name ends in ``suffix``."""
        return self.resource(token, suffix).inputs

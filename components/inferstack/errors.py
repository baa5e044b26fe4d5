"""Errors raised before any resource is registered.

Every message is one line: the config key path, what is wrong, and how to fix it.
"""

from __future__ import annotations

CONFIG_PREFIX = "inferstack:deployment"


class SpecError(ValueError):
    """A deployment spec that cannot be deployed as written.

    ``path`` is the dotted field path inside the deployment spec (``compute.instance_type``);
    ``str(error)`` is the one-line message shown to users, prefixed with the stack config key.
    """

    def __init__(self, path: str, problem: str, fix: str | None = None) -> None:
        self.path = path
        self.problem = problem
        self.fix = fix
        super().__init__(self.message)

    @property
    def key(self) -> str:
        if ":" in self.path:  # already a full config key, e.g. aws:region
            return self.path
        return f"{CONFIG_PREFIX}.{self.path}" if self.path else CONFIG_PREFIX

    @property
    def message(self) -> str:
        text = f"{self.key}: {self.problem}"
        if self.fix:
            text += f" ({self.fix})"
        return " ".join(text.split())

    def __str__(self) -> str:
        return self.message

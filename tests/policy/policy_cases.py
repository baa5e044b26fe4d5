"""The shape of a rule fixture: one subject, the rule it is for, and what that rule must say."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from policy_harness import Res

from inferstack.compliance.model import Framework


@dataclass(frozen=True)
class Case:
    """``expect`` None: the rule reports nothing; otherwise a violation containing ``expect``."""

    rule: str
    id: str
    subject: Res | tuple[Res, ...]
    expect: str | None
    framework: Framework = "baseline"
    config: Mapping[str, Any] | None = None

    @property
    def param_id(self) -> str:
        return f"{self.rule}:{self.id}"

    @property
    def resources(self) -> tuple[Res, ...]:
        return (self.subject,) if isinstance(self.subject, Res) else self.subject


def ok(rule: str, id: str, subject: Res | tuple[Res, ...], **kw: Any) -> Case:
    return Case(rule, id, subject, None, **kw)


def bad(rule: str, id: str, subject: Res | tuple[Res, ...], expect: str, **kw: Any) -> Case:
    return Case(rule, id, subject, expect, **kw)

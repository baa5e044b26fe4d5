"""Test a Pulumi program that uses inferstack's components, offline, with pytest.

``run_program`` runs a function that creates resources under the same recording mocks the
offline preview uses, then (optionally) sends every resource to policy packs over the analyzer
protocol, exactly as ``pulumi preview --policy-pack`` does. It returns what was registered and
what the packs said, so a test asserts on plain values::

    from inferstack.kubernetes import LLMService
    from inferstack.testing import run_program

    def test_support_bot_is_compliant():
        result = run_program(
            lambda: LLMService("support-bot", {"name": "support-bot", "model": {...}}),
            packs=["policy_packs/baseline", "policy_packs/hipaa"],
        )
        assert result.mandatory == []
        deployment = result.one("kubernetes:apps/v1:Deployment")
        assert deployment.inputs["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"]

Assert on ``result``, after the program ran: checks placed inside an ``Output.apply`` of the
program (for example on a component's ``urn``) run while the mocks are still answering and never
see the children registered after them; an assertion error there is not even raised to pytest.
See docs/testing.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from inferstack.preview.analyzer import Evaluation, Violation, analyze
from inferstack.preview.pack_config import PackConfig
from inferstack.preview.program import PreviewRun, find_project_root, record
from inferstack.preview.recorder import STACK_TYPE, CapturedResource

__all__ = ["ProgramResult", "run_program"]


@dataclass(frozen=True)
class ProgramResult:
    """What a program registered and, if packs were given, what they reported."""

    run: PreviewRun
    evaluation: Evaluation | None

    @property
    def resources(self) -> list[CapturedResource]:
        """Every registered resource except the stack itself."""
        return [r for r in self.run.resources if r.type != STACK_TYPE]

    @property
    def violations(self) -> list[Violation]:
        """Verdicts: a policy judged a resource and found it wanting."""
        return list(self.evaluation.violations) if self.evaluation else []

    @property
    def unverifiable(self) -> list[Violation]:
        """Findings a policy could not decide because a value is known only after deploy."""
        return list(self.evaluation.unverifiable) if self.evaluation else []

    @property
    def mandatory(self) -> list[Violation]:
        """Findings that would stop ``pulumi preview``."""
        return [v for v in self.violations if v.enforcement == "mandatory"]

    def of_type(self, resource_type: str) -> list[CapturedResource]:
        """Resources of one type token, e.g. ``aws:kms/key:Key``."""
        return [r for r in self.resources if r.type == resource_type]

    def one(self, resource_type: str) -> CapturedResource:
        """The only resource of ``resource_type``; fails the test if there are none or several."""
        found = self.of_type(resource_type)
        if len(found) != 1:
            names = ", ".join(r.name for r in found) or "none"
            raise AssertionError(f"expected one {resource_type}, found {len(found)}: {names}")
        return found[0]

    def named(self, name: str) -> CapturedResource:
        """The resource with the logical name ``name``."""
        for resource in self.resources:
            if resource.name == name:
                return resource
        known = ", ".join(sorted(r.name for r in self.resources))
        raise AssertionError(f"no resource named {name!r}; registered: {known}")

    def policies_hit(self) -> set[str]:
        """Names of the policies that reported a violation."""
        return {v.policy for v in self.violations}


def run_program(
    program: Callable[[], Any],
    *,
    packs: Sequence[str | Path] = (),
    pack_config: PackConfig | Sequence[PackConfig] | None = None,
    config: Mapping[str, str] | None = None,
    project: str | None = None,
    stack: str = "test",
    preview: bool = True,
) -> ProgramResult:
    """Run ``program`` under the recording mocks and evaluate ``packs`` (pack directories).

    ``config`` holds stack config values as the Pulumi CLI passes them (``{"aws:region":
    "eu-central-1"}``; objects JSON-encoded). ``project`` defaults to the ``name`` in the nearest
    ``Pulumi.yaml`` above the working directory, so URNs read as they will in the real stack.
    ``preview=False`` runs as ``pulumi up`` does, with computed outputs known.
    """
    project = project or _project_name(Path.cwd())
    resources = record(program, preview=preview, project=project, stack=stack, config=config)
    run = PreviewRun(
        stack=stack,
        target=None,
        config_path=None,
        resources=resources,
        preview=preview,
        project=project,
        config=dict(config or {}),
    )
    evaluation = analyze(run, list(packs), pack_config) if packs else None
    return ProgramResult(run=run, evaluation=evaluation)


def _project_name(start: Path) -> str:
    root = find_project_root(start)
    if root is not None:
        data = yaml.safe_load((root / "Pulumi.yaml").read_text(encoding="utf-8"))
        name = data.get("name") if isinstance(data, dict) else None
        if isinstance(name, str):
            return name
    return "test"

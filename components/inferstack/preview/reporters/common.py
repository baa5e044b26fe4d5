"""What every report format shares: counting, ordering and naming resources."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from inferstack.preview.plan import Plan
from inferstack.preview.program import PreviewRun, find_project_root
from inferstack.preview.results import Evaluation, Finding


@dataclass(frozen=True)
class Report:
    """A run and what the policy packs said about it: the input of every format.

    Every format counts the same things: one finding per (policy, resource) whichever packs
    raised it, and unverifiable findings apart from violations, never as passes. ``strict``
    (``--strict``) makes any unverifiable finding fail the run. ``plan`` is what the stack
    deploys (model, hardware, fit, cost), when the run is of an inferstack stack config.
    """

    run: PreviewRun
    evaluation: Evaluation
    strict: bool = False
    plan: Plan | None = None

    @property
    def violations(self) -> tuple[Finding, ...]:
        return self.evaluation.findings

    @property
    def unverifiable(self) -> tuple[Finding, ...]:
        return self.evaluation.unverifiable_findings

    @property
    def mandatory(self) -> int:
        return self.evaluation.mandatory

    @property
    def advisory(self) -> int:
        # Remediations do not block a deployment: they count with the advisories.
        return len(self.violations) - self.mandatory

    @property
    def failed(self) -> bool:
        """The run blocks a deployment (exit 1)."""
        return self.evaluation.blocking or (self.strict and bool(self.unverifiable))

    @property
    def checked(self) -> bool:
        """Whether any policy pack judged the run: with none, nothing was checked."""
        return bool(self.evaluation.packs)

    @property
    def verdict(self) -> str:
        if not self.checked:
            return "NOT CHECKED"  # never PASS: that would be a silent pass
        return "FAIL" if self.failed else "PASS"

    def summary(self) -> dict[str, int]:
        return {
            "resources": len(self.run.resources),
            "mandatory": self.mandatory,
            "advisory": self.advisory,
            "unverifiable": len(self.unverifiable),
        }

    def counts_line(self) -> str:
        """``N mandatory, N advisory violations, N unverifiable at preview``."""
        return (
            f"{self.mandatory} mandatory, {self.advisory} advisory violations, "
            f"{len(self.unverifiable)} unverifiable at preview"
        )


def resource_label(urn: str) -> str:
    """``type::name`` of a URN, the last type of its parent chain only."""
    parts = urn.split("::")
    if len(parts) < 4:
        return urn
    resource_type = parts[2].split("$")[-1]
    return f"{resource_type}::{'::'.join(parts[3:])}"


def config_location(run: PreviewRun) -> str:
    """The stack config path relative to its project root (or the working directory)."""
    if run.config_path is None:
        return f"Pulumi.{run.stack}.yaml"
    path = run.config_path.resolve()
    for base in (find_project_root(path.parent), Path.cwd().resolve()):
        if base is not None and path.is_relative_to(base):
            return path.relative_to(base).as_posix()
    return path.as_posix()

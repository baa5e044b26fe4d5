"""Evaluate policy packs against a recorded run over Pulumi's analyzer gRPC protocol.

Each pack runs as its own process, concurrently; :mod:`inferstack.preview.session` drives one
pack as the engine does, :mod:`inferstack.preview.results` holds what they said.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from inferstack.preview.pack_config import PackConfig, check_config_names, configs_per_pack
from inferstack.preview.packs import PackProcesses, load_pack_project, pack_environment
from inferstack.preview.program import ORGANIZATION, PreviewRun
from inferstack.preview.results import (
    CONTROL_PREFIXES,
    DEFAULT_SEVERITY,
    PEER_PREFIX,
    SEVERITIES,
    UNVERIFIABLE_MARKER,
    Evaluation,
    Finding,
    NotApplicable,
    PackInfo,
    PolicyInfo,
    Violation,
    controls_of,
    level_rank,
    peers_of,
    severity_rank,
)
from inferstack.preview.session import UNVERIFIABLE_SETTING, PackResult, drive

__all__ = [
    "CONTROL_PREFIXES",
    "DEFAULT_SEVERITY",
    "PEER_PREFIX",
    "SEVERITIES",
    "UNVERIFIABLE_MARKER",
    "UNVERIFIABLE_SETTING",
    "Evaluation",
    "Finding",
    "NotApplicable",
    "PackInfo",
    "PolicyInfo",
    "Violation",
    "analyze",
    "combine",
    "controls_of",
    "evaluate",
    "peers_of",
    "severity_rank",
]


def evaluate(
    run: PreviewRun,
    pack_dirs: Sequence[str | Path],
    pack_config: PackConfig | Sequence[PackConfig] | None = None,
) -> list[Violation]:
    """Run every pack against the run and return their violations (unverifiable ones apart)."""
    return list(analyze(run, pack_dirs, pack_config).violations)


def analyze(
    run: PreviewRun,
    pack_dirs: Sequence[str | Path],
    pack_config: PackConfig | Sequence[PackConfig] | None = None,
    *,
    processes: PackProcesses | None = None,
    strict: bool = False,
) -> Evaluation:
    """Start each pack as its own process (concurrently), drive it, and kill it afterwards.

    ``strict`` sets every policy's ``unverifiable`` config property to ``mandatory``, as a pack
    config would for `pulumi preview`: a value unknown at preview then fails the policy.
    """
    projects = [load_pack_project(directory) for directory in pack_dirs]
    configs = configs_per_pack(pack_config, len(projects))
    if not projects:
        return Evaluation(packs=(), diagnostics=())
    env = pack_environment(
        project=run.project,
        stack=run.stack,
        organization=ORGANIZATION,
        dry_run=run.preview,
        config=run.config,
    )
    processes = processes or PackProcesses()
    # Processes stop before the pool joins its threads, so an interrupt never waits on a pack.
    with ThreadPoolExecutor(max_workers=len(projects)) as pool, processes.running():
        futures = [
            pool.submit(drive, processes.start(project, env), run, config, strict=strict)
            for project, config in zip(projects, configs, strict=True)
        ]
        results = [future.result() for future in futures]
    check_config_names(configs, {p.name for result in results for p in result.info.policies})
    return combine(results)


def combine(results: Sequence[PackResult]) -> Evaluation:
    """One evaluation of what every pack said about a run, diagnostics in report order."""
    diagnostics = [v for result in results for v in result.diagnostics]
    declared = [item for result in results for item in result.not_applicable]
    skipped: dict[tuple[str, str], set[str]] = {}
    for item in declared:
        skipped.setdefault((item.pack, item.policy), set()).add(item.urn)
    return Evaluation(
        packs=tuple(result.info for result in results),
        diagnostics=tuple(sorted(diagnostics, key=_order)),
        not_applicable={key: frozenset(urns) for key, urns in skipped.items()},
        not_applicable_reasons=tuple(declared),
    )


def _order(violation: Violation) -> tuple[int, int, str, str, str]:
    return (
        level_rank(violation.enforcement),
        severity_rank(violation.severity),
        violation.policy,
        violation.urn,
        violation.pack,
    )

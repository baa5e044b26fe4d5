"""Preview many stacks in one go, each pack process started once and reused across stacks.

Every stack gets the packs its ``compliance.frameworks`` call for (baseline always, then hipaa
and gdpr when listed) plus any extra pack given. Programs run one after another in this process;
each stack's packs are driven on a worker thread while the next program runs, so the pack
processes work on the other cores meanwhile.

Reusing a pack process across stacks: over the analyzer protocol everything stack-specific
travels per call (ConfigureStack and Configure are sent again for each stack; Analyze and
AnalyzeStack carry the resources and their providers). What does not travel is the process
environment: pulumi_policy answers ``pulumi.get_stack()`` and ``pulumi.Config()`` inside a
policy from the ``PULUMI_STACK`` / ``PULUMI_CONFIG`` the process started with. inferstack's
rules read neither, so a pack whose policies are all rules of :mod:`inferstack.compliance` is
shared by every stack. Any other pack may read them, so it gets a process per stack, started
with that stack's environment, as ``pulumi preview`` would start it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from inferstack.preview.analyzer import combine
from inferstack.preview.pack_config import PackConfig, check_config_names, configs_per_pack
from inferstack.preview.packs import (
    PackError,
    PackProcess,
    PackProcesses,
    PackProject,
    load_pack_project,
    pack_environment,
)
from inferstack.preview.plan import Plan, stack_plan
from inferstack.preview.program import ORGANIZATION, PreviewRun, run_stack
from inferstack.preview.results import Evaluation
from inferstack.preview.session import PackResult, drive

BASELINE = "baseline"


class StackError(ValueError):
    """A stack of the batch that could not be previewed: its name, then the one-line reason."""


@dataclass(frozen=True)
class StackPreview:
    """One stack of the batch: its run, its plan and what its packs said."""

    run: PreviewRun
    plan: Plan | None
    evaluation: Evaluation


def stack_frameworks(config_path: Path) -> tuple[str, ...]:
    """``compliance.frameworks`` of a stack config (empty when it has no deployment)."""
    from inferstack.deployment.loader import load_stack_config, read_stack_file

    if "inferstack:deployment" not in read_stack_file(config_path).config:
        return ()
    spec = load_stack_config(config_path, check_target=False).deployment
    return tuple(str(framework) for framework in spec.compliance.frameworks)


def packs_for(frameworks: Iterable[str], pack_root: Path, extra: Sequence[Path] = ()) -> list[Path]:
    """Pack directories for a stack: baseline, its frameworks', then the extra ones, once each."""
    chosen = [pack_root / BASELINE, *(pack_root / name for name in frameworks)]
    for directory in chosen:
        if not (directory / "PulumiPolicy.yaml").is_file():
            raise PackError(f"policy pack {directory} has no PulumiPolicy.yaml")
    resolved = [directory.resolve() for directory in (*chosen, *extra)]
    return list(dict.fromkeys(resolved))


class PackPool:
    """Pack processes shared across stacks where that is safe (see the module docstring)."""

    def __init__(self, processes: PackProcesses) -> None:
        self.processes = processes
        self._lock = threading.Lock()
        self._shared: dict[Path, PackProcess] = {}
        self._private: set[Path] = set()
        self._judging: dict[Path, threading.Event] = {}

    def acquire(self, project: PackProject, run: PreviewRun) -> tuple[PackProcess, bool]:
        """A process for the stack, and whether this caller must judge it shareable."""
        key = project.directory
        while True:
            with self._lock:
                if key in self._shared:
                    return self._shared[key], False
                if key in self._private:
                    return self.processes.start(project, _environment(run)), False
                pending = self._judging.get(key)
                if pending is None:
                    self._judging[key] = threading.Event()
                    return self.processes.start(project, _environment(run)), True
            pending.wait()

    def judge(self, project: PackProject, process: PackProcess, result: PackResult | None) -> None:
        """Share the process when every policy of the pack is an inferstack rule."""
        with self._lock:
            if result is not None and _stack_independent(result):
                self._shared[project.directory] = process
            else:
                self._private.add(project.directory)
            self._judging.pop(project.directory).set()


def preview_stacks(
    config_paths: Sequence[Path],
    pack_root: Path,
    extra_packs: Sequence[Path] = (),
    pack_config: PackConfig | Sequence[PackConfig] | None = None,
    *,
    strict: bool = False,
    preview: bool = True,
    processes: PackProcesses | None = None,
) -> list[StackPreview]:
    """Run and evaluate every stack; a bad stack raises :class:`StackError` naming it."""
    processes = processes or PackProcesses()
    pool = PackPool(processes)
    pending: list[tuple[PreviewRun, Plan | None, Future[Evaluation]]] = []
    workers = ThreadPoolExecutor(max_workers=2)
    try:
        with processes.running():
            for path in config_paths:
                run, plan, directories = _prepare(path, pack_root, extra_packs, preview=preview)
                projects = [load_pack_project(directory) for directory in directories]
                configs = configs_per_pack(pack_config, len(projects))
                future = workers.submit(_evaluate, pool, run, projects, configs, strict)
                pending.append((run, plan, future))
            return [
                StackPreview(run, plan, _named(run.stack, future)) for run, plan, future in pending
            ]
    finally:
        # The pack processes are gone by now, so a worker still waiting on one returns at once.
        workers.shutdown(wait=True, cancel_futures=True)


def _prepare(
    path: Path, pack_root: Path, extra: Sequence[Path], *, preview: bool
) -> tuple[PreviewRun, Plan | None, list[Path]]:
    from inferstack.catalog import lock

    name = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    lock_file = path.parent / lock.LOCK_FILE
    try:
        with lock.use(lock_file) if lock_file.is_file() else contextlib.nullcontext():
            run = run_stack(path, preview=preview)
            plan = stack_plan(path)
        directories = packs_for(stack_frameworks(path), pack_root, extra)
    except Exception as exc:
        raise StackError(f"stack {name}: {_one_line(exc)}") from exc
    return run, plan, directories


def _named(stack: str, future: Future[Evaluation]) -> Evaluation:
    try:
        return future.result()
    except Exception as exc:
        raise StackError(f"stack {stack}: {_one_line(exc)}") from exc


def _evaluate(
    pool: PackPool,
    run: PreviewRun,
    projects: Sequence[PackProject],
    configs: Sequence[PackConfig],
    strict: bool,
) -> Evaluation:
    with ThreadPoolExecutor(max_workers=max(1, len(projects))) as threads:
        futures = [
            threads.submit(_drive_one, pool, project, run, config, strict)
            for project, config in zip(projects, configs, strict=True)
        ]
        results = [future.result() for future in futures]
    check_config_names(configs, {p.name for result in results for p in result.info.policies})
    return combine(results)


def _drive_one(
    pool: PackPool, project: PackProject, run: PreviewRun, config: PackConfig, strict: bool
) -> PackResult:
    process, judge = pool.acquire(project, run)
    result: PackResult | None = None
    try:
        result = drive(process, run, config, strict=strict)
        return result
    finally:
        if judge:
            pool.judge(project, process, result)


def _stack_independent(result: PackResult) -> bool:
    from inferstack.compliance.registry import all_rules

    ours = {rule.name for rule in all_rules()}
    return bool(result.info.policies) and all(p.name in ours for p in result.info.policies)


def _environment(run: PreviewRun) -> Mapping[str, str]:
    return pack_environment(
        project=run.project,
        stack=run.stack,
        organization=ORGANIZATION,
        dry_run=run.preview,
        config=run.config,
    )


def _one_line(exc: BaseException) -> str:
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    return " ".join(text.split()) or type(exc).__name__

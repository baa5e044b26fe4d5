"""Preview many stacks in one go, each pack process started once and reused across stacks.

Every stack gets the packs its ``compliance.frameworks`` call for (baseline always, then hipaa
and gdpr when listed) plus any extra pack given. Programs run in worker processes, grouped by
the provider SDK they import; the packs start meanwhile, and each stack's packs are driven as
soon as its program has run, so the cores are busy with programs and packs at once.

Reusing a pack process across stacks: over the analyzer protocol everything stack-specific
travels per call (ConfigureStack and Configure are sent again for each stack; Analyze and
AnalyzeStack carry the resources and their providers). What does not travel is the process
environment: pulumi_policy answers ``pulumi.get_stack()`` and ``pulumi.Config()`` inside a
policy from the ``PULUMI_STACK`` / ``PULUMI_CONFIG`` the process started with. inferstack's
rules read neither, so a pack whose policies are all rules of :mod:`inferstack.compliance` is
shared by every stack. Any other pack may read them, so it gets a process per stack, started
with that stack's environment, as ``pulumi preview`` would start it. Two stacks may drive a
shared pack at once: their ``Configure`` requests are the same (one pack config and one
``--strict`` for the batch), so neither changes what the other is judged by.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from pathlib import Path

from inferstack.deployment.loader import PROJECT
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
from inferstack.preview.session import PackResult, drive, policy_names

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
    """Pack processes shared across stacks where that is safe (see the module docstring).

    Each pack starts once, up front, with the environment of the first stack that uses it; its
    policy names (GetAnalyzerInfo, the same for every stack) decide whether it is shared. A pack
    that is not gets a further process for each other stack, with that stack's environment.
    """

    def __init__(self, processes: PackProcesses) -> None:
        self.processes = processes
        self._lock = threading.Lock()
        self._first: dict[Path, tuple[str, PackProcess]] = {}
        self._shared: dict[Path, bool] = {}
        self._judged: dict[Path, Future[bool]] = {}
        self._judges = ThreadPoolExecutor(max_workers=4)

    def start(self, project: PackProject, stack: str, env: Mapping[str, str]) -> None:
        """Start the pack for ``stack`` unless it is started already; judge it meanwhile."""
        with self._lock:
            if project.directory in self._first:
                return
            process = self.processes.start(project, env)
            self._first[project.directory] = (stack, process)
            self._judged[project.directory] = self._judges.submit(_stack_independent, process)

    def acquire(self, project: PackProject, run: PreviewRun) -> PackProcess:
        self.start(project, run.stack, _environment(run))
        shared = self._judged[project.directory].result()
        stack, process = self._first[project.directory]
        if shared or stack == run.stack:
            return process
        return self.processes.start(project, _environment(run))

    def close(self) -> None:
        self._judges.shutdown(wait=True, cancel_futures=True)


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
    """Run and evaluate every stack; a bad stack raises :class:`StackError` naming it.

    Programs run in worker processes, one group of stacks per provider SDK (each SDK is
    imported once), while the packs start; each stack's packs are driven as soon as its
    program has run.
    """
    processes = processes or PackProcesses()
    pool = PackPool(processes)
    drivers = ThreadPoolExecutor(max_workers=4)
    try:
        stacks = [_read(path, pack_root, extra_packs, preview=preview) for path in config_paths]
        programs = _Programs(config_paths, preview=preview)
        with processes.running(), contextlib.closing(programs):
            for stack in stacks:
                for project in stack.projects:
                    pool.start(project, stack.name, stack.env)
            evaluations: dict[str, Future[Evaluation]] = {}
            runs: dict[str, tuple[PreviewRun, Plan | None]] = {}
            for run, plan in programs:
                stack = next(s for s in stacks if s.name == run.stack)
                configs = configs_per_pack(pack_config, len(stack.projects))
                runs[run.stack] = (run, plan)
                evaluations[run.stack] = drivers.submit(
                    _evaluate, pool, run, stack.projects, configs, strict
                )
            previews = [
                StackPreview(*runs[s.name], _named(s.name, evaluations[s.name])) for s in stacks
            ]
        # One config serves every pack of every stack: a name no pack that ran knows is a typo.
        known = {policy.name for item in previews for policy in item.evaluation.policies}
        check_config_names(configs_per_pack(pack_config, 1), known)
        return previews
    finally:
        # The pack processes are gone by now, so a thread still waiting on one returns at once.
        drivers.shutdown(wait=True, cancel_futures=True)
        pool.close()


@dataclass(frozen=True)
class _Stack:
    name: str
    path: Path
    env: Mapping[str, str]
    projects: tuple[PackProject, ...]


def _read(path: Path, pack_root: Path, extra: Sequence[Path], *, preview: bool) -> _Stack:
    from inferstack.deployment.loader import read_stack_file

    name = _stack_name(path)
    try:
        stack_file = read_stack_file(path)
        directories = packs_for(stack_frameworks(path), pack_root, extra)
        projects = tuple(load_pack_project(directory) for directory in directories)
    except Exception as exc:
        raise StackError(f"stack {name}: {_one_line(exc)}") from exc
    env = pack_environment(
        project=PROJECT,
        stack=stack_file.stack,
        organization=ORGANIZATION,
        dry_run=preview,
        config=stack_file.config,
    )
    return _Stack(stack_file.stack, path, env, projects)


class _Programs:
    """Each stack's run and plan, in the order they finish, from worker processes.

    The workers start here, before any pack process or thread: forking a process that has
    threads can deadlock the child, so ``fork`` (which shares the imports already done) is used
    only while this is the sole thread, and ``forkserver`` otherwise.
    """

    def __init__(self, paths: Sequence[Path], *, preview: bool) -> None:
        self.preview = preview
        self.groups = _groups(paths)
        workers = min(len(self.groups), os.cpu_count() or 1)
        self.executor: ProcessPoolExecutor | None = None
        self.futures: list[Future[list[tuple[PreviewRun, Plan | None]]]] = []
        if workers < 2:
            return
        context: BaseContext
        if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
            context = multiprocessing.get_context("fork")
        else:
            server = multiprocessing.get_context("forkserver")
            server.set_forkserver_preload([__name__])
            context = server
        self.executor = ProcessPoolExecutor(max_workers=workers, mp_context=context)
        self.futures = [self.executor.submit(_run_group, g, preview) for g in self.groups]

    def __iter__(self) -> Iterator[tuple[PreviewRun, Plan | None]]:
        if self.executor is None:
            for group in self.groups:
                yield from _run_group(group, self.preview)
            return
        for future in as_completed(self.futures):
            yield from future.result()

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)


def _groups(paths: Sequence[Path]) -> list[list[Path]]:
    """Stacks grouped by the provider SDK their target imports, the largest group first."""
    from inferstack import targets
    from inferstack.deployment.loader import read_stack_file

    groups: dict[tuple[str, ...], list[Path]] = {}
    for path in paths:
        target = read_stack_file(path).config.get("inferstack:target", "")
        descriptor = targets.REGISTRY.get(target)
        key = descriptor.sdk_modules if descriptor else (str(path),)
        groups.setdefault(key, []).append(path)
    return sorted(groups.values(), key=len, reverse=True)


def _run_group(paths: Sequence[Path], preview: bool) -> list[tuple[PreviewRun, Plan | None]]:
    runs = []
    for path in paths:
        run, plan = _run_one(path, preview=preview)
        for resource in run.resources:  # what every pack is sent, computed before pickling
            _ = resource.engine_properties, resource.engine_outputs
        runs.append((run, plan))
    return runs


def _run_one(path: Path, *, preview: bool) -> tuple[PreviewRun, Plan | None]:
    from inferstack.catalog import lock

    lock_file = path.parent / lock.LOCK_FILE
    try:
        with lock.use(lock_file) if lock_file.is_file() else contextlib.nullcontext():
            return run_stack(path, preview=preview), stack_plan(path)
    except Exception as exc:
        raise StackError(f"stack {_stack_name(path)}: {_one_line(exc)}") from None


def _stack_name(path: Path) -> str:
    return path.name.removeprefix("Pulumi.").removesuffix(".yaml")


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
    return combine(results)


def _drive_one(
    pool: PackPool, project: PackProject, run: PreviewRun, config: PackConfig, strict: bool
) -> PackResult:
    return drive(pool.acquire(project, run), run, config, strict=strict)


def _stack_independent(process: PackProcess) -> bool:
    """Every policy of the pack is an inferstack rule, which reads nothing from the process."""
    from inferstack.compliance.registry import all_rules

    names = policy_names(process)
    ours = {rule.name for rule in all_rules()}
    return bool(names) and all(name in ours for name in names)


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

"""Run a Pulumi program offline under the recording mocks, the way the language host runs it."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import runpy
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from inferstack.deployment.loader import (
    PROJECT,
    StackConfigError,
    StackFile,
    read_stack_file,
)
from inferstack.preview.providers import InferstackMocks
from inferstack.preview.recorder import STACK_TYPE, CapturedResource, RecordingMonitor

ORGANIZATION = "organization"

__all__ = [
    "ORGANIZATION",
    "PreviewRun",
    "StackConfigError",
    "StackFile",
    "find_project_root",
    "program_dir_for",
    "read_stack_file",
    "record",
    "run_stack",
]


@dataclass(frozen=True)
class PreviewRun:
    """Everything one offline run of a stack registered."""

    stack: str
    target: str | None
    config_path: Path | None
    resources: list[CapturedResource]
    preview: bool = True
    project: str = PROJECT
    config: dict[str, str] = field(default_factory=dict)

    @property
    def stack_urn(self) -> str | None:
        for resource in self.resources:
            if resource.type == STACK_TYPE:
                return resource.urn
        return None

    def by_urn(self) -> dict[str, CapturedResource]:
        return {resource.urn: resource for resource in self.resources}


def find_project_root(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` holding a Pulumi.yaml."""
    start = start.resolve()
    for directory in (start, *start.parents):
        if (directory / "Pulumi.yaml").is_file():
            return directory
    return None


def program_dir_for(config_path: Path) -> Path:
    """Where the project's program lives: ``main:`` of the nearest Pulumi.yaml."""
    root = find_project_root(config_path.parent) or find_project_root(Path.cwd())
    if root is None:
        raise StackConfigError(
            f"no Pulumi.yaml above {config_path} or the current directory; pass the program dir"
        )
    project = yaml.safe_load((root / "Pulumi.yaml").read_text(encoding="utf-8")) or {}
    main = project.get("main", ".") if isinstance(project, dict) else "."
    return (root / str(main)).resolve()


def run_stack(
    config_path: str | Path, *, preview: bool = True, program_dir: str | Path | None = None
) -> PreviewRun:
    """Run the stack's program offline and return every resource it registered.

    ``preview=True`` is ``pulumi preview`` (computed outputs unknown); ``False`` is ``pulumi up``
    against mocks that answer with plausible ids, ARNs and names. Errors the program raises
    (``SpecError`` for a bad deployment) propagate unchanged.
    """
    stack_file = read_stack_file(config_path)
    directory = Path(program_dir) if program_dir is not None else program_dir_for(stack_file.path)
    main = directory / "__main__.py"
    if not main.is_file():
        raise StackConfigError(f"no Pulumi program at {main}")
    resources = record(
        lambda: _run_main(main),
        preview=preview,
        project=PROJECT,
        stack=stack_file.stack,
        config=stack_file.config,
        secret_keys=stack_file.secret_keys,
    )
    return PreviewRun(
        stack=stack_file.stack,
        target=stack_file.target,
        config_path=stack_file.path,
        resources=resources,
        preview=preview,
        config=stack_file.config,
    )


def record(
    fn: Callable[[], Any],
    *,
    preview: bool = True,
    project: str = PROJECT,
    stack: str = "test",
    config: Mapping[str, str] | None = None,
    secret_keys: tuple[str, ...] | list[str] = (),
) -> list[CapturedResource]:
    """Call ``fn`` inside a fresh Pulumi runtime backed by the recording mocks.

    Returns the captured registrations once every outstanding RPC has finished. Each call gets
    its own runtime settings, config and event loop, so it can run any number of times.
    """
    monitor = RecordingMonitor(InferstackMocks(config), preview=preview)
    context = contextvars.copy_context()
    try:
        context.run(_run_in_runtime, fn, monitor, project, stack, dict(config or {}), secret_keys)
    finally:
        monitor.close()
    return list(monitor.captured)


def _run_main(main: Path) -> None:
    with _on_sys_path(main.parent):
        runpy.run_path(str(main), run_name="__main__")


@contextlib.contextmanager
def _on_sys_path(directory: Path) -> Iterator[None]:
    entry = str(directory)
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(entry)


def _run_in_runtime(
    fn: Callable[[], Any],
    monitor: RecordingMonitor,
    project: str,
    stack: str,
    config: dict[str, str],
    secret_keys: tuple[str, ...] | list[str],
) -> None:
    from pulumi.runtime import reset_options, run_in_stack, set_all_config
    from pulumi.runtime.mocks import MockEngine, MockSettings
    from pulumi.runtime.settings import configure

    # Fresh settings first (root resource, RPC manager, pending outputs), then the mock monitor.
    reset_options(project=project, stack=stack, preview=monitor.preview, organization=ORGANIZATION)
    features = monitor.GetDeploymentInfo(None).supportedFeatures  # type: ignore[no-untyped-call]
    configure(
        MockSettings(  # type: ignore[no-untyped-call]
            monitor=monitor,
            monitor_features=set(features),
            engine=MockEngine(None),
            project=project,
            stack=stack,
            dry_run=monitor.preview,
            organization=ORGANIZATION,
            callbacks=None,
        )
    )
    set_all_config(config, list(secret_keys))
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(_quiet_unretrieved)
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(run_in_stack(fn))
    finally:
        _close(loop)
        asyncio.set_event_loop(None)


def _quiet_unretrieved(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # When the program fails, every output that depended on the failure holds the same exception;
    # it is raised once from the run, so the garbage collector's reminders are noise.
    if "never retrieved" in str(context.get("message", "")):
        return
    loop.default_exception_handler(context)


def _close(loop: asyncio.AbstractEventLoop) -> None:
    # A failed program can leave tasks behind; cancel them so nothing fires after the run.
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()

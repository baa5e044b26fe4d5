"""Policy pack processes, started the way the Pulumi CLI starts a Python pack.

The CLI runs ``pulumi-analyzer-policy-python <engine> .`` in the pack directory, a shim for
``python -u -m pulumi.policy <engine> .``, with the stack's config and identity in ``PULUMI_*``
variables. The pack prints its gRPC port as its first line on stdout and serves until killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import yaml

# No engine runs offline; `pulumi.policy` accepts the argument without dialling it.
ENGINE_ADDRESS = "127.0.0.1:0"
START_TIMEOUT_S = 120.0
STDERR_LINES = 3


class PackError(RuntimeError):
    """A policy pack that could not be started, configured or run."""


@dataclass(frozen=True)
class PackProject:
    """What ``PulumiPolicy.yaml`` says about a pack."""

    directory: Path
    runtime: str
    version: str | None
    options: Mapping[str, Any]


def load_pack_project(directory: str | Path) -> PackProject:
    directory = Path(directory).resolve()
    project_file = directory / "PulumiPolicy.yaml"
    if not project_file.is_file():
        raise PackError(f"policy pack {directory} has no PulumiPolicy.yaml")
    try:
        document = yaml.safe_load(project_file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        raise PackError(f"{project_file} is not valid YAML") from None
    runtime = document.get("runtime", "") if isinstance(document, dict) else ""
    options: Mapping[str, Any] = {}
    if isinstance(runtime, dict):
        options = runtime.get("options") or {}
        runtime = runtime.get("name", "")
    if runtime != "python":
        raise PackError(
            f"policy pack {directory}: runtime '{runtime}' is not supported, only python"
        )
    version = document.get("version")
    return PackProject(directory, runtime, str(version) if version else None, options)


def pack_python(project: PackProject) -> str:
    """The interpreter the CLI would use: the pack's virtualenv if it has one, else ours."""
    virtualenv = project.options.get("virtualenv")
    if virtualenv:
        candidate = (project.directory / str(virtualenv) / "bin" / "python").resolve()
        if candidate.is_file():
            return str(candidate)
    return sys.executable


def pack_environment(
    *, project: str, stack: str, organization: str, dry_run: bool, config: Mapping[str, str]
) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "PULUMI_PROJECT": project,
            "PULUMI_STACK": stack,
            "PULUMI_ORGANIZATION": organization,
            "PULUMI_DRY_RUN": "true" if dry_run else "false",
        }
    )
    if config:
        env["PULUMI_CONFIG"] = json.dumps(dict(config))
    return env


class PackProcess:
    """One running pack; ``stop()`` kills it and is safe to call more than once."""

    def __init__(self, project: PackProject, env: Mapping[str, str]) -> None:
        self.project = project
        # Lives as long as the process; stop() closes it.
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._port: int | None = None
        try:
            self.process = subprocess.Popen(
                [pack_python(project), "-u", "-m", "pulumi.policy", ENGINE_ADDRESS, "."],
                cwd=project.directory,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                start_new_session=True,
            )
        except OSError as exc:
            self._stderr.close()
            raise PackError(f"policy pack {project.directory} could not start: {exc}") from None
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()

    @property
    def name(self) -> str:
        return str(self.project.directory)

    def _read_stdout(self) -> None:
        # Keeps draining after the port line, so a pack that prints cannot block on a full pipe.
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self._lines.put(raw.decode(errors="replace").strip())
        self._lines.put(None)

    def wait_for_port(self, timeout: float = START_TIMEOUT_S) -> int:
        """The pack's gRPC port: read from its first line once, then remembered for reuse."""
        if self._port is not None:
            return self._port
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise PackError(
                f"policy pack {self.name} printed no port within {timeout:.0f}s"
            ) from None
        if line is None or not line.isdigit():
            self.process.wait(timeout=10)
            raise PackError(f"policy pack {self.name} failed to start: {self.stderr_summary()}")
        self._port = int(line)
        return self._port

    def stderr_summary(self) -> str:
        self._stderr.seek(0)
        text = self._stderr.read().decode(errors="replace")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        status = self.process.poll()
        tail = "; ".join(lines[-STDERR_LINES:]) if lines else "no output on stderr"
        return f"{tail} (exit code {status})" if status is not None else tail

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        # The reader sees end-of-file once the process is gone; close the pipe only after it.
        self._reader.join(timeout=10)
        if self.process.stdout is not None and not self._reader.is_alive():
            self.process.stdout.close()
        if not self._stderr.closed:
            self._stderr.close()


class PackProcesses:
    """Every pack process started for one evaluation; all are killed on exit, however it ends.

    ``started`` counts the processes started, so callers (and tests) can see reuse."""

    def __init__(self) -> None:
        self._processes: list[PackProcess] = []
        self._lock = threading.Lock()

    def start(self, project: PackProject, env: Mapping[str, str]) -> PackProcess:
        with self._lock:
            process = PackProcess(project, env)
            self._processes.append(process)
        return process

    @property
    def started(self) -> int:
        return len(self._processes)

    @property
    def pids(self) -> list[int]:
        return [p.process.pid for p in self._processes]

    def stop_all(self) -> None:
        with self._lock:
            for process in self._processes:
                process.stop()

    @contextlib.contextmanager
    def running(self) -> Iterator[PackProcesses]:
        try:
            yield self
        finally:
            self.stop_all()

"""`inferstack preview --all` over every stack in stacks/ with the packs each stack's frameworks
call for: the pull-request command, timed as a user runs it (fresh process, median of runs).

Run: .venv/bin/python benchmarks/bench_preview_all.py   (prints Markdown rows)
"""

from __future__ import annotations

import datetime
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 3


def run() -> tuple[float, float, dict[str, object]]:
    """Wall time, CPU time of the command and every process it started, and the summary."""
    command = [sys.executable, "-m", "inferstack", "preview", "--all", "--format", "json"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary: dict[str, object] = json.loads(out.stdout)["summary"]
    return elapsed, cpu, summary


def main() -> None:
    load = os.getloadavg()[0]
    runs = [run() for _ in range(RUNS)]
    times = sorted(elapsed for elapsed, _, _ in runs)
    cpu = statistics.median(cpu for _, cpu, _ in runs)
    summary = runs[0][2]
    packs = summary["packs"]
    assert isinstance(packs, dict)
    applied = sum(len(per_stack) for per_stack in packs.values())
    print("| measure | result | target |")
    print("|---|---|---|")
    print(
        f"| `inferstack preview --all`: {summary['stacks']} stacks, {summary['resources']} "
        f"resources, {applied} stack x pack evaluations, wall (median of {RUNS}) "
        f"| {statistics.median(times):.2f} s (min {times[0]:.2f} s, max {times[-1]:.2f} s) "
        f"| <= 10 s |"
    )
    print(
        f"| CPU time of all its processes (median) | {cpu:.2f} s, so >= {cpu / 2:.2f} s wall "
        "on 2 idle cores | |"
    )
    print(
        f"| measured on | {datetime.date.today().isoformat()}, {os.cpu_count()} cores, "
        f"load average {load:.2f} at the start | |"
    )


if __name__ == "__main__":
    main()

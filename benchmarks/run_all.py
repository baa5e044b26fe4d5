"""Run every benchmark and write docs/benchmarks.md with the results and the machine.

Run: .venv/bin/python benchmarks/run_all.py   (a few minutes; run it on an otherwise idle machine)
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = (
    ("Import time", "bench_import.py"),
    ("Offline preview", "bench_preview.py"),
    ("Policy packs", "bench_policy.py"),
    ("Every stack with its packs: `preview --all`", "bench_preview_all.py"),
    ("Jetson fleet: 50 sites, 1,000 devices", "bench_jetson_fleet.py"),
)

NOTES = """\
## Reading the numbers

- Wall times include starting Python and importing Pulumi and the provider SDK, as a user
  running the command sees them. Peak RSS is the process's maximum resident set size.
- The plain-program baseline registers the very same Kubernetes objects through a loop over
  pulumi_kubernetes classes under the same mocks, so the ratio is what inferstack's planning,
  validation and sizing add on top of Pulumi's own registration cost.
- Policy-pack throughput is bounded by pulumi_policy's Python analyzer server: one gRPC
  `Analyze` call per resource (pipelined, 32 in flight), then `AnalyzeStack`, where
  pulumi_policy rebuilds every resource for each stack policy. The no-op pack row is that
  floor with no rule at all; the >= 2,000/s target is above it on this 2-core machine, so
  it is not met. In process, without gRPC, the rules run at about 4,500 resources/s.
- `preview --all` runs the programs in worker processes, one per provider SDK group (each
  SDK is imported once), while the three packs start; each pack process serves every stack.
  Importing the Azure and Google SDK modules the stacks use is most of its time; the
  CPU-time row is the part that does not depend on other load on the machine.
- Benchmarks are measurements, never test assertions: CI does not fail on them.
"""


def machine() -> str:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().splitlines()[0].split()[1])
        memory = f"{kib / 1024 / 1024:.0f} GiB"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"- Date: {datetime.date.today().isoformat()}\n"
        f"- CPU: {cpu}, {os.cpu_count()} cores; memory {memory}\n"
        f"- {platform.system()} {platform.release()}; Python {platform.python_version()}\n"
        f"- Load average when the run started: {load:.2f}\n"
    )


def main() -> None:
    sections = ["# Benchmarks\n", "Written by `python benchmarks/run_all.py`.\n", machine()]
    for title, script in BENCHMARKS:
        out = subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / script)],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        table = [line for line in out.stdout.splitlines() if line.startswith("|")]
        sections.append(f"\n## {title} (`benchmarks/{script}`)\n\n" + "\n".join(table) + "\n")
        print(f"{title}: done", file=sys.stderr)
    sections.append("\n" + NOTES)
    (ROOT / "docs" / "benchmarks.md").write_text("\n".join(sections), encoding="utf-8")


if __name__ == "__main__":
    main()

"""Offline preview speed and memory: onprem-prod, a plain-program baseline, 1/10/100 services.

Each measure runs in a fresh interpreter so imports, wall time and peak RSS are what a user
sees. Run: .venv/bin/python benchmarks/bench_preview.py   (prints Markdown rows)
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5

# Runs inside the child: times the work after interpreter start, reports peak RSS (MiB).
PRELUDE = """
import json, resource, sys, time
start = time.perf_counter()
"""
EPILOGUE = """
elapsed = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": elapsed, "rss_mib": rss, "resources": count}))
"""

INFERSTACK = """
from inferstack.preview import run_stack
run = run_stack("stacks/Pulumi.onprem-prod.yaml")
count = len(run.resources)
"""

# The same Kubernetes objects, registered by a plain loop (no component, plan or checks).
BASELINE = """
import pulumi
from inferstack.preview import record
from inferstack.kubernetes.objects import register_object as register
manifests = json.load(open(sys.argv[1]))
def program():
    for name, manifest in manifests:
        register(manifest, name, pulumi.ResourceOptions())
count = len(record(program))
"""

SERVICES = """
import pulumi
from inferstack.kubernetes import LLMService
from inferstack.preview import record
from inferstack.kubernetes.args import LLMServiceArgs
from inferstack.deployment import load_stack_config
stack = load_stack_config("stacks/Pulumi.onprem-prod.yaml")
spec = stack.deployment
args = LLMServiceArgs.model_validate_json(stack.config["inferstack:kubernetes"])
n = int(sys.argv[1])
def program():
    for i in range(n):
        LLMService(f"svc{i}", spec.model_copy(update={"name": f"svc{i}"}), args=args)
count = len(record(program))
"""


def child(body: str, *args: str) -> dict[str, float]:
    code = PRELUDE + body + EPILOGUE
    out = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, check=True, capture_output=True, text=True
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def wall(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def median(body: str, *args: str) -> dict[str, float]:
    runs = [child(body, *args) for _ in range(RUNS)]
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "rss_mib": max(r["rss_mib"] for r in runs),
        "resources": runs[0]["resources"],
    }


def baseline_manifests() -> Path:
    from inferstack.preview import run_stack

    run = run_stack(ROOT / "stacks/Pulumi.onprem-prod.yaml", preview=False)
    manifests = []
    for resource in run.resources:
        if resource.custom and resource.type.startswith("kubernetes:"):
            inputs = dict(resource.inputs)
            inputs.pop("__inputs", None)
            manifests.append((resource.name, inputs))
    path = Path("/tmp/inferstack-baseline-manifests.json")
    path.write_text(json.dumps(manifests), encoding="utf-8")
    return path


def main() -> None:
    cli = str(ROOT / ".venv" / "bin" / "inferstack")
    command = [cli, "preview", "--stack", "onprem-prod", "--format", "json"]
    packs = ["--policy-pack", "policy_packs/baseline", "--policy-pack", "policy_packs/hipaa"]
    packs += ["--policy-pack", "policy_packs/gdpr"]
    preview_wall = statistics.median(wall(command) for _ in range(RUNS))
    packs_wall = statistics.median(wall(command + packs) for _ in range(RUNS))
    ours = median(INFERSTACK)
    plain = median(BASELINE, str(baseline_manifests()))
    one = median(SERVICES, "1")
    ten = median(SERVICES, "10")
    hundred = median(SERVICES, "100")

    print("| measure | result | target |")
    print("|---|---|---|")
    print(
        f"| `inferstack preview --stack onprem-prod` wall (median of {RUNS}) "
        f"| {preview_wall:.2f} s | <= 3 s |"
    )
    print(
        f"| the same with the three policy packs | {packs_wall:.2f} s "
        f"(policy part {packs_wall - preview_wall:.2f} s) | policy part <= 2 s |"
    )
    print(
        f"| onprem-prod program run ({ours['resources']:.0f} resources) "
        f"| {ours['seconds']:.2f} s, peak RSS {ours['rss_mib']:.0f} MiB | <= 300 MB |"
    )
    print(
        f"| plain pulumi_kubernetes program, same objects ({plain['resources']:.0f} resources) "
        f"| {plain['seconds']:.2f} s, peak RSS {plain['rss_mib']:.0f} MiB | |"
    )
    print(f"| ratio inferstack / plain | {ours['seconds'] / plain['seconds']:.2f}x | <= 1.3x |")
    for n, result in ((1, one), (10, ten), (100, hundred)):
        print(
            f"| {n} service(s) in one stack ({result['resources']:.0f} resources) "
            f"| {result['seconds']:.2f} s, peak RSS {result['rss_mib']:.0f} MiB | |"
        )
    print(f"| 100 services / 1 service | {hundred['seconds'] / one['seconds']:.1f}x | <= 110x |")


if __name__ == "__main__":
    main()

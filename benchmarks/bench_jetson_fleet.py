"""Preview a synthetic Jetson fleet of 50 sites and 1,000 devices: wall time, CPU time, peak RSS.

Run: .venv/bin/python benchmarks/bench_jetson_fleet.py [--sites 50] [--devices 1000] [--runs 3]
Each run is a fresh process (spec validation, fit checks, the component under the recording mocks
in preview mode); it prints one Markdown table row with the median wall time, the median CPU time
of the process (wall time on a shared machine includes waiting for a core) and the largest peak
RSS. The fleet is shaped like stacks/Pulumi.jetson-prod.yaml: Ollama on every module, a canary
and a stable cohort, a registry and model mirror per site. Targets: <= 10 s and <= 500 MB.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

PROBE = """
import json, resource, sys, time
sites, devices = int(sys.argv[1]), int(sys.argv[2])
started = time.perf_counter()
from inferstack.jetson import Fleet
from inferstack.preview import record

QWEN = "Qwen/Qwen2.5-1.5B-Instruct"
GGUF = "hf://Qwen/Qwen2.5-1.5B-Instruct-GGUF@"
CANARY = "91cad51170dc346986eccefdc2dd33a9da36ead9"
STABLE = "dd26da440ef0330c47919d1ecae0966d24022222"
# Public multi-arch index digests (the Ollama one is the catalog's).
OLLAMA = ("ollama/ollama:0.12.3"
          "@sha256:c622a7adec67cf5bd7fe1802b7e26aa583a955a54e91d132889301f50c3e0bd0")
EXPORTER = ("quay.io/prometheus/node-exporter:v1.8.2"
            "@sha256:4032c6d5bfd752342c3e631c2f1de93ba6b86c41db6b167b9a35372c139e7706")
# Per site: one canary AGX Orin, the rest split between Orin NX and Orin Nano (stable).
per_site = devices // sites
groups = []
for i in range(sites):
    site = f"site-{i:03d}"
    nx = (per_site - 1) // 3
    groups += [
        {"site": site, "module": "agx-orin-64gb", "count": 1, "cohort": "canary"},
        {"site": site, "module": "orin-nx-16gb", "count": nx, "cohort": "stable"},
        {"site": site, "module": "orin-nano-8gb", "count": per_site - 1 - nx, "cohort": "stable"},
    ]
ollama = {"dtype": "gguf-q4_k_m", "runtime": "ollama"}
spec = {
    "name": "bench",
    "environment": "prod",
    "model": {"id": QWEN, "source": GGUF + STABLE, "dtype": "gguf-q4_k_m"},
    "serving": {"runtime": "ollama"},
    "compute": {"fleet": {
        "sites": [{"name": f"site-{i:03d}", "context": f"site-{i:03d}", "link_mbps": 50,
                   "mirror": {"registry": f"registry.site-{i:03d}.lan:5000",
                              "models_url": f"http://10.{i // 250}.{i % 250}.5:8080",
                              "cidr": f"10.{i // 250}.{i % 250}.5/32"}}
                  for i in range(sites)],
        "device_groups": groups,
        "cohorts": [
            {"name": "canary", "images": {"ollama": OLLAMA},
             "sources": {"gguf-q4_k_m": GGUF + CANARY}},
            {"name": "stable", "images": {"ollama": OLLAMA},
             "sources": {"gguf-q4_k_m": GGUF + STABLE}},
        ],
        "variants": {m: ollama for m in ("agx-orin-64gb", "orin-nx-16gb", "orin-nano-8gb")},
        "exporter_image": EXPORTER,
    }},
    "compliance": {"frameworks": ["hipaa"], "phi": True},
}
resources = record(lambda: Fleet("bench", spec), preview=True)
elapsed = time.perf_counter() - started
cpu = time.process_time()
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
device_count = sum(g["count"] for g in groups)
print(json.dumps({"seconds": elapsed, "cpu": cpu, "peak_mb": peak_mb, "resources": len(resources),
                  "devices": device_count}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = []
    for _ in range(args.runs):
        out = subprocess.run(
            [sys.executable, "-c", PROBE, str(args.sites), str(args.devices)],
            check=True,
            capture_output=True,
            text=True,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    seconds = statistics.median(r["seconds"] for r in results)
    cpu = statistics.median(r["cpu"] for r in results)
    peak = max(r["peak_mb"] for r in results)
    first = results[0]
    print(
        "| benchmark | sites | devices | resources | preview wall time (median) "
        "| CPU time (median) | peak RSS |"
    )
    print("|---|---|---|---|---|---|---|")
    print(
        f"| jetson fleet preview | {args.sites} | {first['devices']} | {first['resources']} "
        f"| {seconds:.2f} s | {cpu:.2f} s | {peak:.0f} MB |"
    )


if __name__ == "__main__":
    main()

"""Preview a synthetic Jetson fleet of 50 sites and 1,000 devices: wall time and peak RSS.

Run: .venv/bin/python benchmarks/bench_jetson_fleet.py [--sites 50] [--devices 1000] [--runs 3]
Each run is a fresh process (spec validation, fit checks, the component under the recording mocks
in preview mode); it prints one Markdown table row with the median wall time and the largest peak
RSS. Targets (issue 5): <= 10 s and <= 500 MB.
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
DIGEST = "@sha256:" + "0" * 64
GGUF = "hf://Qwen/Qwen2.5-1.5B-Instruct-GGUF@91cad51170dc346986eccefdc2dd33a9da36ead9"
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
images = {"vllm": "dustynv/vllm:0.6.6.post1-r36.4.0" + DIGEST,
          "llamacpp": "dustynv/llama_cpp:r36.4.0" + DIGEST}
spec = {
    "name": "bench",
    "environment": "prod",
    "model": {"id": QWEN, "source": f"hf://{QWEN}@fb163acb387a011a0cd205b259aa1b253299a05d"},
    "compute": {"fleet": {
        "sites": [{"name": f"site-{i:03d}", "context": f"site-{i:03d}", "link_mbps": 50,
                   "mirror": {"registry": f"registry.site-{i:03d}.lan:5000",
                              "models_url": f"http://10.{i // 250}.{i % 250}.5:8080",
                              "cidr": f"10.{i // 250}.{i % 250}.5/32"}}
                  for i in range(sites)],
        "device_groups": groups,
        "cohorts": [
            {"name": "canary", "images": images, "sources": {
                "bf16": f"hf://{QWEN}@989aa7980e4cf806f80c7fef2b1adb7bc71aa306",
                "gguf-q4_k_m": GGUF}},
            {"name": "stable", "images": images, "sources": {"gguf-q4_k_m": GGUF}},
        ],
        "variants": {"orin-nx-16gb": {"dtype": "bf16", "runtime": "vllm"}},
        "exporter_image": "quay.io/prometheus/node-exporter:v1.8.2" + DIGEST,
    }},
    "compliance": {"frameworks": ["hipaa"], "phi": True},
}
resources = record(lambda: Fleet("bench", spec), preview=True)
elapsed = time.perf_counter() - started
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
device_count = sum(g["count"] for g in groups)
print(json.dumps({"seconds": elapsed, "peak_mb": peak_mb, "resources": len(resources),
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
    peak = max(r["peak_mb"] for r in results)
    first = results[0]
    print("| benchmark | sites | devices | resources | preview wall time (median) | peak RSS |")
    print("|---|---|---|---|---|---|")
    print(
        f"| jetson fleet preview | {args.sites} | {first['devices']} | {first['resources']} "
        f"| {seconds:.2f} s | {peak:.0f} MB |"
    )


if __name__ == "__main__":
    main()

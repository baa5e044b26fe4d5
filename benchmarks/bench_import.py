"""Measure `import inferstack`: warm wall time and which SDK modules it loads.

Run: .venv/bin/python benchmarks/bench_import.py  (prints a Markdown table row per measure)
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

PROBE = """
import json, sys, time
t = time.perf_counter()
import inferstack
elapsed = time.perf_counter() - t
heavy = sorted(m for m in sys.modules
               if m.split('.')[0] in ('pulumi', 'pulumi_aws', 'pulumi_azure_native', 'pulumi_gcp',
                                      'pulumi_kubernetes', 'pydantic', 'yaml', 'grpc'))
print(json.dumps({"seconds": elapsed, "roots": sorted({m.split('.')[0] for m in heavy})}))
"""

SDKS = ("pulumi_aws", "pulumi_azure_native", "pulumi_gcp", "pulumi_kubernetes")


def measure(runs: int = 15) -> tuple[list[float], list[str]]:
    subprocess.run([sys.executable, "-c", "import inferstack"], check=True)  # warm the caches
    times: list[float] = []
    roots: list[str] = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", PROBE], check=True, capture_output=True, text=True
        )
        result = json.loads(out.stdout)
        times.append(result["seconds"])
        roots = result["roots"]
    return times, roots


def main() -> None:
    times, roots = measure()
    loaded_sdks = [root for root in roots if root in SDKS]
    print("| measure | result | target |")
    print("|---|---|---|")
    print(
        f"| `import inferstack` warm, median of {len(times)} | {statistics.median(times):.3f} s "
        f"(max {max(times):.3f} s) | <= 0.3 s |"
    )
    print(
        f"| cloud SDKs loaded by `import inferstack` | {', '.join(loaded_sdks) or 'none'} | none |"
    )
    others = ", ".join(r for r in roots if r not in SDKS) or "none"
    print(f"| other heavy packages loaded | {others} | |")


if __name__ == "__main__":
    main()

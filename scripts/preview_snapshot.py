"""Snapshot the offline preview of every stack, or compare against an earlier snapshot.

A refactor that should not change behaviour is checked with it: the registered resources (types,
names, URNs, parents, inputs) and the verdicts of every pack, per stack, byte for byte.

    python scripts/preview_snapshot.py --out /tmp/before      # before the change
    python scripts/preview_snapshot.py --compare /tmp/before  # after it: exit 1 on any difference
"""

from __future__ import annotations

import argparse
import difflib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKS = sorted(p.parent for p in (ROOT / "policy_packs").glob("*/__main__.py"))


def snapshot(stack: str) -> str:
    command = [sys.executable, "-m", "inferstack", "preview", "--stack", stack, "--format", "json"]
    for pack in PACKS:
        command += ["--policy-pack", str(pack)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{stack}: exit {done.returncode}: {done.stderr.strip()}")
    return normalized(json.loads(done.stdout))


def normalized(report: dict[str, Any]) -> str:
    """The report with its lists in a stable order: resources register concurrently."""
    for key in ("resources", "violations", "unverifiable"):
        report[key] = sorted(report.get(key, []), key=lambda item: json.dumps(item, sort_keys=True))
    return json.dumps(report, indent=1, sort_keys=True) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--out", type=Path, help="directory to write <stack>.json into")
    group.add_argument("--compare", type=Path, help="directory of an earlier snapshot")
    args = parser.parse_args()
    stacks = sorted(
        p.name[len("Pulumi.") : -len(".yaml")] for p in ROOT.glob("stacks/Pulumi.*.yaml")
    )
    differing = []
    for stack in stacks:
        text = snapshot(stack)
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"{stack}.json").write_text(text)
            print(f"{stack}: {len(json.loads(text)['resources'])} resources")
            continue
        before = normalized(json.loads((args.compare / f"{stack}.json").read_text()))
        if before == text:
            print(f"{stack}: identical")
            continue
        differing.append(stack)
        diff = difflib.unified_diff(before.splitlines(), text.splitlines(), "before", "after")
        print(f"{stack}: differs\n" + "\n".join(list(diff)[:40]))
    return 1 if differing else 0


if __name__ == "__main__":
    raise SystemExit(main())

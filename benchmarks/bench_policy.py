"""Policy-pack throughput: each pack over a synthetic stack of 5,000 resources.

The resources are the onprem-prod and sagemaker-prod stacks' own resources, repeated under new
names, so every pack sees realistic inputs. Each pack runs as its own process over the analyzer
protocol, as in `inferstack preview`. Run: .venv/bin/python benchmarks/bench_policy.py
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path

from inferstack.preview import PreviewRun, analyze, run_stack
from inferstack.preview.recorder import CapturedResource

ROOT = Path(__file__).resolve().parent.parent
TOTAL = 5000
PACKS = ("baseline", "hipaa", "gdpr")


def synthetic_run(total: int) -> PreviewRun:
    sources = [
        run_stack(ROOT / "stacks" / f"Pulumi.{stack}.yaml")
        for stack in ("onprem-prod", "sagemaker-prod")
    ]
    template = [r for run in sources for r in run.resources if r.custom]
    resources: list[CapturedResource] = []
    copy = 0
    while len(resources) < total:
        # Each copy is a whole stack of its own: references point inside the same copy.
        renamed = {r.urn: r.urn.rsplit("::", 1)[0] + f"::{r.name}-{copy}" for r in template}

        def moved(urns: tuple[str, ...], renamed: dict[str, str] = renamed) -> tuple[str, ...]:
            return tuple(renamed.get(urn, urn) for urn in urns)

        for resource in template[: total - len(resources)]:
            resources.append(
                dataclasses.replace(
                    resource,
                    name=f"{resource.name}-{copy}",
                    urn=renamed[resource.urn],
                    parent=None,
                    dependencies=moved(resource.dependencies),
                    property_dependencies={
                        key: moved(urns) for key, urns in resource.property_dependencies.items()
                    },
                )
            )
        copy += 1
    base = sources[0]
    return PreviewRun(
        stack=base.stack,
        target=base.target,
        config_path=base.config_path,
        resources=resources,
        preview=True,
        config=base.config,
    )


# A pack with one policy that does nothing: what the analyzer protocol and pulumi_policy's
# server cost per resource before any rule runs.
NOOP_PACK = """\
from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy

PolicyPack(
    name="noop",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[ResourceValidationPolicy("noop", "does nothing", lambda args, report: None)],
)
"""


def noop_pack(directory: Path) -> Path:
    (directory / "PulumiPolicy.yaml").write_text("runtime: python\nversion: 0.0.1\n")
    (directory / "__main__.py").write_text(NOOP_PACK)
    return directory


def timed(run: PreviewRun, packs: list[Path]) -> tuple[float, int]:
    start = time.perf_counter()
    evaluation = analyze(run, packs)
    return time.perf_counter() - start, len(evaluation.violations)


def main() -> None:
    small = run_stack(ROOT / "stacks" / "Pulumi.onprem-prod.yaml")
    big = synthetic_run(TOTAL)
    print("| measure | result | target |")
    print("|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        seconds, _ = timed(big, [noop_pack(Path(scratch))])
        print(
            f"| a no-op pack (protocol and pulumi_policy server only), {TOTAL:,} resources "
            f"| {seconds:.2f} s, {TOTAL / seconds:,.0f} resources/s | floor for any pack |"
        )
    for pack in PACKS:
        directory = ROOT / "policy_packs" / pack
        startup, _ = timed(dataclasses.replace(small, resources=small.resources[:1]), [directory])
        seconds, _ = timed(big, [directory])
        rate = TOTAL / (seconds - startup)
        print(
            f"| `{pack}` pack, {TOTAL:,} resources | {seconds:.2f} s "
            f"(start {startup:.2f} s), {rate:,.0f} resources/s after start | >= 2,000/s |"
        )
    all_packs = [ROOT / "policy_packs" / pack for pack in PACKS]
    seconds, violations = timed(small, all_packs)
    print(
        f"| three packs over onprem-prod ({len(small.resources)} resources), policy part only "
        f"| {seconds:.2f} s ({violations} violations) | <= 2 s |"
    )


if __name__ == "__main__":
    main()

"""The policy packs as directories Pulumi loads: written from the installed package, anywhere.

``inferstack packs export DIR`` writes one directory per pack (``PulumiPolicy.yaml``,
``__main__.py``, ``config.example.json``, ``requirements.txt``). The rules stay in
:mod:`inferstack.compliance`; a pack directory only starts them, so its ``requirements.txt``
pins this inferstack release and needs no cloud SDK. The repository's ``policy_packs/`` is the
same output with an editable requirement on the checkout.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:  # the rules load when a pack is written, so the CLI's start stays light
    from inferstack.compliance.model import Framework

DESCRIPTIONS: Final[Mapping[str, str]] = {
    "baseline": "inferstack baseline: security rules for every LLM inference stack (hardening, "
    "customer-managed keys, least privilege, private networking, bounded consumption)",
    "hipaa": "inferstack HIPAA: the baseline plus HIPAA Security Rule checks (audit log "
    "retention, PHI workspace mode, network isolation, versioning, access logs)",
    "gdpr": "inferstack GDPR: the baseline plus GDPR checks (EU/EEA residency, bounded log and "
    "captured-data retention, network isolation)",
    "owasp-llm": "inferstack OWASP LLM: the baseline plus the OWASP Top 10 for LLM Applications "
    "checks preview can enforce (a guard the model is reachable only through, pinned supply "
    "chain, least agency, bounded consumption)",
}
EXAMPLE_EXCLUSION: Final = {
    "name": "legacy-triton",
    "reason": "Triton 23.x writes to /opt/tritonserver at start; upgrade tracked in PLAT-214",
}
# In this repository the packs run the checkout itself (pip runs in the pack's directory).
IN_REPO_REQUIREMENTS: Final = (
    "# The rules live in the inferstack package of this repository "
    "(components/inferstack/compliance).\n"
    "# The Pulumi CLI runs pip in this directory, so the path is relative to it.\n"
    "-e ../..\n"
)
_MAIN = (
    (
        '"""The inferstack {framework} policy pack: '
        'serves Pulumi\'s analyzer protocol until stopped."""\n'
    )
    + """
from __future__ import annotations

from typing import Final

from pulumi_policy import EnforcementLevel, PolicyPack

from inferstack.compliance import PACK_NAMES, speedups
from inferstack.compliance.policy import policies_for

FRAMEWORK: Final = "{framework}"

if __name__ == "__main__":
    speedups.install()  # same verdicts; see speedups.py
    PolicyPack(
        name=PACK_NAMES[FRAMEWORK],
        policies=policies_for(FRAMEWORK),
        enforcement_level=EnforcementLevel.MANDATORY,
    )
"""
)


class PackError(ValueError):
    """A pack that does not exist, or a directory that cannot be written."""


def installed_version() -> str:
    try:
        return version("inferstack")
    except PackageNotFoundError:  # a source tree that was never installed
        from inferstack import __version__

        return __version__


def example_config(framework: Framework) -> dict[str, Any]:
    """Every configurable policy of the pack with its defaults, plus a waiver and an override."""
    from inferstack.compliance import rules_for

    config: dict[str, Any] = {}
    for rule in rules_for(framework):
        if rule.settings:
            config[rule.name] = {s.key: s.default_for(framework) for s in rule.settings}
    config["kubernetes-apps-workload-require-readonly-rootfs"] = {"exclusions": [EXAMPLE_EXCLUSION]}
    config["all-tags-resource-require-tags"] = {
        "enforcementLevel": "advisory",
        "requiredTags": ["team", "cost-center"],
    }
    return config


def pack_files(framework: Framework, requirements: str | None = None) -> dict[str, str]:
    """The files of one pack directory; ``requirements`` defaults to this release, pinned."""
    if requirements is None:
        requirements = (
            "# The pack's rules ship in the inferstack package; no cloud SDK is needed.\n"
            f"inferstack=={installed_version()}\n"
        )
    policy_yaml = (
        f"description: {json.dumps(DESCRIPTIONS[framework])}\n"
        "runtime:\n"
        "  name: python\n"
        "  options:\n"
        "    toolchain: pip\n"
        "    virtualenv: .venv\n"
        f"version: {installed_version()}\n"
    )
    return {
        "PulumiPolicy.yaml": policy_yaml,
        "__main__.py": _MAIN.format(framework=framework),
        "config.example.json": json.dumps(example_config(framework), indent=2) + "\n",
        "requirements.txt": requirements,
    }


def export(
    directory: str | Path, names: Iterable[str] = (), *, requirements: str | None = None
) -> list[Path]:
    """Write the named packs (default: all) under ``directory``; return their directories."""
    from inferstack.compliance import FRAMEWORKS

    chosen = list(names) or list(FRAMEWORKS)
    for name in chosen:
        if name not in FRAMEWORKS:
            raise PackError(f"--pack {name}: no such pack; packs: {', '.join(FRAMEWORKS)}")
    written = []
    for name in chosen:
        framework: Framework = name  # type: ignore[assignment]
        target = Path(directory) / name
        target.mkdir(parents=True, exist_ok=True)
        for filename, text in pack_files(framework, requirements).items():
            (target / filename).write_text(text, encoding="utf-8")
        written.append(target)
    return written


__all__ = ["PackError", "example_config", "export", "pack_files"]

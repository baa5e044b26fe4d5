"""Regenerate the rule tables of docs/policies.md and each pack's config.example.json.

    python scripts/gen_policy_docs.py          # rewrite the files
    python scripts/gen_policy_docs.py --check  # exit 1 if any file is out of date

Only the parts between ``<!-- BEGIN GENERATED: x -->`` and ``<!-- END GENERATED: x -->`` markers
of the doc are generated; the prose around them is edited by hand.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from inferstack.compliance import FRAMEWORKS, Rule, Scope, all_rules, controls
from inferstack.packs import example_config

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "policies.md"
PACKS = ROOT / "policy_packs"
MAX_TYPES_SHOWN = 4


def _code(text: str) -> str:
    return f"`{text}`"


def _prose(text: str) -> str:
    """Table cell text: asterisks in IAM actions and globs must not turn into emphasis."""
    return text.replace("*", "\\*").replace("|", "\\|")


def _types(rule: Rule) -> str:
    shown = [_code(token) for token in rule.resource_types[:MAX_TYPES_SHOWN]]
    hidden = len(rule.resource_types) - MAX_TYPES_SHOWN
    if hidden > 0:
        shown.append(f"and {hidden} more")
    return "<br>".join(shown)


def _packs(rule: Rule) -> str:
    return ", ".join(framework for framework in FRAMEWORKS if rule.in_pack(framework))


def rules_table() -> str:
    lines = [
        "| rule | resources | controls | severity | packs | peers |",
        "|---|---|---|---|---|---|",
    ]
    for rule in all_rules():
        name = _code(rule.name)
        if rule.scope is Scope.STACK:
            name += " (stack)"
        if rule.enforcement.value != "mandatory":
            name += f" ({rule.enforcement.value})"
        cells = [
            f"{name}<br>{_prose(rule.description)}",
            _types(rule),
            "<br>".join(rule.controls),
            rule.severity.value,
            _packs(rule),
            "<br>".join(rule.peers) or "-",
        ]
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines)


def _default(value: Any) -> str:
    if isinstance(value, list) and len(value) > MAX_TYPES_SHOWN:
        return f"{len(value)} entries (see the pack's config.example.json)"
    return _code(json.dumps(value))


def settings_table() -> str:
    lines = [
        "| rule | key | meaning | baseline | hipaa | gdpr |",
        "|---|---|---|---|---|---|",
    ]
    for rule in all_rules():
        for setting in rule.settings:
            defaults = [
                _default(setting.default_for(framework)) if rule.in_pack(framework) else "-"
                for framework in FRAMEWORKS
            ]
            lines.append(
                f"| {_code(rule.name)} | {_code(setting.key)} | "
                f"{_prose(setting.schema.get('description', ''))} | {' | '.join(defaults)} |"
            )
    return "\n".join(lines)


def controls_table() -> str:
    served: dict[str, list[str]] = {}
    for rule in all_rules():
        for control_id in rule.controls:
            served.setdefault(control_id, []).append(rule.name)
    lines = ["| control | title | rules |", "|---|---|---|"]
    for control in controls():
        names = served.get(control.id)
        found = f"{len(names)} rules" if names else "**none: needs process, not code**"
        lines.append(f"| {control.id} | {control.title} | {found} |")
    return "\n".join(lines)


SECTIONS: dict[str, Callable[[], str]] = {
    "rules": rules_table,
    "settings": settings_table,
    "controls": controls_table,
}


def _replacement(content: str) -> Callable[[re.Match[str]], str]:
    return lambda match: match.group(1) + content + match.group(2)


def render_doc(text: str) -> str:
    for name, build in SECTIONS.items():
        pattern = re.compile(
            rf"(<!-- BEGIN GENERATED: {name} -->\n).*?(<!-- END GENERATED: {name} -->)",
            re.DOTALL,
        )
        if not pattern.search(text):
            raise SystemExit(f"{DOC}: missing the generated '{name}' markers")
        text = pattern.sub(_replacement(build() + "\n"), text)
    return text


def outputs() -> dict[Path, str]:
    files = {DOC: render_doc(DOC.read_text(encoding="utf-8"))}
    for framework in FRAMEWORKS:
        text = json.dumps(example_config(framework), indent=2) + "\n"
        files[PACKS / framework / "config.example.json"] = text
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a file is out of date")
    args = parser.parse_args(argv)
    stale = []
    for path, text in outputs().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.write_text(text, encoding="utf-8")
    if args.check and stale:
        names = ", ".join(str(path.relative_to(ROOT)) for path in stale)
        print(f"out of date: {names} (run python scripts/gen_policy_docs.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

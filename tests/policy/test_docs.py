"""docs/policies.md and the packs' example configs are generated from the rules and up to date."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from inferstack.compliance import all_rules, controls

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gen_policy_docs.py"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_policy_docs", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_files_are_up_to_date() -> None:
    for path, text in _generator().outputs().items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.relative_to(ROOT)} is stale: run python scripts/gen_policy_docs.py"
        )


def test_doc_lists_every_rule_and_control() -> None:
    doc = (ROOT / "docs" / "policies.md").read_text(encoding="utf-8")
    for rule in all_rules():
        assert f"| `{rule.name}`" in doc
        for peer in rule.peers:
            assert peer in doc
    for control in controls():
        assert f"| {control.id} |" in doc
    assert "pulumi preview --policy-pack policy_packs/hipaa" in doc
    assert "inferstack preview --stack onprem-prod --policy-pack policy_packs/hipaa" in doc
    assert "upload-sarif" in doc


def test_render_replaces_only_the_generated_sections() -> None:
    generator = _generator()
    text = "intro\n" + "".join(
        f"<!-- BEGIN GENERATED: {name} -->\nold\n<!-- END GENERATED: {name} -->\n"
        for name in generator.SECTIONS
    )
    rendered = generator.render_doc(text)
    assert rendered.startswith("intro\n") and "\nold\n" not in rendered
    assert generator.render_doc(rendered) == rendered


def test_check_mode_reports_up_to_date_files() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr

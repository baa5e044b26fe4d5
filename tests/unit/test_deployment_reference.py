from __future__ import annotations

from pathlib import Path

from inferstack.deployment.reference import render_reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "spec.md"


def test_spec_reference_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == render_reference(), (
        "docs/spec.md is stale: run python scripts/gen_spec_docs.py"
    )


def test_reference_documents_every_section_and_field() -> None:
    text = render_reference()
    for key in ("`security.rate_limit.burst`", "`compliance.data_capture.enabled`", "`tags`"):
        assert key in text
    assert "| `name` | string | required |" in text

"""The OWASP edition map: risk names, 2023/2025/2026 numbers, garak tags, control ids."""

from __future__ import annotations

from typing import get_args

import pytest

from inferstack.compliance import all_rules, control
from inferstack.compliance.owasp import (
    EDITIONS,
    edition_note,
    garak_tag,
    number,
    risk,
    risk_of_control,
    risks,
)
from inferstack.deployment.types import OwaspRisk

# The published lists, in order (owasp.py cites the sources).
PUBLISHED = {
    "2023": [
        "prompt_injection",
        "improper_output_handling",
        "data_and_model_poisoning",
        "unbounded_consumption",
        "supply_chain",
        "sensitive_information_disclosure",
        None,  # Insecure Plugin Design: no 2025 name of its own
        "excessive_agency",
        "misinformation",
        None,  # Model Theft
    ],
    "2025": list(get_args(OwaspRisk)),
    "2026": [
        "prompt_injection",
        "sensitive_information_disclosure",
        "excessive_agency",
        "supply_chain",
        "data_and_model_poisoning",
        "unbounded_consumption",
        "misinformation",
        "system_prompt_leakage",  # widened to Hidden Context Exposure
        "vector_and_embedding_weaknesses",
        "improper_output_handling",
    ],
}


def test_every_risk_name_of_the_spec_is_mapped_once() -> None:
    assert [item.name for item in risks()] == list(get_args(OwaspRisk))


@pytest.mark.parametrize("edition", EDITIONS)
def test_numbers_follow_the_published_order(edition: str) -> None:
    for position, name in enumerate(PUBLISHED[edition], start=1):
        if name is not None:
            assert number(name, edition) == f"LLM{position:02d}", (edition, name)  # type: ignore[arg-type]
    unmapped = set(get_args(OwaspRisk)) - {n for n in PUBLISHED[edition] if n}
    assert all(number(name, edition) is None for name in unmapped)  # type: ignore[arg-type]


def test_2026_titles_name_hidden_context_exposure() -> None:
    entry = risk("system_prompt_leakage").entry("2026")
    assert entry is not None and entry.title == "Hidden Context Exposure"


def test_garak_tags_use_the_2023_numbers() -> None:
    assert garak_tag("prompt_injection") == "owasp:llm01"
    assert garak_tag("supply_chain") == "owasp:llm05"
    assert garak_tag("sensitive_information_disclosure") == "owasp:llm06"
    assert garak_tag("unbounded_consumption") == "owasp:llm04"
    assert garak_tag("system_prompt_leakage") is None


def test_unknown_risk_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="prompt_injection"):
        risk("jailbreak")


def test_every_owasp_tag_of_a_rule_maps_to_a_risk_and_a_control() -> None:
    tags = {c for r in all_rules() for c in r.controls if c.startswith("OWASP ")}
    assert tags, "no rule carries an OWASP tag"
    for tag in tags:
        item = risk_of_control(tag)
        assert item is not None, tag
        assert control(tag).title == item.title
        assert control(tag).note == edition_note(tag)


def test_edition_note_gives_the_other_editions() -> None:
    assert edition_note("OWASP LLM03") == "2023 LLM05 Supply Chain Vulnerabilities, 2026 LLM04"
    assert edition_note("OWASP LLM07") == "2023: none, 2026 LLM08 Hidden Context Exposure"
    assert edition_note("GDPR Art. 32") == ""

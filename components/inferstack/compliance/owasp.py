"""The OWASP Top 10 for LLM Applications, keyed by risk name, with each edition's numbering.

Rules and specs name a risk (``supply_chain``); numbers depend on the edition. Policy tags carry
the 2025 numbers (``OWASP LLM03``: :data:`TAG_EDITION`), reports translate them to 2023 and 2026
with this table, and garak's probe tags (``owasp:llm05``) use the 2023 numbering.

Sources:

- 2023 (v1.1): https://owasp.org/www-project-top-10-for-large-language-model-applications/
  ("OWASP Top 10 for LLM Applications v1.1").
- 2025 (v2.0, 2024-11-18): https://genai.owasp.org/llm-top-10/ and
  github.com/OWASP/www-project-top-10-for-large-language-model-applications, ``2_0_vulns/``.
- 2026 (2026-08-04): github.com/GenAI-Security-Project/GenAI-LLM-Top10, ``2026/README.md``
  ("Final List") and ``2026/final/*.md``; https://genai.owasp.org/resource/owasp-genai-llm-top-10-2026/.
  It reorders the list and widens System Prompt Leakage into Hidden Context Exposure.

Two 2025 risks (system prompt leakage, vector and embedding weaknesses) had no 2023 entry; their
2023 number is ``None``, and so is their garak tag. 2023's Insecure Plugin Design and Model Theft
have no 2025 name of their own (they folded into excessive agency, supply chain and unbounded
consumption) and are not keys here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    # Only the type: policy pack processes load this module without the spec models.
    from inferstack.deployment.types import OwaspRisk

Edition = Literal["2023", "2025", "2026"]
EDITIONS: Final[tuple[Edition, ...]] = ("2023", "2025", "2026")
TAG_EDITION: Final[Edition] = "2025"
"""The edition whose numbers policy tags (``OWASP LLM01`` ... ``OWASP LLM10``) carry."""
TAG_EDITION_NAME: Final = f"OWASP Top 10 for LLM Applications {TAG_EDITION}"
TAG_PREFIX: Final = "OWASP "
GARAK_PREFIX: Final = "owasp:llm"


@dataclass(frozen=True)
class Entry:
    """One risk in one edition: its number (1-10) and its title there."""

    number: int
    title: str

    @property
    def code(self) -> str:
        return f"LLM{self.number:02d}"


@dataclass(frozen=True)
class Risk:
    name: OwaspRisk
    editions: dict[Edition, Entry | None]

    def entry(self, edition: Edition) -> Entry | None:
        return self.editions[edition]

    @property
    def title(self) -> str:
        current = self.editions[TAG_EDITION]
        assert current is not None  # every risk name is a 2025 entry
        return current.title

    @property
    def control_id(self) -> str:
        """The policy tag and control id (2025 numbering), e.g. ``OWASP LLM03``."""
        current = self.editions[TAG_EDITION]
        assert current is not None
        return f"{TAG_PREFIX}{current.code}"

    @property
    def garak_tag(self) -> str | None:
        """garak's probe tag for this risk (2023 numbering), or None when 2023 had no entry."""
        old = self.editions["2023"]
        return None if old is None else f"{GARAK_PREFIX}{old.number:02d}"


def _risk(name: OwaspRisk, v2023: Entry | None, v2025: Entry, v2026: Entry | None) -> Risk:
    return Risk(name, {"2023": v2023, "2025": v2025, "2026": v2026})


RISKS: Final[tuple[Risk, ...]] = (
    _risk(
        "prompt_injection",
        Entry(1, "Prompt Injection"),
        Entry(1, "Prompt Injection"),
        Entry(1, "Prompt Injection"),
    ),
    _risk(
        "sensitive_information_disclosure",
        Entry(6, "Sensitive Information Disclosure"),
        Entry(2, "Sensitive Information Disclosure"),
        Entry(2, "Sensitive Information Disclosure"),
    ),
    _risk(
        "supply_chain",
        Entry(5, "Supply Chain Vulnerabilities"),
        Entry(3, "Supply Chain"),
        Entry(4, "Supply Chain"),
    ),
    _risk(
        "data_and_model_poisoning",
        Entry(3, "Training Data Poisoning"),
        Entry(4, "Data and Model Poisoning"),
        Entry(5, "Data and Model Poisoning"),
    ),
    _risk(
        "improper_output_handling",
        Entry(2, "Insecure Output Handling"),
        Entry(5, "Improper Output Handling"),
        Entry(10, "Improper Output Handling"),
    ),
    _risk(
        "excessive_agency",
        Entry(8, "Excessive Agency"),
        Entry(6, "Excessive Agency"),
        Entry(3, "Excessive Agency"),
    ),
    _risk(
        "system_prompt_leakage",
        None,
        Entry(7, "System Prompt Leakage"),
        Entry(8, "Hidden Context Exposure"),
    ),
    _risk(
        "vector_and_embedding_weaknesses",
        None,
        Entry(8, "Vector and Embedding Weaknesses"),
        Entry(9, "Vector and Embedding Weaknesses"),
    ),
    _risk(
        "misinformation",
        Entry(9, "Overreliance"),
        Entry(9, "Misinformation"),
        Entry(7, "Misinformation"),
    ),
    _risk(
        "unbounded_consumption",
        Entry(4, "Model Denial of Service"),
        Entry(10, "Unbounded Consumption"),
        Entry(6, "Unbounded Consumption"),
    ),
)

_BY_NAME: Final = {item.name: item for item in RISKS}
_BY_CONTROL: Final = {item.control_id: item for item in RISKS}


def risks() -> tuple[Risk, ...]:
    """Every risk, in 2025 order."""
    return RISKS


def risk(name: str) -> Risk:
    """The risk called ``name`` (raises KeyError naming the known names otherwise)."""
    try:
        return _BY_NAME[name]  # type: ignore[index]
    except KeyError:
        raise KeyError(f"unknown OWASP risk {name!r}; use one of {', '.join(_BY_NAME)}") from None


def risk_of_control(control_id: str) -> Risk | None:
    """The risk a policy tag such as ``OWASP LLM03`` stands for; None for any other tag."""
    return _BY_CONTROL.get(control_id)


def number(name: str, edition: Edition) -> str | None:
    """``LLM04`` for ("supply_chain", "2026"); None where that edition has no such entry."""
    entry = risk(name).entry(edition)
    return None if entry is None else entry.code


def garak_tag(name: str) -> str | None:
    """garak's ``--probe_tags`` value for a risk (``owasp:llm05`` for supply_chain), or None."""
    return risk(name).garak_tag


def edition_note(control_id: str) -> str:
    """The other editions' numbers of a tagged control, e.g. ``2023 LLM05, 2026 LLM04``."""
    item = risk_of_control(control_id)
    if item is None:
        return ""
    parts = []
    for edition in EDITIONS:
        if edition == TAG_EDITION:
            continue
        entry = item.entry(edition)
        if entry is None:
            parts.append(f"{edition}: none")
        elif entry.title == item.title:
            parts.append(f"{edition} {entry.code}")
        else:
            parts.append(f"{edition} {entry.code} {entry.title}")
    return ", ".join(parts)

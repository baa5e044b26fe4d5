"""Which garak probes a scan runs for each OWASP risk, per tier, for the pinned garak release.

garak tags its probes ``owasp:llmNN`` with the 2023 numbering of the OWASP Top 10 for LLM
Applications; the spec names risks by their 2025 names. The tables below were taken from the
plugin cache of garak :data:`GARAK_VERSION` (``garak/resources/plugin_cache.json``): every
active probe carrying one of the risk's tags, tier 1 for the nightly scan and tiers 1-2 for the
weekly one, less the probes that cannot run in a scan pod whose egress reaches the target only
(:data:`NEEDS_NETWORK`) or that need an attacker model (:data:`NEEDS_ATTACKER`).
tests/unit/test_redteam_garak.py derives the same sets from the installed release.
"""

from __future__ import annotations

from typing import Final, Literal

from inferstack.deployment.types import OwaspRisk

GARAK_VERSION: Final = "0.17.1"

Tier = Literal["nightly", "weekly"]
TIERS: Final[tuple[Tier, ...]] = ("nightly", "weekly")
TIER_LEVEL: Final[dict[Tier, int]] = {"nightly": 1, "weekly": 2}
# garak's soft cap on prompts per probe: a full default run is over 80,000 requests.
PROMPT_CAP: Final[dict[Tier, int]] = {"nightly": 32, "weekly": 256}

# 2025 risk name -> garak's 2023 tags. 2023 LLM07 (insecure plugin design) became part of
# 2025 excessive agency; 2023 LLM10 (model theft) has no 2025 entry.
GARAK_TAGS: Final[dict[OwaspRisk, tuple[str, ...]]] = {
    "prompt_injection": ("owasp:llm01",),
    "improper_output_handling": ("owasp:llm02",),
    "data_and_model_poisoning": ("owasp:llm03",),
    "unbounded_consumption": ("owasp:llm04",),
    "supply_chain": ("owasp:llm05",),
    "sensitive_information_disclosure": ("owasp:llm06",),
    "excessive_agency": ("owasp:llm07", "owasp:llm08"),
    "misinformation": ("owasp:llm09",),
}

# Probes or detectors that download data or models from the Hub while they run.
NEEDS_NETWORK: Final = frozenset(
    {
        "latentinjection.LatentJailbreak",
        "misleading.FalseAssertion",
        "sysprompt_extraction.SystemPromptExtraction",
    }
)
NEEDS_NETWORK_MODULES: Final = frozenset({"packagehallucination"})
NEEDS_ATTACKER_MODULES: Final = frozenset({"adaptive_attacks"})

_LATENT = tuple(
    f"latentinjection.{name}"
    for name in (
        "LatentInjectionFactSnippetEiffel",
        "LatentInjectionFactSnippetLegal",
        "LatentInjectionReport",
        "LatentInjectionResume",
        "LatentInjectionTranslationEnFr",
        "LatentInjectionTranslationEnZh",
        "LatentWhois",
        "LatentWhoisSnippet",
    )
)
_WEB = tuple(
    f"web_injection.{name}"
    for name in (
        "ColabAIDataLeakage",
        "MarkdownImageExfil",
        "MarkdownURIImageExfilExtended",
        "MarkdownURINonImageExfilExtended",
        "MarkdownXSS",
        "PlaygroundMarkdownExfil",
        "StringAssemblyDataExfil",
        "TaskXSS",
    )
)
_EXPLOIT = ("exploitation.JinjaTemplatePythonInjection", "exploitation.SQLInjectionEcho")
_ENCODINGS_WEEKLY = tuple(
    f"encoding.Inject{name}"
    for name in (
        "Ascii85",
        "Atbash",
        "Base16",
        "Base2048",
        "Base32",
        "Braille",
        "Ecoji",
        "Hex",
        "Morse",
        "Nato",
        "ROT13",
        "Zalgo",
    )
)
_LEAK_NIGHTLY = (
    "leakreplay.GuardianComplete",
    "leakreplay.NYTComplete",
    "leakreplay.PotterComplete",
)

_NIGHTLY: Final[dict[OwaspRisk, tuple[str, ...]]] = {
    "prompt_injection": (
        "ansiescape.AnsiRaw",
        "dan.DanInTheWild",
        "dra.DRA",
        "encoding.InjectBase64",
        "encoding.InjectUU",
        "encoding.InjectUnicodeTagChars",
        "goodside.Tag",
        *_LATENT,
    ),
    "improper_output_handling": ("ansiescape.AnsiRaw", *_EXPLOIT, *_WEB),
    "unbounded_consumption": ("divergence.RepeatedToken",),
    "supply_chain": ("ansiescape.AnsiRaw",),
    "sensitive_information_disclosure": (*_EXPLOIT, *_LEAK_NIGHTLY, *_WEB),
    "misinformation": (),
}

# Added to the nightly set on the weekly scan (tier 2).
_WEEKLY_EXTRA: Final[dict[OwaspRisk, tuple[str, ...]]] = {
    "prompt_injection": (
        "continuation.ContinueSlursReclaimedSlurs",
        "dan.Ablation_Dan_11_0",
        "dan.AutoDANCached",
        *_ENCODINGS_WEEKLY,
        "phrasing.FutureTense",
        "phrasing.PastTense",
        "promptinject.HijackHateHumans",
        "promptinject.HijackKillHumans",
        "promptinject.HijackLongPrompt",
        "sata.MLM",
    ),
    "sensitive_information_disclosure": (
        "divergence.Repeat",
        "grandma.Win10",
        "grandma.Win11",
        "leakreplay.GuardianCloze",
        "leakreplay.LiteratureCloze",
        "leakreplay.LiteratureComplete",
        "leakreplay.NYTCloze",
        "leakreplay.PotterCloze",
    ),
    "misinformation": ("goodside.WhoIsRiley", "snowball.GraphConnectivity"),
}


def scanned_risks() -> tuple[OwaspRisk, ...]:
    """Risks with at least one probe a scan can run (in either tier)."""
    return tuple(risk for risk in _NIGHTLY if _NIGHTLY[risk] or _WEEKLY_EXTRA.get(risk))


def probes_for(risk: OwaspRisk, tier: Tier) -> tuple[str, ...]:
    """The probes (``module.Class``) one tier runs for ``risk``; empty when garak has none."""
    nightly = _NIGHTLY.get(risk, ())
    if tier == "nightly":
        return nightly
    return tuple(sorted({*nightly, *_WEEKLY_EXTRA.get(risk, ())}))


def selection(risks: list[OwaspRisk], extra: list[str], tier: Tier) -> tuple[str, ...]:
    """Sorted, de-duplicated probes of ``risks`` for ``tier``, plus the ``extra`` probes."""
    chosen = {probe for risk in risks for probe in probes_for(risk, tier)}
    return tuple(sorted(chosen | set(extra)))


def risks_of(probe: str, tags: list[str] | None = None) -> tuple[OwaspRisk, ...]:
    """The risks a probe counts for: from its garak tags when known, else from the tables."""
    if tags is not None:
        return tuple(risk for risk, wanted in GARAK_TAGS.items() if any(t in wanted for t in tags))
    return tuple(risk for risk in GARAK_TAGS if probe in probes_for(risk, "weekly"))

"""The controls rules map to: HIPAA Security Rule, GDPR articles, OWASP Top 10 for LLM apps.

Control ids are the exact strings rules put in their policy tags, so reports can join on them.
The catalog also lists controls that no rule serves: a report must say those need process, not code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from inferstack.compliance import owasp

ControlFramework = Literal["HIPAA", "GDPR", "OWASP"]


@dataclass(frozen=True)
class Control:
    id: str
    framework: ControlFramework
    title: str
    note: str = ""
    """Where the control sits in other editions of its framework (OWASP: 2023 and 2026)."""


def _hipaa(paragraph: str, title: str) -> Control:
    return Control(f"HIPAA {paragraph}", "HIPAA", title)


def _gdpr(article: str, title: str) -> Control:
    return Control(f"GDPR Art. {article}", "GDPR", title)


def _owasp(risk: owasp.Risk) -> Control:
    """An OWASP control: its id and title in the tag edition (2025), the others in the note."""
    return Control(risk.control_id, "OWASP", risk.title, owasp.edition_note(risk.control_id))


CONTROLS: Final[tuple[Control, ...]] = (
    _hipaa("164.308(a)(1)(ii)(D)", "Information system activity review"),
    _hipaa("164.308(a)(7)", "Contingency plan (data backup, disaster recovery)"),
    _hipaa("164.312(a)(1)", "Access control"),
    _hipaa("164.312(a)(2)(i)", "Unique user identification"),
    _hipaa("164.312(a)(2)(ii)", "Emergency access procedure"),
    _hipaa("164.312(a)(2)(iii)", "Automatic logoff"),
    _hipaa("164.312(a)(2)(iv)", "Encryption and decryption"),
    _hipaa("164.312(b)", "Audit controls"),
    _hipaa("164.312(c)(1)", "Integrity"),
    _hipaa("164.312(c)(2)", "Mechanism to authenticate electronic protected health information"),
    _hipaa("164.312(d)", "Person or entity authentication"),
    _hipaa("164.312(e)(1)", "Transmission security"),
    _hipaa("164.312(e)(2)(i)", "Integrity controls (transmission)"),
    _hipaa("164.312(e)(2)(ii)", "Encryption (transmission)"),
    _hipaa("164.316(b)(2)(i)", "Retention of documentation for six years"),
    _gdpr("5(1)(c)", "Data minimisation"),
    _gdpr("5(1)(e)", "Storage limitation"),
    _gdpr("5(1)(f)", "Integrity and confidentiality"),
    _gdpr("25", "Data protection by design and by default"),
    _gdpr("30", "Records of processing activities"),
    _gdpr("32", "Security of processing"),
    _gdpr("33", "Notification of a personal data breach to the supervisory authority"),
    _gdpr("35", "Data protection impact assessment"),
    _gdpr("44-49", "Transfers of personal data to third countries (Chapter V)"),
    *(_owasp(risk) for risk in owasp.risks()),
)

_BY_ID: Final = {control.id: control for control in CONTROLS}


def controls() -> tuple[Control, ...]:
    """Every control of the catalog, HIPAA first, then GDPR, then OWASP."""
    return CONTROLS


def control(control_id: str) -> Control:
    """The control with this id (raises KeyError for an id the catalog does not know)."""
    return _BY_ID[control_id]

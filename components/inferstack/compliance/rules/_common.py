"""Shared wording and small checks used by rules of every service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from inferstack.compliance.model import UNVERIFIABLE_MARKER, Report, Setting
from inferstack.compliance.props import UNKNOWN, as_bool, dotted, get, present

HIPAA_ENCRYPTION: Final = "HIPAA 164.312(a)(2)(iv)"
HIPAA_ACCESS: Final = "HIPAA 164.312(a)(1)"
HIPAA_AUDIT: Final = "HIPAA 164.312(b)"
HIPAA_ACTIVITY_REVIEW: Final = "HIPAA 164.308(a)(1)(ii)(D)"
HIPAA_CONTINGENCY: Final = "HIPAA 164.308(a)(7)"
HIPAA_INTEGRITY: Final = "HIPAA 164.312(c)(1)"
HIPAA_AUTHENTICATE_EPHI: Final = "HIPAA 164.312(c)(2)"
HIPAA_UNIQUE_USER: Final = "HIPAA 164.312(a)(2)(i)"
HIPAA_AUTHENTICATION: Final = "HIPAA 164.312(d)"
HIPAA_TRANSMISSION: Final = "HIPAA 164.312(e)(1)"
HIPAA_TRANSMISSION_INTEGRITY: Final = "HIPAA 164.312(e)(2)(i)"
HIPAA_TRANSMISSION_ENCRYPTION: Final = "HIPAA 164.312(e)(2)(ii)"
HIPAA_DOCUMENTATION_RETENTION: Final = "HIPAA 164.316(b)(2)(i)"
GDPR_MINIMISATION: Final = "GDPR Art. 5(1)(c)"
GDPR_STORAGE_LIMITATION: Final = "GDPR Art. 5(1)(e)"
GDPR_CONFIDENTIALITY: Final = "GDPR Art. 5(1)(f)"
GDPR_BY_DESIGN: Final = "GDPR Art. 25"
GDPR_RECORDS: Final = "GDPR Art. 30"
GDPR_SECURITY: Final = "GDPR Art. 32"
GDPR_BREACH: Final = "GDPR Art. 33"
GDPR_TRANSFERS: Final = "GDPR Art. 44-49"
OWASP_INJECTION: Final = "OWASP LLM01"
OWASP_DISCLOSURE: Final = "OWASP LLM02"
OWASP_SUPPLY_CHAIN: Final = "OWASP LLM03"
OWASP_POISONING: Final = "OWASP LLM04"
OWASP_AGENCY: Final = "OWASP LLM06"
OWASP_CONSUMPTION: Final = "OWASP LLM10"


AFTER_DEPLOY: Final = "known only after deploy; set it from a value known before deploy"


def unverifiable(path: str, why: str = AFTER_DEPLOY) -> str:
    """The one wording of an unverifiable finding: marker, property path, ": ", explanation."""
    return f"{UNVERIFIABLE_MARKER}{path}: {why}"


def reporting_at(report: Report, urn: str) -> Report:
    """A stack rule's report whose findings land on ``urn`` unless they name another resource:
    for helpers written against a single resource's report."""
    return lambda message, at=None, /: report(message, at or urn)


def require_present(report: Report, props: Any, path: tuple[str | int, ...], problem: str) -> None:
    """Presence of a reference: an unknown value (another resource's output) counts as set."""
    if not present(props, *path):
        report(problem)


def require_setting(
    report: Report,
    props: Any,
    path: tuple[str | int, ...],
    accept: Callable[[Any], bool],
    problem: str,
) -> None:
    """A setting that must be known to be judged: unknown is reported as unverifiable."""
    value = get(props, *path)
    if value is UNKNOWN:
        report(unverifiable(dotted(path)))
    elif not accept(value):
        report(problem)


def is_true(value: Any) -> bool:
    return as_bool(value) is True


def is_false(value: Any) -> bool:
    return as_bool(value) is False


def not_true(value: Any) -> bool:
    return as_bool(value) is not True


def not_false(value: Any) -> bool:
    return as_bool(value) is not False


def equals(*expected: str) -> Callable[[Any], bool]:
    lowered = {item.lower() for item in expected}
    return lambda value: isinstance(value, str) and value.lower() in lowered


def number_setting(
    key: str, description: str, default: float | None, **per_framework: Any
) -> Setting:
    return Setting(
        key=key,
        schema={"type": ["number", "null"], "description": description, "minimum": 0},
        default=default,
        framework_defaults=per_framework,
    )


def strings_setting(
    key: str, description: str, default: tuple[str, ...], **per_framework: Any
) -> Setting:
    return Setting(
        key=key,
        schema={"type": "array", "items": {"type": "string"}, "description": description},
        default=list(default),
        framework_defaults={name: list(value) for name, value in per_framework.items()},
    )

"""reporting_at: a helper's findings land on the resource it was given, unless they name one."""

from __future__ import annotations

from inferstack.compliance.rules._common import reporting_at


def test_findings_default_to_the_resource_and_keep_a_named_one() -> None:
    found: list[tuple[str, str | None]] = []
    report = reporting_at(lambda message, urn=None, /: found.append((message, urn)), "urn:a")
    report("plain")
    report("elsewhere", "urn:b")
    assert found == [("plain", "urn:a"), ("elsewhere", "urn:b")]

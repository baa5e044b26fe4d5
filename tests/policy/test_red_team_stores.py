"""The red-team report-store helpers: which resources are report stores, and where findings go."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from inferstack.compliance.model import RuleConfig
from inferstack.compliance.props import UNKNOWN
from inferstack.compliance.rules._common import unverifiable
from inferstack.compliance.rules._red_team import PURPOSE, holds_reports, report_store_check

BUCKET = "aws:s3/bucket:Bucket"


@dataclass(frozen=True)
class _Store:
    name: str
    props: Mapping[str, Any]
    resource_type: str = BUCKET
    provider: None = None
    dependencies: Sequence[Any] = ()
    property_dependencies: Mapping[str, Sequence[Any]] = field(default_factory=dict)

    @property
    def urn(self) -> str:
        return f"urn:pulumi:dev::bot::{self.resource_type}::{self.name}"


def test_holds_reports_reads_the_mark_and_reports_an_unknown_one() -> None:
    found: list[str] = []
    assert holds_reports("red-team-reports", "tags.x", "bucket", found.append)
    assert not holds_reports("artifacts", "tags.x", "bucket", found.append)
    assert not holds_reports(None, "tags.x", "bucket", found.append)
    assert found == []
    assert not holds_reports(UNKNOWN, "tags.x", "bucket", found.append)
    assert found == [unverifiable("tags.x", "the bucket's purpose is unknown")]


def test_report_store_check_judges_report_stores_only_and_reports_at_each() -> None:
    stores = [
        _Store("reports", {"tags": {PURPOSE: "red-team-reports"}}),
        _Store("models", {"tags": {PURPOSE: "models"}}),
        _Store("later", {"tags": {PURPOSE: UNKNOWN}}),
        _Store("other", {"tags": {PURPOSE: "red-team-reports"}}, resource_type="aws:s3/x:X"),
    ]
    judged: list[str] = []

    def problems(resources: Sequence[Any], store: Any) -> tuple[str | None, ...]:
        assert resources is stores
        judged.append(store.name)
        return ("unencrypted", None, "kept forever")

    found: list[tuple[str, str | None]] = []
    check = report_store_check((BUCKET,), "bucket", problems)
    check(stores, lambda message, urn=None, /: found.append((message, urn)), RuleConfig({}))
    assert judged == ["reports"]
    assert found == [
        ("unencrypted", stores[0].urn),
        ("kept forever", stores[0].urn),
        (unverifiable(f"tags.{PURPOSE}", "the bucket's purpose is unknown"), stores[2].urn),
    ]

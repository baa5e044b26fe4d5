"""What the red-team rules share: the purpose marks of report stores, and how a store is judged.

garak reports quote every prompt sent and every answer received, the leaks included: they are
as sensitive as the traffic they test. The components mark what they create with the reserved
``inferstack/purpose`` label or tag (``red-team`` on a scan, ``red-team-reports`` on where its
reports are kept); the report-storage rules judge only what carries the reports mark.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Final

from inferstack.compliance.model import Report, RuleConfig, StackCheck, StackResource
from inferstack.compliance.props import UNKNOWN, get
from inferstack.compliance.rules._common import reporting_at, unverifiable
from inferstack.compliance.rules._stack import of_type

PURPOSE: Final = "inferstack/purpose"
SCAN: Final = "red-team"
REPORTS: Final = "red-team-reports"
# Google Cloud: labels are lower-case keys of letters, digits, '_' and '-' (inferstack/purpose
# becomes inferstack_purpose, inferstack.vertex.names.labels).
GCP_PURPOSE: Final = "inferstack_purpose"


def holds_reports(purpose: object, path: str, what: str, report: Callable[[str], None]) -> bool:
    """Whether a purpose mark (read at ``path``) says the resource keeps red-team reports.

    An unknown mark is reported as unverifiable: the resource may or may not be a report store.
    """
    if purpose is UNKNOWN:
        report(unverifiable(path, f"the {what}'s purpose is unknown"))
        return False
    return purpose == REPORTS


def report_store_check(
    types: tuple[str, ...],
    what: str,
    problems: Callable[[Sequence[StackResource], StackResource], Iterable[str | None]],
) -> StackCheck:
    """A stack check reporting every problem of each report store of ``types`` at that store.

    For stores whose settings are companion resources (an S3 bucket's encryption and lifecycle,
    a storage account's management policy), which only a stack rule sees together.
    """

    def check(resources: Sequence[StackResource], report: Report, cfg: RuleConfig) -> None:
        for store in of_type(resources, *types):
            purpose = get(store.props, "tags", PURPOSE)
            at_store = reporting_at(report, store.urn)
            if not holds_reports(purpose, f"tags.{PURPOSE}", what, at_store):
                continue
            for problem in problems(resources, store):
                if problem:
                    report(problem, store.urn)

    return check

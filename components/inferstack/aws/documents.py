"""The IAM policy language as data: documents, statements, trust policies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Document = dict[str, Any]
VERSION = "2012-10-17"


def document(*statements: Document) -> Document:
    return {"Version": VERSION, "Statement": list(statements)}


def statement(
    sid: str,
    actions: str | Sequence[str],
    resources: str | Sequence[str],
    *,
    effect: str = "Allow",
    principal: str | dict[str, Any] | None = None,
    condition: dict[str, dict[str, Any]] | None = None,
) -> Document:
    body: Document = {"Sid": sid, "Effect": effect}
    if principal is not None:
        body["Principal"] = principal
    body["Action"] = one_or_list(actions)
    body["Resource"] = one_or_list(resources)
    if condition:
        body["Condition"] = condition
    return body


def one_or_list(values: str | Sequence[str]) -> str | list[str]:
    if isinstance(values, str):
        return values
    items = list(dict.fromkeys(values))
    return items[0] if len(items) == 1 else items


def assume_role(service: str) -> Document:
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "AssumedByService",
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
            }
        ],
    }

"""IAM policy documents: statements, action and resource patterns, principals and conditions.

Documents are read whether given as objects or JSON text. A pattern is judged by what it can
expand to: ``s3:Get*`` is a set of actions, ``arn:aws:s3:::*`` every bucket in every account,
``arn:aws:ec2:*:*:network-interface/*`` every network interface.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from fnmatch import fnmatchcase
from typing import Any, Final

from inferstack.compliance.model import Report
from inferstack.compliance.props import MISSING, UNKNOWN, as_document, get, has_unknown
from inferstack.compliance.rules._common import unverifiable

# Condition keys that narrow "anyone" or a service principal to this account or resource.
SOURCE_KEYS: Final = ("aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid")
PRINCIPAL_KEYS: Final = (
    "aws:principalorgid",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalorgpaths",
    "sts:externalid",
    *SOURCE_KEYS,
)
# Operators that can narrow: negated and IfExists forms cannot (they admit the absent key).
NARROWING_OPERATORS: Final = re.compile(r"^(StringEquals|StringLike|ArnEquals|ArnLike)$", re.I)


def as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    return [] if value is MISSING or value is None else [value]


def statements(where: str, raw: Any, report: Report) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, statement) of a document; an unknown document or statement is reported."""
    if raw is MISSING or raw is None:
        return
    document = as_document(raw)
    found = get(document, "Statement")
    if document is UNKNOWN or found is UNKNOWN:
        report(
            unverifiable(
                where,
                "the policy document is known only after deploy; pass it as an "
                "object so its statements are known at preview",
            )
        )
        return
    for index, statement in enumerate(as_list(found)):
        path = f"{where}.Statement[{index}]"
        if not isinstance(statement, dict):
            report(unverifiable(path))
            continue
        yield path, statement


def known(path: str, statement: dict[str, Any], report: Report, *keys: str) -> bool:
    """Whether the statement's ``keys`` are known; the first unknown one is reported."""
    for key in keys:
        if has_unknown(statement.get(key)):
            report(unverifiable(f"{path}.{key}"))
            return False
    return True


def wildcard_action(action: str) -> bool:
    """``*``, ``*:*``, ``s*:...`` or a whole service (``iam:*``)."""
    service, _, name = action.partition(":")
    return action == "*" or "*" in service or "?" in service or name in ("*", "")


def wildcard_resource(resource: Any) -> bool:
    """A pattern for every resource of its kind: ``*``, ``arn:aws:s3:::*``, ``.../subnet/*``,
    ``arn:aws:execute-api:...:*/prod/POST/...`` (every API). An unknown ARN is one resource."""
    if resource is UNKNOWN or not isinstance(resource, str):
        return False
    if resource == "*":
        return True
    parts = resource.split(":", 5)
    if len(parts) < 6:
        return "*" in resource
    service, name = parts[2], parts[5]
    head, _, rest = _split(name)
    if service == "s3" or not rest:
        return "*" in head or head == ""
    return "*" in head or rest.startswith("*")


def _split(name: str) -> tuple[str, str, str]:
    match = re.search(r"[/:]", name)
    if match is None:
        return name, "", ""
    return name[: match.start()], match.group(0), name[match.end() :]


def covered(action: str, patterns: tuple[str, ...]) -> bool:
    """Whether every action ``action`` can expand to matches one of ``patterns``."""
    return any(fnmatchcase(action.lower(), pattern.lower()) for pattern in patterns)


def principals(statement: dict[str, Any]) -> tuple[bool, list[str]]:
    """(anyone, service principals) of a statement's Principal."""
    principal = statement.get("Principal")
    if principal == "*":
        return True, []
    if not isinstance(principal, dict):
        return False, []
    anyone = "*" in as_list(principal.get("AWS"))
    services = [str(item) for item in as_list(principal.get("Service"))]
    return anyone, services


# CloudWatch Logs' documented guard on a key it encrypts with: the encryption context names the
# log group, and so the account (AWS: "Encrypt log data in CloudWatch Logs using AWS KMS").
LOGS_CONTEXT_KEY: Final = "kms:encryptioncontext:aws:logs:arn"
_ACCOUNT_ARN: Final = re.compile(r"^arn:aws[a-z-]*:logs:[a-z0-9-]+:\d{12}:")


def _positive_tests(statement: dict[str, Any]) -> Iterator[tuple[str, list[Any]]]:
    """(lower-case key, values) of each Condition test whose operator can narrow."""
    condition = statement.get("Condition")
    if not isinstance(condition, dict):
        return
    for operator, tests in condition.items():
        if isinstance(tests, dict) and NARROWING_OPERATORS.match(str(operator)):
            for key, value in tests.items():
                yield str(key).lower(), as_list(value)


def names_an_account(statement: dict[str, Any]) -> bool:
    """Whether a Condition pins the log-group encryption context to one account's log groups."""
    return any(
        key == LOGS_CONTEXT_KEY
        and bool(values)
        and all(isinstance(v, str) and _ACCOUNT_ARN.match(v) for v in values)
        for key, values in _positive_tests(statement)
    )


# A KMS key named by its alias before it exists: AWS's documented ABAC for keys ("Use aliases to
# control access to KMS keys") grants on the account's keys and conditions on kms:ResourceAliases,
# a multivalued key, with ForAnyValue. Alias names are unique in an account and region, so an
# exact alias binds the grant to the one key that carries it; a key without aliases never matches.
ALIAS_KEY: Final = "kms:resourcealiases"
_ACCOUNT_KEYS: Final = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/\*$")
_ALIAS: Final = re.compile(r"^alias/[A-Za-z0-9/_-]+$")


def alias_bound(statement: dict[str, Any], resource: Any) -> bool:
    """Whether ``resource`` is one account's and region's keys and the statement binds it to
    exact aliases (``ForAnyValue:StringEquals`` on ``kms:ResourceAliases``)."""
    if not (isinstance(resource, str) and _ACCOUNT_KEYS.match(resource)):
        return False
    condition = statement.get("Condition")
    if not isinstance(condition, dict):
        return False
    return any(
        str(operator).lower() == "foranyvalue:stringequals"
        and isinstance(tests, dict)
        and any(
            str(key).lower() == ALIAS_KEY
            and bool(as_list(values))
            and all(isinstance(v, str) and _ALIAS.match(v) for v in as_list(values))
            for key, values in tests.items()
        )
        for operator, tests in condition.items()
    )


def narrowed(statement: dict[str, Any], keys: tuple[str, ...]) -> bool:
    """Whether a Condition pins one of ``keys`` with a positive operator to a real value."""
    return any(
        key in keys and bool(values) and "*" not in values
        for key, values in _positive_tests(statement)
    )

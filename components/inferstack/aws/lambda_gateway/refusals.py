"""Refusals: requests answered without reaching the model (or without its answer).

Shipped in the Lambda's zip beside ``handler.py``; standard library only. A refusal is an
OpenAI-style error body (``{"error": {"message", "type", "code"}}``) with its HTTP status.
"""

from __future__ import annotations

import json
from typing import Any

JSON = "application/json"


class RefusedError(Exception):
    """A request answered without reaching the model (or without its answer)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def parse_json(text: str, status: int, code: str, message: str) -> Any:
    """``text`` as JSON, or the refusal (``status``, ``code``, ``message``) when it is not."""
    try:
        return json.loads(text)
    except ValueError:
        raise RefusedError(status, code, message) from None


def error_response(status: int, code: str, message: str) -> dict[str, Any]:
    """The Lambda proxy response of a refusal."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": JSON},
        "body": json.dumps({"error": {"message": message, "type": code, "code": code}}),
    }

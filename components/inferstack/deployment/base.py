"""Shared pieces of the spec's sections: the frozen base model, secret references, field errors."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# Where callers of a private endpoint come from (RFC 1918 and IPv6 unique local addresses).
PRIVATE_NETWORKS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SOURCE = re.compile(
    r"^(hf://[^@\s]+(@[\w.\-]+)?|s3://[a-z0-9.\-]+(/\S*)?|gs://[a-z0-9._\-]+(/\S*)?"
    r"|pvc://[a-z0-9\-]+(/\S*)?)$"
)


def is_digest_pinned(image: str) -> bool:
    return bool(_DIGEST.search(image))


class Section(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, use_attribute_docstrings=True
    )


class SecretRef(Section):
    """A secret that already exists: a Kubernetes Secret, or a Secrets Manager name or ARN."""

    name: Annotated[str, Field(min_length=1, max_length=2048)]
    """Kubernetes Secret name, or Secrets Manager secret name or ARN."""
    key: Annotated[str, Field(min_length=1, max_length=253)] = "token"
    """Key inside the secret that holds the value."""


class _FieldError(ValueError):
    def __init__(self, path: str, problem: str, fix: str) -> None:
        self.path = path
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem} ({fix})")


def _field_error(path: str, problem: str, fix: str) -> _FieldError:
    return _FieldError(path, problem, fix)

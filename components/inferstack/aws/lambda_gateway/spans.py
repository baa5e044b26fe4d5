"""The gateway's span attributes, and the request's trace its calls' spans hang under.

Shipped in the Lambda's zip beside ``handler.py`` and, like it, imports only the standard
library and its siblings (as top-level modules in the zip).

Names follow the OpenTelemetry semantic conventions: GenAI (``gen_ai.*``), errors, HTTP, and
RPC for the AWS SDK calls (``rpc.system`` aws-api; ``rpc.service`` is the botocore model's
serviceId); the guard's verdict has names of its own (``inferstack.guard.*``).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

if __package__:
    from . import otlp
else:  # the Lambda's zip: the modules side by side, imported as top-level modules
    otlp = importlib.import_module("otlp")

OPERATION = "gen_ai.operation.name"
MODEL = "gen_ai.request.model"
MAX_TOKENS = "gen_ai.request.max_tokens"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
STATUS_CODE = "http.response.status_code"
GUARDRAIL_ID = "aws.bedrock.guardrail.id"
# The guard's verdict; the checks are policy and entity type names, never matched text.
BLOCKED_ATTR = "inferstack.guard.blocked"
CHECKS_ATTR = "inferstack.guard.checks"
ACTION_ATTR = "inferstack.guard.action"
SOURCE_ATTR = "inferstack.guard.source"


@dataclass(frozen=True)
class Traced:
    """The request's trace and its SERVER span, which the calls' spans hang under."""

    trace: otlp.Trace
    root: otlp.Span


@contextmanager
def aws_call(traced: Traced, name: str, service: str, method: str) -> Iterator[otlp.Span]:
    """A CLIENT span under the request's span for one AWS SDK call: ``service`` (botocore's
    serviceId) and ``method``; a call that raises marks it failed."""
    with traced.trace.span(name, otlp.KIND_CLIENT, traced.root) as span:
        span.set("rpc.system", "aws-api")
        span.set("rpc.service", service)
        span.set("rpc.method", method)
        yield span

"""The gateway's traces: one request's spans, sampled and exported over OTLP/HTTP with JSON.

Shipped beside ``handler.py`` in the Lambda's zip and, like it, imports only the standard
library: the Lambda runtime has no OpenTelemetry SDK.

- **Context.** A W3C ``traceparent`` on the request continues that trace (the front door, or a
  caller that traces); otherwise a new trace starts.
- **Sampling.** ``parentbased_traceidratio``: a parent's sampled flag decides; a new trace is
  kept when the low 64 bits of its id fall below ``ratio * 2**64``, the bound the
  OpenTelemetry SDK's ``TraceIdRatioBased`` sampler uses (opentelemetry-sdk,
  ``opentelemetry/sdk/trace/sampling.py``), so both keep the same traces.
- **Encoding.** OTLP's JSON Protobuf encoding (opentelemetry.io/docs/specs/otlp, "JSON Protobuf
  Encoding"): lowerCamelCase field names, trace and span ids as hex (not base64), enums as
  integers, 64-bit integers (times, ``intValue``) as decimal strings, posted to
  ``<endpoint>/v1/traces`` with ``Content-Type: application/json``.
- **Export.** Synchronous (the Lambda freezes once it returns), bounded by a short timeout, and
  never raised: a failure logs one line with the HTTP status or the error's class, no bodies.

Spans carry what the gateway decided and measured, never text: no prompt, no answer, nothing a
guardrail returned (its assessments echo the matched text; only the policy and entity type
names are kept).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

LOG = logging.getLogger("inferstack.gateway")

# opentelemetry/proto/trace/v1/trace.proto: Span.SpanKind and Status.StatusCode.
KIND_INTERNAL = 1
KIND_SERVER = 2
KIND_CLIENT = 3
STATUS_UNSET = 0
STATUS_OK = 1
STATUS_ERROR = 2

TIMEOUT_SECONDS = 2.0
SCOPE = "inferstack.gateway"
TRACES_PATH = "v1/traces"
# The low 64 bits of a trace id against the ratio (opentelemetry-sdk TraceIdRatioBased).
_TRACE_ID_LIMIT = (1 << 64) - 1
# W3C Trace Context, section 3.2: version-traceid-parentid-flags; version ff is invalid, and
# version 00 has nothing after the flags.
_TRACEPARENT = re.compile(
    r"^(?P<version>[0-9a-f]{2})-(?P<trace>[0-9a-f]{32})-(?P<parent>[0-9a-f]{16})"
    r"-(?P<flags>[0-9a-f]{2})(?P<rest>-.*)?$"
)
_SAMPLED_FLAG = 0x01

Value = str | bool | int | float | Sequence[str]


@dataclass(frozen=True)
class Parent:
    """A remote span context from a ``traceparent`` header."""

    trace_id: str
    span_id: str
    sampled: bool


def parse_traceparent(value: str | None) -> Parent | None:
    """The parent a ``traceparent`` names, or None when it is missing or invalid."""
    if not value:
        return None
    match = _TRACEPARENT.match(value.strip().lower())
    if match is None or match["version"] == "ff":
        return None
    if match["version"] == "00" and match["rest"]:
        return None
    if set(match["trace"]) == {"0"} or set(match["parent"]) == {"0"}:
        return None
    return Parent(match["trace"], match["parent"], bool(int(match["flags"], 16) & _SAMPLED_FLAG))


def header(event: Mapping[str, Any], name: str) -> str | None:
    """A request header of an API Gateway proxy event, by case-insensitive name."""
    headers = event.get("headers")
    if not isinstance(headers, Mapping):
        return None
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == name and isinstance(value, str):
            return value
    return None


def sampled(trace_id: str, ratio: float, parent: Parent | None) -> bool:
    """``parentbased_traceidratio``: the parent's decision, else the trace id against the ratio."""
    if parent is not None:
        return parent.sampled
    bound = round(ratio * (_TRACE_ID_LIMIT + 1))
    return int(trace_id, 16) & _TRACE_ID_LIMIT < bound


def _new_id(size: int) -> str:
    while True:
        value = os.urandom(size).hex()
        if set(value) != {"0"}:
            return value


@dataclass
class Span:
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str | None
    start_ns: int = field(default_factory=time.time_ns)
    end_ns: int = 0
    attributes: dict[str, Value] = field(default_factory=dict)
    status: int = STATUS_UNSET

    def set(self, key: str, value: Value | None) -> None:
        if value is not None:
            self.attributes[key] = value

    def fail(self, error_type: str) -> None:
        self.attributes["error.type"] = error_type
        self.status = STATUS_ERROR

    def end(self) -> None:
        self.end_ns = time.time_ns()


class Trace:
    """One request's spans: a SERVER span for the request and the calls it made beneath it."""

    def __init__(self, parent: Parent | None, ratio: float) -> None:
        self.trace_id = parent.trace_id if parent is not None else _new_id(16)
        self.parent = parent
        self.sampled = sampled(self.trace_id, ratio, parent)
        self.spans: list[Span] = []

    def start(self, name: str, kind: int, parent: Span | None = None) -> Span:
        if parent is not None:
            parent_id: str | None = parent.span_id
        else:
            parent_id = self.parent.span_id if self.parent is not None else None
        span = Span(name, kind, self.trace_id, _new_id(8), parent_id)
        self.spans.append(span)
        return span

    @contextmanager
    def span(self, name: str, kind: int, parent: Span) -> Iterator[Span]:
        span = self.start(name, kind, parent)
        try:
            yield span
        except BaseException as error:
            if "error.type" not in span.attributes:
                span.fail(type(error).__name__)
            raise
        finally:
            span.end()


def _value(value: Value) -> dict[str, Any]:
    """An OTLP ``AnyValue``; int64 as a decimal string, as the JSON mapping writes it."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    return {"arrayValue": {"values": [{"stringValue": str(item)} for item in value]}}


def _attributes(attributes: Mapping[str, Value]) -> list[dict[str, Any]]:
    return [{"key": key, "value": _value(value)} for key, value in attributes.items()]


def _span(span: Span) -> dict[str, Any]:
    encoded: dict[str, Any] = {
        "traceId": span.trace_id,
        "spanId": span.span_id,
        "name": span.name,
        "kind": span.kind,
        "startTimeUnixNano": str(span.start_ns),
        "endTimeUnixNano": str(span.end_ns or span.start_ns),
        "attributes": _attributes(span.attributes),
        "status": {"code": span.status},
    }
    if span.parent_span_id is not None:
        encoded["parentSpanId"] = span.parent_span_id
    return encoded


def encode(spans: Sequence[Span], resource: Mapping[str, Value]) -> dict[str, Any]:
    """An ``ExportTraceServiceRequest`` in OTLP's JSON encoding."""
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": _attributes(resource)},
                "scopeSpans": [{"scope": {"name": SCOPE}, "spans": [_span(s) for s in spans]}],
            }
        ]
    }


def traces_url(endpoint: str) -> str:
    """``OTEL_EXPORTER_OTLP_ENDPOINT`` is a base URL: traces go to ``<base>/v1/traces``."""
    return f"{endpoint.rstrip('/')}/{TRACES_PATH}"


def parse_headers(text: str) -> dict[str, str]:
    """Exporter headers as ``Name: value`` lines (the documented form, a YAML map) or as
    ``OTEL_EXPORTER_OTLP_HEADERS`` (``name=value`` pairs, comma-separated, values URL-encoded).
    """
    headers: dict[str, str] = {}
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    colon = [line for line in lines if ":" in line.split("=", 1)[0]]
    if colon and len(colon) == len(lines):
        for line in lines:
            name, value = line.split(":", 1)
            headers[name.strip()] = _unquoted(value.strip())
        return headers
    for pair in ",".join(lines).split(","):
        if "=" in pair:
            name, value = pair.split("=", 1)
            headers[urllib.parse.unquote(name.strip())] = urllib.parse.unquote(value.strip())
    return headers


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def secret_headers(secret_string: str, key: str) -> dict[str, str]:
    """The headers in a Secrets Manager ``SecretString``: a JSON object's ``key`` (a string of
    headers, or a map of them), or the whole string when it is not a JSON object."""
    try:
        document = json.loads(secret_string)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        return parse_headers(secret_string)
    value = document.get(key)
    if isinstance(value, dict):
        return {str(name): str(item) for name, item in value.items()}
    if isinstance(value, str):
        return parse_headers(value)
    raise KeyError(key)


class Exporter:
    """Posts one request's spans to the OTLP/HTTP endpoint; never raises.

    ``headers`` loads the exporter's headers (from Secrets Manager, in the Lambda): called once,
    at the first export or :meth:`load`; after a failure, again no sooner than ``retry_seconds``
    later, and nothing is sent meanwhile (a backend that needs them would refuse the spans).
    """

    def __init__(
        self,
        endpoint: str,
        resource: Mapping[str, Value],
        headers: Callable[[], Mapping[str, str]] | None = None,
        *,
        timeout: float = TIMEOUT_SECONDS,
        retry_seconds: float = 60.0,
    ) -> None:
        self.url = traces_url(endpoint)
        self.resource = dict(resource)
        self.timeout = timeout
        self.retry_seconds = retry_seconds
        self._load = headers
        self._headers: dict[str, str] | None = None if headers is not None else {}
        self._failed_at: float | None = None

    def load(self) -> dict[str, str] | None:
        """The headers, read now if they have not been; None while they cannot be read."""
        if self._headers is not None or self._load is None:
            return self._headers
        now = time.monotonic()
        if self._failed_at is not None and now - self._failed_at < self.retry_seconds:
            return None
        try:
            self._headers = dict(self._load())
        except Exception as error:
            self._failed_at = now
            LOG.warning("trace export headers unavailable: %s", type(error).__name__)
            return None
        return self._headers

    def export(self, spans: Sequence[Span]) -> bool:
        headers = self.load()
        if headers is None:
            return False
        body = json.dumps(encode(spans, self.resource), separators=(",", ":")).encode()
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={**headers, "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status = int(response.status)
        except urllib.error.HTTPError as error:
            status = error.code
            error.close()
        except Exception as error:  # unreachable, timed out, refused: the request goes on
            LOG.warning("trace export failed: %s", type(error).__name__)
            return False
        if not 200 <= status < 300:
            LOG.warning("trace export failed: HTTP %d", status)
            return False
        return True


class Tracer:
    """Starts each request's trace from its headers and exports the sampled ones."""

    def __init__(self, ratio: float, exporter: Exporter) -> None:
        self.ratio = ratio
        self.exporter = exporter

    def begin(self, event: Mapping[str, Any]) -> Trace:
        return Trace(parse_traceparent(header(event, "traceparent")), self.ratio)

    def export(self, trace: Trace) -> bool:
        if not trace.sampled or not trace.spans:
            return False
        try:
            return self.exporter.export(trace.spans)
        except Exception as error:  # nothing about traces may fail a request
            LOG.warning("trace export failed: %s", type(error).__name__)
            return False

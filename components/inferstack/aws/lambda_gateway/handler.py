"""The SageMaker gateway: screen the prompt, invoke the endpoint, screen the answer.

Runs on AWS Lambda (Python 3.12, the runtime's boto3) behind the API Gateway front door
(``AWS_PROXY``), or invoked directly with the request body as the event. Every request:

1. caps ``max_tokens`` (``parameters.max_new_tokens`` for TGI-style bodies) at the configured
   ceiling and refuses prompts over the length limit;
2. screens the prompt with Bedrock ``ApplyGuardrail`` (source ``INPUT``);
3. calls ``sagemaker-runtime:InvokeEndpoint``;
4. screens the answer (source ``OUTPUT``) unless output screening is off, or the request
   streams and output screening covers non-streaming responses only.

A guardrail that blocks answers ``400`` with the configured message; one that only masks
personal data (``ANONYMIZE``) lets the masked text through. The gateway fails closed: when
the guardrail cannot be reached the model is not called. Bodies are never logged.

With tracing (``OTEL_EXPORTER_OTLP_ENDPOINT`` set) every request also yields OpenTelemetry spans,
exported over OTLP/HTTP by ``otlp.py`` after the response is built: a SERVER span for the
request, with a CLIENT span per call (``ApplyGuardrail INPUT``, ``InvokeEndpoint``,
``ApplyGuardrail OUTPUT``). They carry the GenAI semantic conventions' request attributes, the
guard's verdict and which checks intervened, never the prompt, the answer or guardrail text.

Configuration (environment): ``INFERSTACK_ENDPOINT_NAME``, ``INFERSTACK_GUARDRAIL_ID``,
``INFERSTACK_GUARDRAIL_VERSION``, ``INFERSTACK_SCREEN_INPUT`` (true/false),
``INFERSTACK_SCREEN_OUTPUT`` (on, non_streaming, off), ``INFERSTACK_MAX_OUTPUT_TOKENS``,
``INFERSTACK_MAX_INPUT_CHARS`` (0: no limit), ``INFERSTACK_BLOCKED_MESSAGE``,
``INFERSTACK_TOOL_CALLING`` (false: requests carrying tools are refused); for tracing
``OTEL_EXPORTER_OTLP_ENDPOINT`` (the OTLP/HTTP base URL), ``OTEL_TRACES_SAMPLER_ARG`` (the
sampling ratio), ``OTEL_SERVICE_NAME``, and ``INFERSTACK_OTLP_HEADERS_SECRET_ID`` /
``INFERSTACK_OTLP_HEADERS_SECRET_KEY`` (the Secrets Manager secret holding the exporter's
headers, and the JSON key inside it; read once per execution environment).
"""

from __future__ import annotations

import base64
import importlib
import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

if __package__:
    from . import otlp
else:  # the Lambda's zip: handler.py and otlp.py side by side, imported as top-level modules
    otlp = importlib.import_module("otlp")

LOG = logging.getLogger("inferstack.gateway")
LOG.setLevel(logging.INFO)

INTERVENED = "GUARDRAIL_INTERVENED"
# Request fields that hand the model tools (OpenAI chat; TGI's Messages API accepts them too).
TOOL_KEYS = ("tools", "tool_choice", "functions", "function_call")
JSON = "application/json"
# OpenTelemetry semantic conventions: GenAI (gen_ai.*), errors, HTTP, and RPC for the AWS SDK
# calls (rpc.system aws-api; rpc.service is the botocore model's serviceId).
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
class Settings:
    endpoint_name: str
    guardrail_id: str
    guardrail_version: str
    screen_input: bool = True
    screen_output: str = "non_streaming"
    max_output_tokens: int = 2048
    max_input_chars: int = 0
    blocked_message: str = "This request was blocked by the content policy."
    tool_calling: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        return cls(
            endpoint_name=env["INFERSTACK_ENDPOINT_NAME"],
            guardrail_id=env["INFERSTACK_GUARDRAIL_ID"],
            guardrail_version=env["INFERSTACK_GUARDRAIL_VERSION"],
            screen_input=env.get("INFERSTACK_SCREEN_INPUT", "true") == "true",
            screen_output=env.get("INFERSTACK_SCREEN_OUTPUT", "non_streaming"),
            max_output_tokens=int(env.get("INFERSTACK_MAX_OUTPUT_TOKENS", "2048")),
            max_input_chars=int(env.get("INFERSTACK_MAX_INPUT_CHARS", "0")),
            blocked_message=env.get("INFERSTACK_BLOCKED_MESSAGE", cls.blocked_message),
            tool_calling=env.get("INFERSTACK_TOOL_CALLING", "false") == "true",
        )


class RefusedError(Exception):
    """A request answered without reaching the model (or without its answer)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Screened:
    """A guardrail verdict: blocked, or the texts to use (masked where it anonymized)."""

    blocked: bool
    texts: list[str]
    checks: list[str] = field(default_factory=list)


class Gateway:
    """The request path, with its clients injected (boto3 clients, or stubbed ones in tests)."""

    def __init__(
        self, settings: Settings, bedrock: Any, sagemaker: Any, tracer: otlp.Tracer | None = None
    ) -> None:
        self.settings = settings
        self.bedrock = bedrock
        self.sagemaker = sagemaker
        self.tracer = tracer

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        # Without a tracer the spans are still built (cheaply) but never sampled or sent.
        trace = self.tracer.begin(event) if self.tracer is not None else otlp.Trace(None, 0.0)
        root = trace.start(self.settings.endpoint_name, otlp.KIND_SERVER)
        root.set(MODEL, self.settings.endpoint_name)
        try:
            response = self._handle(_request_body(event), _Traced(trace, root))
        except RefusedError as refused:
            LOG.info("refused: %s (%d)", refused.code, refused.status)
            root.set("error.type", refused.code)
            response = _error(refused.status, refused.code, refused.message)
        except Exception as error:
            root.fail(type(error).__name__)
            self._close(trace, root)
            raise
        status = int(response["statusCode"])
        root.set(STATUS_CODE, status)
        if status >= 500:  # HTTP server spans: a 4xx is the caller's, not an error of the span
            root.status = otlp.STATUS_ERROR
        self._close(trace, root)
        return response

    def _close(self, trace: otlp.Trace, root: otlp.Span) -> None:
        """Ends the request's span with the guard's verdict and exports the trace if sampled.

        Synchronous: the execution environment freezes once the handler returns, so a
        background export would stall until the next request, or never run.
        """
        root.end()
        checks: set[str] = set()
        for span in trace.spans:
            value = span.attributes.get(CHECKS_ATTR)
            if isinstance(value, list):
                checks.update(value)
        root.set(BLOCKED_ATTR, root.attributes.get("error.type") == "content_blocked")
        if checks:
            root.set(CHECKS_ATTR, sorted(checks))
        if self.tracer is not None:
            self.tracer.export(trace)

    def _handle(self, body: dict[str, Any], traced: _Traced) -> dict[str, Any]:
        settings = self.settings
        streaming = bool(body.get("stream"))
        operation = _operation(body)
        if operation is not None:
            traced.root.name = f"{operation} {settings.endpoint_name}"
            traced.root.set(OPERATION, operation)
        if not settings.tool_calling and any(key in body for key in TOOL_KEYS):
            raise RefusedError(400, "tools_disabled", "tool calling is not enabled on this model")
        _cap_tokens(body, settings.max_output_tokens)
        traced.root.set(MAX_TOKENS, _max_tokens(body))
        prompts = _prompt_texts(body)
        if settings.max_input_chars and sum(map(len, prompts)) > settings.max_input_chars:
            raise RefusedError(
                400, "prompt_too_long", "the prompt is longer than this endpoint admits"
            )
        if settings.screen_input:
            verdict = self._screen("INPUT", prompts, traced)
            if verdict.blocked:
                raise RefusedError(400, "content_blocked", settings.blocked_message)
            _replace_prompts(body, verdict.texts)
        content_type, answer = self._invoke(body, traced)
        screen = settings.screen_output == "on" or (
            settings.screen_output == "non_streaming" and not streaming
        )
        if screen:
            answer = self._screen_answer(answer, streaming, traced)
        return {
            "statusCode": 200,
            "headers": {"Content-Type": content_type},
            "body": answer,
        }

    def _screen(self, source: str, texts: list[str], traced: _Traced) -> Screened:
        if not any(texts):
            return Screened(False, texts)
        with traced.trace.span(f"ApplyGuardrail {source}", otlp.KIND_CLIENT, traced.root) as span:
            _rpc(span, "Bedrock Runtime", "ApplyGuardrail")
            span.set(GUARDRAIL_ID, self.settings.guardrail_id)
            span.set(SOURCE_ATTR, source)
            try:
                result = self.bedrock.apply_guardrail(
                    guardrailIdentifier=self.settings.guardrail_id,
                    guardrailVersion=self.settings.guardrail_version,
                    source=source,
                    content=[{"text": {"text": text}} for text in texts],
                )
            except Exception as error:  # fail closed: nothing unscreened passes
                LOG.error("guardrail call failed: %s", type(error).__name__)
                span.fail(type(error).__name__)
                raise RefusedError(
                    502, "guardrail_unavailable", "the content guard is unavailable"
                ) from None
            verdict = _verdict(result, source, texts)
            span.set(ACTION_ATTR, str(result.get("action") or "NONE"))
            span.set(BLOCKED_ATTR, verdict.blocked)
            if verdict.checks:
                span.set(CHECKS_ATTR, verdict.checks)
            return verdict

    def _invoke(self, body: dict[str, Any], traced: _Traced) -> tuple[str, str]:
        with traced.trace.span("InvokeEndpoint", otlp.KIND_CLIENT, traced.root) as span:
            _rpc(span, "SageMaker Runtime", "InvokeEndpoint")
            span.set(MODEL, self.settings.endpoint_name)
            span.set(OPERATION, traced.root.attributes.get(OPERATION))
            span.set(MAX_TOKENS, traced.root.attributes.get(MAX_TOKENS))
            try:
                response = self.sagemaker.invoke_endpoint(
                    EndpointName=self.settings.endpoint_name,
                    ContentType=JSON,
                    Accept=JSON,
                    Body=json.dumps(body).encode(),
                )
            except Exception as error:
                status = _status(error)
                LOG.error("endpoint call failed: %s (%s)", type(error).__name__, status)
                span.fail(type(error).__name__)
                span.set(STATUS_CODE, status)
                if 400 <= status < 500 and type(error).__name__ != "ModelError":
                    raise RefusedError(
                        400, "invalid_request", "the model endpoint refused the request"
                    ) from None
                raise RefusedError(502, "model_error", "the model endpoint failed") from None
            payload = response["Body"].read().decode("utf-8")
            for key, value in _usage(payload).items():
                span.set(key, value)
                traced.root.set(key, value)
        return str(response.get("ContentType") or JSON), payload

    def _screen_answer(self, answer: str, streaming: bool, traced: _Traced) -> str:
        if streaming:
            # Buffered: the whole stream is screened as one text; masks cannot be mapped back.
            text = "".join(_stream_texts(answer))
            verdict = self._screen("OUTPUT", [text], traced)
            if verdict.blocked or verdict.texts != [text]:
                raise RefusedError(400, "content_blocked", self.settings.blocked_message)
            return answer
        try:
            parsed = json.loads(answer)
        except ValueError:
            raise RefusedError(
                502, "model_error", "the model endpoint answered with no JSON"
            ) from None
        texts = _answer_texts(parsed)
        verdict = self._screen("OUTPUT", texts, traced)
        if verdict.blocked:
            raise RefusedError(400, "content_blocked", self.settings.blocked_message)
        if verdict.texts == texts:
            return answer
        _replace_answers(parsed, verdict.texts)
        return json.dumps(parsed)


@dataclass(frozen=True)
class _Traced:
    """The request's trace and its SERVER span, which the calls' spans hang under."""

    trace: otlp.Trace
    root: otlp.Span


def _verdict(result: Mapping[str, Any], source: str, texts: list[str]) -> Screened:
    if result.get("action") != INTERVENED:
        return Screened(False, texts)
    checks = sorted(set(_checks(result.get("assessments", []))))
    masked = [str(output.get("text", "")) for output in result.get("outputs", [])]
    # Masking alone lets the text through; a block, or masks we cannot map back, does not.
    if "BLOCKED" in set(_actions(result.get("assessments", []))) or len(masked) != len(texts):
        LOG.info("guardrail blocked the %s", source.lower())
        return Screened(True, texts, checks)
    return Screened(False, masked, checks)


def _checks(value: Any, policy: str = "") -> Iterator[str]:
    """``policy`` or ``policy/TYPE`` of every assessment entry that acted (not ``NONE``).

    Only ``name`` (a denied topic's or a regex's configured name) and ``type`` (a Bedrock enum:
    PROMPT_ATTACK, EMAIL, ...) are read; ``match`` and the other fields echo the text screened.
    """
    if isinstance(value, list):
        for item in value:
            yield from _checks(item, policy)
        return
    if not isinstance(value, dict):
        return
    action = value.get("action")
    if policy and isinstance(action, str) and action != "NONE":
        kind = value.get("name") or value.get("type")
        yield f"{policy}/{kind}" if isinstance(kind, str) else policy
    for key, item in value.items():
        if isinstance(item, (dict, list)):
            yield from _checks(item, policy or key)


def _operation(body: Mapping[str, Any]) -> str | None:
    """The GenAI operation name: ``chat`` for messages, ``text_completion`` for a prompt."""
    if isinstance(body.get("messages"), list):
        return "chat"
    if isinstance(body.get("prompt"), str) or isinstance(body.get("inputs"), str):
        return "text_completion"
    return None


def _max_tokens(body: Mapping[str, Any]) -> int | None:
    parameters = body.get("parameters")
    value = parameters.get("max_new_tokens") if isinstance(parameters, dict) else None
    value = body.get("max_tokens", value)
    return value if isinstance(value, int) else None


def _rpc(span: otlp.Span, service: str, method: str) -> None:
    span.set("rpc.system", "aws-api")
    span.set("rpc.service", service)
    span.set("rpc.method", method)


def _usage(payload: str) -> dict[str, int]:
    """Token counts the answer reports (OpenAI ``usage``, TGI ``details``), streamed or not."""
    documents: list[Any] = []
    try:
        documents.append(json.loads(payload))
    except ValueError:
        for line in payload.splitlines():
            data = line.removeprefix("data:").strip() if line.startswith("data:") else ""
            if data.startswith("{"):
                try:
                    documents.append(json.loads(data))
                except ValueError:
                    continue
    usage: dict[str, int] = {}
    for document in documents:
        for item in document if isinstance(document, list) else [document]:
            if not isinstance(item, dict):
                continue
            counts = item.get("usage")
            if isinstance(counts, dict):
                for source, target in (
                    ("prompt_tokens", INPUT_TOKENS),
                    ("completion_tokens", OUTPUT_TOKENS),
                ):
                    if isinstance(counts.get(source), int):
                        usage[target] = counts[source]
            details = item.get("details")
            if isinstance(details, dict) and isinstance(details.get("generated_tokens"), int):
                usage[OUTPUT_TOKENS] = details["generated_tokens"]
    return usage


def _request_body(event: Mapping[str, Any]) -> dict[str, Any]:
    """The request: an API Gateway proxy event's body, or the event itself when invoked."""
    if "requestContext" in event or "httpMethod" in event:
        raw = event.get("body") or ""
        if event.get("isBase64Encoded"):
            raw = base64.b64decode(raw).decode("utf-8")
        try:
            body = json.loads(raw)
        except ValueError:
            raise RefusedError(400, "invalid_request", "the request body is not JSON") from None
    else:
        body = dict(event)
    if not isinstance(body, dict):
        raise RefusedError(400, "invalid_request", "the request body is not a JSON object")
    return body


def _cap_tokens(body: dict[str, Any], cap: int) -> None:
    """Every answer is bounded: missing or larger token limits become the cap."""

    def capped(value: Any) -> int:
        return min(value, cap) if isinstance(value, int) and value > 0 else cap

    if "inputs" in body:
        parameters = body.setdefault("parameters", {})
        if not isinstance(parameters, dict):
            raise RefusedError(400, "invalid_request", "parameters must be a JSON object")
        parameters["max_new_tokens"] = capped(parameters.get("max_new_tokens"))
        return
    body["max_tokens"] = capped(body.get("max_tokens"))
    if "max_completion_tokens" in body:
        body["max_completion_tokens"] = capped(body["max_completion_tokens"])


def _message_texts(message: Any) -> Iterator[tuple[Any, Any]]:
    """(holder, key) pairs of every text in one chat message, so masks can be written back."""
    if not isinstance(message, dict):
        raise RefusedError(400, "invalid_request", "every message must be a JSON object")
    content = message.get("content")
    if isinstance(content, str):
        yield message, "content"
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                yield part, "text"


def _prompt_slots(body: dict[str, Any]) -> list[tuple[Any, Any]]:
    if isinstance(body.get("messages"), list):
        return [slot for message in body["messages"] for slot in _message_texts(message)]
    for key in ("inputs", "prompt"):
        if isinstance(body.get(key), str):
            return [(body, key)]
    raise RefusedError(400, "invalid_request", "send messages, prompt or inputs")


def _prompt_texts(body: dict[str, Any]) -> list[str]:
    return [str(holder[key]) for holder, key in _prompt_slots(body)]


def _replace_prompts(body: dict[str, Any], texts: list[str]) -> None:
    for (holder, key), text in zip(_prompt_slots(body), texts, strict=True):
        holder[key] = text


def _answer_slots(parsed: Any) -> list[tuple[Any, Any]]:
    """Where the generated text sits: OpenAI chat or completions, or TGI/LMI native."""
    if isinstance(parsed, list):
        return [slot for item in parsed for slot in _answer_slots(item)]
    if not isinstance(parsed, dict):
        return []
    if isinstance(parsed.get("generated_text"), str):
        return [(parsed, "generated_text")]
    slots: list[tuple[Any, Any]] = []
    for choice in parsed.get("choices") or []:
        if not isinstance(choice, dict):
            continue
        message = choice.get("message")
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            slots.append((message, "content"))
        elif isinstance(choice.get("text"), str):
            slots.append((choice, "text"))
    return slots


def _answer_texts(parsed: Any) -> list[str]:
    return [str(holder[key]) for holder, key in _answer_slots(parsed)]


def _replace_answers(parsed: Any, texts: list[str]) -> None:
    for (holder, key), text in zip(_answer_slots(parsed), texts, strict=True):
        holder[key] = text


def _stream_texts(stream: str) -> Iterator[str]:
    """The generated text of a server-sent event stream (OpenAI deltas or TGI tokens)."""
    for line in stream.splitlines():
        if not line.startswith("data:"):
            continue
        data = line.removeprefix("data:").strip()
        if not data or data == "[DONE]":
            continue
        try:
            event = json.loads(data)
        except ValueError:
            yield data
            continue
        if not isinstance(event, dict):
            continue
        token = event.get("token")
        if isinstance(token, dict) and isinstance(token.get("text"), str):
            yield token["text"]
        for choice in event.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict) and isinstance(delta.get("content"), str):
                yield delta["content"]
            elif isinstance(choice.get("text"), str):
                yield choice["text"]


def _actions(value: Any) -> Iterator[str]:
    """Every ``action`` in a guardrail assessment (BLOCKED, ANONYMIZED, NONE), at any depth."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "action" and isinstance(item, str):
                yield item
            else:
                yield from _actions(item)
    elif isinstance(value, list):
        for item in value:
            yield from _actions(item)


def _status(error: Exception) -> int:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if isinstance(status, int):
            return status
    return 500


def _error(status: int, code: str, message: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": JSON},
        "body": json.dumps({"error": {"message": message, "type": code, "code": code}}),
    }


def tracer_from_env(env: Mapping[str, str], secrets: Any) -> otlp.Tracer | None:
    """The tracer the environment configures, or None without ``OTEL_EXPORTER_OTLP_ENDPOINT``.

    ``secrets`` is a Secrets Manager client; it is called only when a headers secret is named,
    once (at :meth:`otlp.Exporter.load`), and the value stays in memory only.
    """
    endpoint = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
    if not endpoint:
        return None
    secret_id = env.get("INFERSTACK_OTLP_HEADERS_SECRET_ID", "")
    key = env.get("INFERSTACK_OTLP_HEADERS_SECRET_KEY", "headers")

    def headers() -> dict[str, str]:
        value = secrets.get_secret_value(SecretId=secret_id)
        return otlp.secret_headers(str(value["SecretString"]), key)

    resource: dict[str, otlp.Value] = {
        "service.name": env.get("OTEL_SERVICE_NAME") or env.get("AWS_LAMBDA_FUNCTION_NAME", ""),
        "cloud.provider": "aws",
        "cloud.platform": "aws_lambda",
        "cloud.region": env.get("AWS_REGION", ""),
        "faas.name": env.get("AWS_LAMBDA_FUNCTION_NAME", ""),
    }
    exporter = otlp.Exporter(endpoint, resource, headers if secret_id else None)
    try:
        ratio = min(1.0, max(0.0, float(env.get("OTEL_TRACES_SAMPLER_ARG", "1.0"))))
    except ValueError:
        ratio = 1.0
    return otlp.Tracer(ratio, exporter)


def build_gateway(env: Mapping[str, str], client: Any, config: Any) -> Gateway:
    """The gateway of one execution environment, built at its cold start.

    ``client`` is ``boto3.client`` and ``config`` botocore's ``Config`` (stand-ins in tests).
    With tracing, the exporter's headers are read here, before the first request, in one
    attempt of at most about three seconds.
    """
    calls = config(
        connect_timeout=5, read_timeout=60, retries={"max_attempts": 2, "mode": "standard"}
    )
    tracer = None
    if env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        once = config(
            connect_timeout=1,
            read_timeout=2,
            retries={"total_max_attempts": 1, "mode": "standard"},
        )
        tracer = tracer_from_env(env, client("secretsmanager", config=once))
        if tracer is not None:
            tracer.exporter.load()
    return Gateway(
        Settings.from_env(env),
        client("bedrock-runtime", config=calls),
        client("sagemaker-runtime", config=calls),
        tracer,
    )


_GATEWAY: Gateway | None = None


def _gateway() -> Gateway:
    """One gateway per execution environment: clients are reused across invocations."""
    global _GATEWAY
    if _GATEWAY is None:
        _GATEWAY = build_gateway(
            os.environ,
            importlib.import_module("boto3").client,
            importlib.import_module("botocore.config").Config,
        )
    return _GATEWAY


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point."""
    return _gateway().handle(event)

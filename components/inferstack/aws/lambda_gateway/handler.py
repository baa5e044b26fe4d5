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

This module holds the settings, the request path and the entry point; its siblings, zipped
beside it and imported as top-level modules there, hold the rest: ``prompts.py`` (the request
body, its limits and prompt texts), ``guardrail.py`` (the ``ApplyGuardrail`` screen),
``endpoint.py`` (``InvokeEndpoint`` and the answer, streamed or not), ``refusals.py`` (the error
responses), ``spans.py`` (span attribute names) and ``otlp.py`` (the exporter).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

if __package__:
    from . import endpoint, guardrail, otlp, prompts, refusals, spans
else:  # the Lambda's zip: the modules side by side, imported as top-level modules
    endpoint = importlib.import_module("endpoint")
    guardrail = importlib.import_module("guardrail")
    otlp = importlib.import_module("otlp")
    prompts = importlib.import_module("prompts")
    refusals = importlib.import_module("refusals")
    spans = importlib.import_module("spans")

LOG = logging.getLogger("inferstack.gateway")
LOG.setLevel(logging.INFO)


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


class Gateway:
    """The request path, with its clients injected (boto3 clients, or stubbed ones in tests)."""

    def __init__(
        self, settings: Settings, bedrock: Any, sagemaker: Any, tracer: otlp.Tracer | None = None
    ) -> None:
        self.settings = settings
        self.bedrock = bedrock
        self.sagemaker = sagemaker
        self.tracer = tracer
        self.guardrail = guardrail.Guardrail(
            bedrock, settings.guardrail_id, settings.guardrail_version
        )
        self.endpoint = endpoint.Endpoint(sagemaker, settings.endpoint_name)

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        # Without a tracer the spans are still built (cheaply) but never sampled or sent.
        trace = self.tracer.begin(event) if self.tracer is not None else otlp.Trace(None, 0.0)
        root = trace.start(self.settings.endpoint_name, otlp.KIND_SERVER)
        root.set(spans.MODEL, self.settings.endpoint_name)
        try:
            response = self._handle(prompts.request_body(event), spans.Traced(trace, root))
        except refusals.RefusedError as refused:
            LOG.info("refused: %s (%d)", refused.code, refused.status)
            root.set("error.type", refused.code)
            response = refusals.error_response(refused.status, refused.code, refused.message)
        except Exception as error:
            root.fail(type(error).__name__)
            self._close(trace, root)
            raise
        status = int(response["statusCode"])
        root.set(spans.STATUS_CODE, status)
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
            value = span.attributes.get(spans.CHECKS_ATTR)
            if isinstance(value, list):
                checks.update(value)
        root.set(spans.BLOCKED_ATTR, root.attributes.get("error.type") == "content_blocked")
        if checks:
            root.set(spans.CHECKS_ATTR, sorted(checks))
        if self.tracer is not None:
            self.tracer.export(trace)

    def _handle(self, body: dict[str, Any], traced: spans.Traced) -> dict[str, Any]:
        settings = self.settings
        streaming = bool(body.get("stream"))
        operation = prompts.operation(body)
        if operation is not None:
            traced.root.name = f"{operation} {settings.endpoint_name}"
            traced.root.set(spans.OPERATION, operation)
        if not settings.tool_calling and any(key in body for key in prompts.TOOL_KEYS):
            raise refusals.RefusedError(
                400, "tools_disabled", "tool calling is not enabled on this model"
            )
        prompts.cap_tokens(body, settings.max_output_tokens)
        traced.root.set(spans.MAX_TOKENS, prompts.max_tokens(body))
        texts = prompts.prompt_texts(body)
        if settings.max_input_chars and sum(map(len, texts)) > settings.max_input_chars:
            raise refusals.RefusedError(
                400, "prompt_too_long", "the prompt is longer than this endpoint admits"
            )
        if settings.screen_input:
            verdict = self.guardrail.screen("INPUT", texts, traced)
            if verdict.blocked:
                raise refusals.RefusedError(400, "content_blocked", settings.blocked_message)
            prompts.replace_prompts(body, verdict.texts)
        content_type, answer = self.endpoint.invoke(body, traced)
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

    def _screen_answer(self, answer: str, streaming: bool, traced: spans.Traced) -> str:
        if streaming:
            # Buffered: the whole stream is screened as one text; masks cannot be mapped back.
            text = "".join(endpoint.stream_texts(answer))
            verdict = self.guardrail.screen("OUTPUT", [text], traced)
            if verdict.blocked or verdict.texts != [text]:
                raise refusals.RefusedError(400, "content_blocked", self.settings.blocked_message)
            return answer
        parsed = refusals.parse_json(
            answer, 502, "model_error", "the model endpoint answered with no JSON"
        )
        texts = endpoint.answer_texts(parsed)
        verdict = self.guardrail.screen("OUTPUT", texts, traced)
        if verdict.blocked:
            raise refusals.RefusedError(400, "content_blocked", self.settings.blocked_message)
        if verdict.texts == texts:
            return answer
        endpoint.replace_answers(parsed, verdict.texts)
        return json.dumps(parsed)


def tracer_from_env(env: Mapping[str, str], secrets: Any) -> otlp.Tracer | None:
    """The tracer the environment configures, or None without ``OTEL_EXPORTER_OTLP_ENDPOINT``.

    ``secrets`` is a Secrets Manager client; it is called only when a headers secret is named,
    once (at :meth:`otlp.Exporter.load`), and the value stays in memory only.
    """
    otlp_endpoint = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
    if not otlp_endpoint:
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
    exporter = otlp.Exporter(otlp_endpoint, resource, headers if secret_id else None)
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

"""Where prompt and completion text shows up in traces, by the names the emitters use.

The patterns are regular expressions in RE2 syntax (the collector's OTTL runs Go's regexp):
anchored, no look-around, no back-references. Each known name below comes from the emitter's
source; a test checks every content name is matched and no metadata name is.

- vLLM (``vllm/tracing.py``, ``SpanAttributes``): request metadata only (token counts, latencies,
  sampling parameters, request id); no prompt or completion text.
- LiteLLM proxy (``litellm/integrations/opentelemetry.py``): ``gen_ai.input.messages``,
  ``gen_ai.output.messages``, ``gen_ai.system_instructions`` (OpenTelemetry GenAI semantic
  conventions 1.38); tool calls as ``gen_ai.completion.<i>.function_call.<field>``; older
  releases ``gen_ai.prompt.<i>.content`` / ``gen_ai.completion.<i>.content``; the raw provider
  payload on the ``raw_gen_ai_request`` span as ``llm.<provider>.<field>`` (``messages``,
  ``choices``, ``stringified_raw_response``...); and the guard's answer on its ``guardrail`` span
  as ``guardrail_response`` (scanners echo the text they flagged or masked).
- OpenInference (Arize/Phoenix callbacks): ``input.value``, ``output.value``,
  ``llm.input_messages.*``, ``llm.output_messages.*``, ``llm.prompts``.
- OpenLLMetry / Traceloop: ``llm.prompts.*``, ``llm.completions.*``, ``gen_ai.prompt.*``,
  ``gen_ai.completion.*``.
- Langfuse's OpenTelemetry attributes: ``langfuse.observation.input`` / ``.output`` and
  ``langfuse.trace.input`` / ``.output``.
- Span events of the GenAI conventions before 1.38: ``gen_ai.content.prompt`` (attribute
  ``gen_ai.prompt``), ``gen_ai.content.completion`` (``gen_ai.completion``); 1.28 to 1.36:
  ``gen_ai.{system,user,assistant,tool}.message`` and ``gen_ai.choice``; 1.38:
  ``gen_ai.client.inference.operation.details`` (carries the input and output messages).
"""

from __future__ import annotations

from typing import Final

COLLECTOR_COMPONENT: Final = "otel-collector"
"""``app.kubernetes.io/component`` of the collector's objects."""
CONFIG_KEY: Final = "relay"
"""Key of the collector's ConfigMap that holds its configuration (YAML)."""
DROP_EVENTS: Final = "filter/drop-content-events"
DROP_ATTRIBUTES: Final = "transform/drop-content"
CONTENT_PROCESSORS: Final = (DROP_EVENTS, DROP_ATTRIBUTES)
"""The processors that drop content; in every traces pipeline unless content is captured."""
RETENTION_ANNOTATION: Final = "inferstack.dev/trace-content-retention-days"
"""On the collector's ConfigMap when content is captured: how long the backend keeps it."""

CONTENT_ATTRIBUTE_PATTERNS: Final[tuple[str, ...]] = (
    # GenAI semantic conventions, current and earlier, and OpenLLMetry's indexed form.
    r"^gen_ai\.(input|output)\.messages$",
    r"^gen_ai\.system_instructions$",
    r"^gen_ai\.(prompt|completion)s?(\..+)?$",
    r"^gen_ai\.prompt_template\.variables$",
    r"^gen_ai\.tool\.call\.(arguments|result)$",
    # OpenInference and OpenLLMetry.
    r"^(input|output)\.value$",
    r"^llm\.(input|output)_messages(\..+)?$",
    r"^llm\.(prompts|completions)(\..+)?$",
    r"^llm\.prompt_template\.variables$",
    # LiteLLM's raw provider request and response (llm.<provider>.<field>). ``prompt`` only for
    # the providers a gateway here calls: OpenInference's llm.token_count.prompt is a count.
    r"^llm\.[A-Za-z0-9_-]+\.(messages|input|system|contents?|choices|output"
    r"|stringified_raw_response)$",
    r"^llm\.(openai|hosted_vllm|text-completion-openai|bedrock|sagemaker|azure|azure_ai"
    r"|vertex_ai)\.prompt$",
    # What a guard returns about the text it screened.
    r"^guardrail_response$",
    # Langfuse's own attributes.
    r"^langfuse\.(observation|trace)\.(input|output)$",
)
"""Span and span-event attribute keys that hold prompt or completion text."""

CONTENT_EVENT_PATTERN: Final = (
    r"^gen_ai\.(content\.(prompt|completion)|(system|user|assistant|tool)\.message|choice"
    r"|client\.inference\.operation\.details)$"
)
"""Names of span events whose purpose is to carry message content."""

KNOWN_CONTENT_ATTRIBUTES: Final[tuple[str, ...]] = (
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.prompt",
    "gen_ai.completion",
    "gen_ai.prompt.0.content",
    "gen_ai.prompt.0.role",
    "gen_ai.completion.0.content",
    "gen_ai.completion.0.function_call.arguments",
    "gen_ai.prompts",
    "gen_ai.completions",
    "gen_ai.prompt_template.variables",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
    "input.value",
    "output.value",
    "llm.input_messages.0.message.content",
    "llm.output_messages.0.message.content",
    "llm.prompts",
    "llm.prompts.0.content",
    "llm.completions.0.content",
    "llm.prompt_template.variables",
    "llm.hosted_vllm.messages",
    "llm.openai.messages",
    "llm.openai.choices",
    "llm.bedrock.system",
    "llm.openai.stringified_raw_response",
    "llm.hosted_vllm.prompt",
    "guardrail_response",
    "langfuse.observation.input",
    "langfuse.observation.output",
    "langfuse.trace.input",
    "langfuse.trace.output",
)
"""Attribute keys the emitters above write content under (the patterns must drop each)."""

KNOWN_METADATA_ATTRIBUTES: Final[tuple[str, ...]] = (
    # vLLM's SpanAttributes, all of them.
    "gen_ai.usage.completion_tokens",
    "gen_ai.usage.prompt_tokens",
    "gen_ai.request.max_tokens",
    "gen_ai.request.top_p",
    "gen_ai.request.temperature",
    "gen_ai.response.model",
    "gen_ai.request.id",
    "gen_ai.request.n",
    "gen_ai.usage.num_sequences",
    "gen_ai.latency.time_in_queue",
    "gen_ai.latency.time_to_first_token",
    "gen_ai.latency.e2e",
    "gen_ai.latency.time_in_scheduler",
    "gen_ai.latency.time_in_model_forward",
    "gen_ai.latency.time_in_model_execute",
    "gen_ai.latency.time_in_model_prefill",
    "gen_ai.latency.time_in_model_decode",
    "gen_ai.latency.time_in_model_inference",
    # LiteLLM's request metadata.
    "gen_ai.request.model",
    "gen_ai.system",
    "gen_ai.operation.name",
    "gen_ai.response.id",
    "gen_ai.response.finish_reasons",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.total_tokens",
    "gen_ai.cost.total_cost",
    "llm.request.type",
    "llm.is_streaming",
    "llm.usage.total_tokens",
    "llm.response.finish_reason",
    "guardrail_name",
    "guardrail_mode",
    "masked_entity_count",
    # OpenInference token counts and model name.
    "llm.token_count.prompt",
    "llm.token_count.completion",
    "llm.model_name",
)
"""Attribute keys that carry no content and must survive (what traces are for)."""

KNOWN_CONTENT_EVENTS: Final[tuple[str, ...]] = (
    "gen_ai.content.prompt",
    "gen_ai.content.completion",
    "gen_ai.system.message",
    "gen_ai.user.message",
    "gen_ai.assistant.message",
    "gen_ai.tool.message",
    "gen_ai.choice",
    "gen_ai.client.inference.operation.details",
)
"""Span event names that carry content (the event pattern must drop each)."""

"""The collector configuration: valid for the pinned release, and dropping content by default.

No binary of the pinned collector release is installable here (PyPI, npm and Debian ship
none; ``otelcol-contrib validate`` cannot run), so the rendered YAML is checked against
tests/fixtures/otelcol/contrib-0.144.0.yaml, a transcription of the components' config structs
(unknown keys rejected, as the collector's decoder does), with the service's own reference checks
(every pipeline component defined) and each OTTL statement's shape, function and path checked
against the same release. The regular expressions are compiled and matched with RE2 (google-re2),
the engine family whose syntax Go's regexp implements. What this cannot show is the processor
running: the pipeline order and the statements are asserted, not executed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import re2  # type: ignore[import-untyped]
import yaml

from inferstack.deployment.operations import TracingSpec
from inferstack.tracing.collector import (
    COLLECTOR_IMAGE,
    HEADERS_ENV,
    collector_config,
    collector_config_yaml,
    export_port,
)
from inferstack.tracing.content import (
    CONTENT_ATTRIBUTE_PATTERNS,
    CONTENT_EVENT_PATTERN,
    CONTENT_PROCESSORS,
    DROP_ATTRIBUTES,
    DROP_EVENTS,
    KNOWN_CONTENT_ATTRIBUTES,
    KNOWN_CONTENT_EVENTS,
    KNOWN_METADATA_ATTRIBUTES,
)

SCHEMA = yaml.safe_load(
    (Path(__file__).parents[1] / "fixtures" / "otelcol" / "contrib-0.144.0.yaml").read_text()
)
ENV_REF = re.compile(r"\$\{env:[A-Za-z_][A-Za-z0-9_]*\}")
DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")
OTTL_STRING = r'"(?:[^"\\]|\\.)*"'
EDITOR_CALL = re.compile(rf"^([a-z_]+)\(([a-z_]+), ({OTTL_STRING})\)$")
CONVERTER_CALL = re.compile(rf"^([A-Z][A-Za-z0-9]*)\(([a-z_]+), ({OTTL_STRING})\)$")
SPEC = TracingSpec(endpoint="https://langfuse.example.com/api/public/otel")
WITH_HEADERS = TracingSpec(
    endpoint="https://langfuse.example.com/api/public/otel",
    headers_secret={"name": "langfuse-otlp", "key": "headers"},  # type: ignore[arg-type]
    sampling_ratio=0.25,
)
CAPTURED = TracingSpec(
    endpoint="https://langfuse.example.com/api/public/otel",
    capture_content=True,
    content_retention_days=30,
)


def go_unquote(literal: str) -> str:
    """An OTTL string literal's value, as Go's strconv.Unquote reads it (bad escapes raise)."""
    escapes = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "r": "\r"}
    body, out, index = literal[1:-1], [], 0
    while index < len(body):
        char = body[index]
        if char == "\\":
            following = body[index + 1]
            if following not in escapes:
                raise ValueError(f"invalid escape \\{following} in {literal}")
            out.append(escapes[following])
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


def _scalar_ok(value: Any, kind: str) -> bool:
    checks = {
        "string": lambda v: isinstance(v, str),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "bool": lambda v: isinstance(v, bool),
        "duration": lambda v: isinstance(v, str) and bool(DURATION.match(v)),
        "strings": lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
        "map": lambda v: isinstance(v, dict) and all(isinstance(i, str) for i in v.values()),
        "ottl_conditions": lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
        "ottl_statements": lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
    }
    return checks[kind](value)


def schema_errors(value: Any, schema: Any, path: str) -> list[str]:
    """Every way ``value`` departs from ``schema`` (see the fixture's header)."""
    if isinstance(value, str) and ENV_REF.fullmatch(value):
        return []  # a whole-value ${env:...} is parsed as YAML at load: any type
    if isinstance(schema, str):
        if schema in SCHEMA["types"]:
            return schema_errors(value, SCHEMA["types"][schema], path)
        return [] if _scalar_ok(value, schema) else [f"{path}: not a {schema}: {value!r}"]
    if isinstance(schema, list):
        if not isinstance(value, list):
            return [f"{path}: not a list"]
        return [
            e
            for i, item in enumerate(value)
            for e in schema_errors(item, schema[0], f"{path}[{i}]")
        ]
    if set(schema) == {"enum"}:
        return [] if value in schema["enum"] else [f"{path}: {value!r} not in {schema['enum']}"]
    if not isinstance(value, dict):
        return [f"{path}: not a mapping"]
    errors = [f"{path}.{key}: unknown key" for key in value if key not in schema]
    return errors + [
        e
        for key, item in value.items()
        if key in schema
        for e in schema_errors(item, schema[key], f"{path}.{key}")
    ]


def config_errors(config: dict[str, Any]) -> list[str]:
    """What the pinned collector would refuse: unknown components or keys, broken references."""
    errors: list[str] = []
    for section in ("receivers", "processors", "exporters", "extensions"):
        for component_id, settings in config.get(section, {}).items():
            kind = component_id.split("/", 1)[0]
            if kind not in SCHEMA[section]:
                errors.append(f"{section}.{component_id}: no such component in {SCHEMA['release']}")
                continue
            errors += schema_errors(
                settings or {}, SCHEMA[section][kind], f"{section}.{component_id}"
            )
    service = config["service"]
    errors += [
        f"service: unknown key {key}"
        for key in service
        if key not in ("extensions", "pipelines", "telemetry")
    ]
    errors += [
        f"service.extensions: {e} undefined"
        for e in service.get("extensions", [])
        if e not in config.get("extensions", {})
    ]
    for name, pipeline in service["pipelines"].items():
        assert name.split("/")[0] in ("traces", "metrics", "logs")
        for section in ("receivers", "processors", "exporters"):
            for component_id in pipeline.get(section, []):
                if component_id not in config.get(section, {}):
                    errors.append(f"service.pipelines.{name}.{section}: {component_id} undefined")
        if not pipeline.get("receivers") or not pipeline.get("exporters"):
            errors.append(f"service.pipelines.{name}: needs receivers and exporters")
    return errors


def ottl_errors(
    call: str, pattern: re.Pattern[str], functions: list[str], context: str
) -> list[str]:
    """The shape ``fn(path, "literal")``: function and path known in the release, regex RE2."""
    match = pattern.match(call)
    if match is None:
        return [f"{call}: not a call of the expected shape"]
    function, path, literal = match.groups()
    errors = []
    if function not in functions:
        errors.append(f"{call}: {function} is not an OTTL function of {SCHEMA['release']}")
    if path not in SCHEMA["ottl"]["paths"][context]:
        errors.append(f"{call}: {path} is not a path of the {context} context")
    try:
        re2.compile(go_unquote(literal))
    except (ValueError, re2.error) as error:
        errors.append(f"{call}: {error}")
    return errors


def rendered_regexes(config: dict[str, Any], context: str) -> list[str]:
    for group in config["processors"][DROP_ATTRIBUTES]["trace_statements"]:
        if group["context"] == context:
            return [go_unquote(EDITOR_CALL.match(s).group(3)) for s in group["statements"]]  # type: ignore[union-attr]
    raise AssertionError(f"no {context} statements")


@pytest.mark.parametrize(
    "tracing", [SPEC, WITH_HEADERS, CAPTURED], ids=["default", "headers", "captured"]
)
def test_config_is_valid_for_the_pinned_release(tracing: TracingSpec) -> None:
    # The YAML the ConfigMap carries, read back: what the collector itself loads.
    config = yaml.safe_load(collector_config_yaml(tracing))
    assert config_errors(config) == []


def test_the_validation_refuses_what_the_collector_refuses() -> None:
    config = collector_config(SPEC)
    config["processors"]["batch"]["send_batch_sise"] = 10
    config["exporters"]["otlphttp"]["compression"] = "brotli"
    config["service"]["pipelines"]["traces"]["processors"].append("attributes/missing")
    errors = sorted(config_errors(config))
    assert errors[0].startswith("exporters.otlphttp.compression: 'brotli' not in [")
    assert errors[1:] == [
        "processors.batch.send_batch_sise: unknown key",
        "service.pipelines.traces.processors: attributes/missing undefined",
    ]


def test_ottl_statements_and_conditions_parse_for_the_pinned_release() -> None:
    config = yaml.safe_load(collector_config_yaml(SPEC))
    ottl = SCHEMA["ottl"]
    errors = [
        error
        for group in config["processors"][DROP_ATTRIBUTES]["trace_statements"]
        for statement in group["statements"]
        for error in ottl_errors(statement, EDITOR_CALL, ottl["editors"], group["context"])
    ]
    errors += [
        error
        for condition in config["processors"][DROP_EVENTS]["traces"]["spanevent"]
        for error in ottl_errors(condition, CONVERTER_CALL, ottl["converters"], "spanevent")
    ]
    assert errors == []
    # An unescaped backslash is refused (Go's Unquote), so the check can fail.
    assert ottl_errors(
        'delete_matching_keys(attributes, "^a\\.b$")', EDITOR_CALL, ottl["editors"], "span"
    )


def test_content_is_dropped_before_sampling_batching_and_export() -> None:
    config = yaml.safe_load(collector_config_yaml(SPEC))
    pipeline = config["service"]["pipelines"]["traces"]
    processors = pipeline["processors"]
    assert processors[0] == "memory_limiter"
    assert processors[1:3] == list(CONTENT_PROCESSORS)
    assert processors[3:] == ["probabilistic_sampler", "batch"]
    assert pipeline["exporters"] == ["otlphttp"]
    # Both span attributes and span-event attributes, for every pattern.
    for context in ("span", "spanevent"):
        assert rendered_regexes(config, context) == list(CONTENT_ATTRIBUTE_PATTERNS)
    assert config["processors"][DROP_ATTRIBUTES]["error_mode"] == "ignore"


@pytest.mark.parametrize("context", ["span", "spanevent"])
def test_rendered_statements_match_every_known_content_attribute_and_no_metadata(
    context: str,
) -> None:
    regexes = [
        re2.compile(r)
        for r in rendered_regexes(yaml.safe_load(collector_config_yaml(SPEC)), context)
    ]
    kept = [key for key in KNOWN_CONTENT_ATTRIBUTES if not any(r.search(key) for r in regexes)]
    dropped = [key for key in KNOWN_METADATA_ATTRIBUTES if any(r.search(key) for r in regexes)]
    assert kept == []
    assert dropped == []


def test_rendered_event_condition_drops_content_events_only() -> None:
    config = yaml.safe_load(collector_config_yaml(SPEC))
    (condition,) = config["processors"][DROP_EVENTS]["traces"]["spanevent"]
    regex = re2.compile(go_unquote(CONVERTER_CALL.match(condition).group(3)))  # type: ignore[union-attr]
    assert go_unquote(CONVERTER_CALL.match(condition).group(3)) == CONTENT_EVENT_PATTERN  # type: ignore[union-attr]
    assert [e for e in KNOWN_CONTENT_EVENTS if not regex.search(e)] == []
    # vLLM's request-journey events and exceptions stay.
    assert not any(regex.search(e) for e in ("exception", "QUEUED", "gen_ai.request.journey"))


def test_capture_content_keeps_the_content_and_nothing_else_changes() -> None:
    captured = collector_config(CAPTURED)
    processors = captured["service"]["pipelines"]["traces"]["processors"]
    assert processors == ["memory_limiter", "probabilistic_sampler", "batch"]
    assert not set(CONTENT_PROCESSORS) & set(captured["processors"])


def test_sampling_headers_and_export() -> None:
    config = collector_config(WITH_HEADERS)
    assert config["processors"]["probabilistic_sampler"]["sampling_percentage"] == 25.0
    assert config["processors"]["probabilistic_sampler"]["mode"] == "hash_seed"
    exporter = config["exporters"]["otlphttp"]
    assert exporter["endpoint"] == "https://langfuse.example.com/api/public/otel"
    assert exporter["headers"] == f"${{env:{HEADERS_ENV}}}"
    assert "headers" not in collector_config(SPEC)["exporters"]["otlphttp"]
    receivers = config["receivers"]["otlp"]["protocols"]
    assert receivers["grpc"]["endpoint"].endswith(":4317")
    assert receivers["http"]["endpoint"].endswith(":4318")


def test_patterns_are_re2_and_anchored() -> None:
    for pattern in (*CONTENT_ATTRIBUTE_PATTERNS, CONTENT_EVENT_PATTERN):
        re2.compile(pattern)
        assert pattern.startswith("^") and pattern.endswith("$")


def test_image_is_digest_pinned_to_the_schema_release() -> None:
    assert re.fullmatch(
        rf"otel/opentelemetry-collector-contrib:{re.escape(SCHEMA['release'])}@sha256:[0-9a-f]{{64}}",
        COLLECTOR_IMAGE,
    )


@pytest.mark.parametrize(
    ("endpoint", "port"),
    [
        ("https://a.example/otel", 443),
        ("http://a.example/otel", 80),
        ("https://a.example:8443/x", 8443),
    ],
)
def test_export_port(endpoint: str, port: int) -> None:
    assert export_port(endpoint) == port

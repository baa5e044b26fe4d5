"""OpenTelemetry tracing that keeps prompts private: what carries content, and the collector.

Target-independent and pure: :mod:`inferstack.tracing.content` lists the span attributes and
span events the serving runtimes and gateways put prompt and completion text in, and the names
the collector's configuration and the policy rules agree on; :mod:`inferstack.tracing.collector`
renders the OpenTelemetry Collector configuration that drops them (unless
``observability.tracing.capture_content``), samples and exports over OTLP/HTTP. Importing this
package loads neither the spec models nor a cloud SDK (the policy packs read the contract).
"""

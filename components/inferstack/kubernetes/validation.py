"""What an on-prem LLMService cannot do with a spec, checked before anything is registered."""

from __future__ import annotations

import re

from inferstack.deployment import DeploymentSpec
from inferstack.deployment.targets import require_runtime
from inferstack.errors import SpecError
from inferstack.kubernetes.metrics import RUNTIME_METRICS
from inferstack.kubernetes.runtime_data import GGUF_RUNTIMES, SUPPORTED_RUNTIMES
from inferstack.kubernetes.server_commands import TOOL_PARSER_FLAG, tool_call_parser
from inferstack.kubernetes.tracing import check_tracing

_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
MAX_NAME = 40  # leaves room for suffixes such as -allow-ingress-controller


def check_service(name: str, spec: DeploymentSpec) -> None:
    """Raise SpecError for anything the Kubernetes target cannot serve as written."""
    if len(name) > MAX_NAME or not _DNS_LABEL.match(name):
        raise SpecError(
            "name",
            f"component name '{name}' is not a DNS label of at most {MAX_NAME} characters",
            "use lowercase letters, digits and '-', starting with a letter",
        )
    _check_runtime(spec)
    _check_declared(spec)
    _check_source(spec)
    _check_scaling(spec)
    _check_labels(spec)
    check_tracing(spec)
    hostname = spec.security.network.hostname
    if hostname is not None and (len(hostname) > 253 or not _DNS_SUBDOMAIN.match(hostname)):
        raise SpecError(
            "security.network.hostname", f"'{hostname}' is not a DNS name", "e.g. llm.example.com"
        )


def _check_declared(spec: DeploymentSpec) -> None:
    """serving.trust_remote_code and tool_calling, where the runtime has them."""
    serving = spec.serving
    if serving.trust_remote_code and serving.runtime not in ("vllm", "tgi"):
        raise SpecError(
            "serving.trust_remote_code",
            f"{serving.runtime} runs no Python code from the model repository",
            "remove it, or use serving.runtime: vllm or tgi",
        )
    given = any(arg.split("=", 1)[0] == TOOL_PARSER_FLAG for arg in serving.extra_args)
    if (
        serving.tool_calling
        and serving.runtime == "vllm"
        and not given
        and tool_call_parser(spec.model.id) is None
    ):
        raise SpecError(
            "serving.tool_calling",
            f"vLLM needs a tool-call parser for '{spec.model.id}', and its family is not known",
            f"add {TOOL_PARSER_FLAG} <parser> to serving.extra_args (vLLM docs, Tool Calling)",
        )


def _check_runtime(spec: DeploymentSpec) -> None:
    runtime = require_runtime(spec, SUPPORTED_RUNTIMES, "Kubernetes workload in inferstack")
    gguf = spec.model.dtype.startswith("gguf-")
    if runtime in GGUF_RUNTIMES and not gguf:
        raise SpecError(
            "model.dtype",
            f"{runtime} serves GGUF files, not '{spec.model.dtype}'",
            "use gguf-q4_k_m, gguf-q5_k_m or gguf-q8_0, or serving.runtime: vllm",
        )
    if gguf and runtime not in GGUF_RUNTIMES:
        raise SpecError(
            "model.dtype",
            f"'{spec.model.dtype}' is a GGUF format, which {runtime} does not serve",
            "use serving.runtime: llamacpp or ollama, or a safetensors dtype such as bf16",
        )
    if spec.security.auth == "api_key" and runtime == "ollama":
        raise SpecError(
            "security.auth",
            "Ollama has no API key check",
            "use oidc or mtls (enforced by the ingress), or serving.runtime: vllm",
        )


def _check_source(spec: DeploymentSpec) -> None:
    source = spec.model.source
    if source is not None and source.startswith("s3://"):
        raise SpecError(
            "model.source",
            "s3:// sources are not downloaded on Kubernetes",
            "use hf://<org>/<name>@<revision>, or copy the weights to a PVC and use pvc://",
        )
    if spec.serving.runtime in GGUF_RUNTIMES and source is None:
        raise SpecError(
            "model.source",
            f"{spec.serving.runtime} needs a repository of GGUF files, which '{spec.model.id}' "
            "may not be",
            "set source: hf://<org>/<name>-GGUF@<revision>",
        )


def _check_scaling(spec: DeploymentSpec) -> None:
    scaling = spec.scaling
    metric = scaling.target.metric
    if metric == "gpu_utilization":
        return
    autoscaled = scaling.scale_to_zero or scaling.max_replicas > spec.min_replicas
    exported = RUNTIME_METRICS.get(spec.serving.runtime)
    if scaling.scale_to_zero and exported is None:
        raise SpecError(
            "scaling.scale_to_zero",
            f"{spec.serving.runtime} exports no metrics to scale on",
            "use scaling.target.metric: gpu_utilization, or serving.runtime: vllm",
        )
    if exported is not None and metric == "invocations" and not exported.requests:
        raise SpecError(
            "scaling.target.metric",
            f"{spec.serving.runtime} exports no request counter",
            "use concurrency or queue_depth",
        )
    if autoscaled and exported is not None and not spec.observability.metrics:
        raise SpecError(
            "observability.metrics",
            "is off, which leaves the autoscaler without its load metric",
            "set metrics: true, or max_replicas equal to min_replicas",
        )


def _check_labels(spec: DeploymentSpec) -> None:
    for key, value in spec.labels().items():
        prefix, _, label = key.rpartition("/")
        valid_key = (
            bool(label)
            and len(label) <= 63
            and bool(_LABEL_NAME.match(label))
            and (not prefix or (len(prefix) <= 253 and bool(_DNS_SUBDOMAIN.match(prefix))))
        )
        if not valid_key:
            raise SpecError(
                f"tags.{key}",
                "is not a valid Kubernetes label key",
                "use [prefix/]name with letters, digits, '-', '_' and '.'",
            )
        if value and (len(value) > 63 or not _LABEL_NAME.match(value)):
            raise SpecError(
                f"tags.{key}",
                f"'{value}' is not a valid Kubernetes label value",
                "use at most 63 letters, digits, '-', '_' and '.'",
            )

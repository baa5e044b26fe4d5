"""The serving container Vertex AI runs: image, arguments, routes, port and probes.

Vertex AI hands a custom container its settings as command-line arguments and environment
variables that ``GetModel`` shows to anyone allowed to read the model, so nothing secret lands
here. The weights come from Cloud Storage (the CMEK model bucket); the image comes through an
Artifact Registry repository in the region, pinned by digest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from inferstack import catalog
from inferstack.deployment import DeploymentSpec
from inferstack.deployment.targets import (
    Hardware,
    model_info,
    require_runtime,
    serving_context,
)
from inferstack.errors import SpecError
from inferstack.vertex.names import Names

VERTEX_RUNTIMES = ("vllm", "tgi")
VLLM_DTYPES = {"bf16": "bfloat16", "fp16": "float16"}
TGI_DTYPES = {"bf16": "bfloat16", "fp16": "float16"}
CHAT_ROUTE = "/v1/chat/completions"
_IMAGE = re.compile(
    r"^((?P<host>[a-z0-9.-]+\.[a-z]{2,}(:\d+)?)/)?(?P<path>[a-z0-9][a-z0-9._/-]*?)"
    r"(:(?P<tag>[\w.-]+))?@(?P<digest>sha256:[0-9a-f]{64})$"
)
_ARTIFACT_REGISTRY = re.compile(r"^[a-z0-9-]+-docker\.pkg\.dev$")


@dataclass(frozen=True)
class ModelSource:
    """Where Vertex AI reads the weights: a Cloud Storage prefix, in the model bucket or not."""

    bucket: str
    prefix: str
    in_model_bucket: bool

    @property
    def uri(self) -> str:
        return f"gs://{self.bucket}/{self.prefix}"


@dataclass(frozen=True)
class Upstream:
    """The registry an Artifact Registry remote repository proxies and caches."""

    docker_hub: bool
    uri: str | None


@dataclass(frozen=True)
class Container:
    image: str
    upstream: Upstream | None
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    port: int
    predict_route: str
    health_route: str
    deployment_timeout_seconds: int
    shared_memory_mb: int


def model_source(spec: DeploymentSpec, bucket: str) -> ModelSource:
    source = spec.model.source or f"hf://{spec.model.id}"
    if source.startswith("gs://"):
        name, _, prefix = source.removeprefix("gs://").partition("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return ModelSource(name, prefix, in_model_bucket=False)
    if source.startswith("hf://"):
        model_id = source.removeprefix("hf://").split("@", 1)[0]
        # Weights are staged in the model bucket under the model id and, when pinned, the
        # revision; the bucket keeps versions, so a staged copy cannot change unnoticed.
        revision = spec.model.revision
        prefix = f"{model_id}/{revision}/" if revision else f"{model_id}/"
        return ModelSource(bucket, prefix, in_model_bucket=True)
    raise SpecError(
        "model.source",
        f"'{source}' is not readable by Vertex AI",
        "stage the weights in Cloud Storage: gs://<bucket>/<prefix>/ or hf://<org>/<name>@<rev> "
        "(staged in the model bucket)",
    )


def container(
    spec: DeploymentSpec,
    hardware: Hardware,
    source: ModelSource,
    project: str,
    region: str,
    names: Names,
) -> Container:
    runtime = require_runtime(spec, VERTEX_RUNTIMES, "Vertex AI serving image")
    if spec.model.dtype.startswith("gguf"):
        raise SpecError(
            "model.dtype",
            f"{spec.model.dtype} is a llama.cpp format, which vLLM and TGI do not serve",
            "use bf16, fp8, int4-awq or int4-gptq weights",
        )
    image, upstream = _image(spec, project, region, names)
    port = spec.serving.port
    health = catalog.runtime(runtime).health_path
    args = _vllm_args(spec, hardware, source) if runtime == "vllm" else _tgi_args(spec, hardware)
    args += _declared_flags(spec)
    env = (
        ("HF_HUB_OFFLINE", "1"),
        ("HF_HUB_DISABLE_TELEMETRY", "1"),
        ("DO_NOT_TRACK", "1"),
        ("VLLM_NO_USAGE_STATS", "1"),
    )
    return Container(
        image=image,
        upstream=upstream,
        args=(*args, f"--port={port}", *spec.serving.extra_args),
        env=env,
        port=port,
        predict_route=CHAT_ROUTE,
        health_route=health,
        deployment_timeout_seconds=deployment_timeout(spec),
        # Tensor parallelism exchanges tensors through /dev/shm.
        shared_memory_mb=min(16_384, 2048 * max(1, hardware.gpu_count)),
    )


def deployment_timeout(spec: DeploymentSpec) -> int:
    """Seconds Vertex AI waits for the container to report healthy, from the weights' size.

    Ten minutes for the image plus about 30 MB/s to stream the weights onto the GPUs, within
    the 10 minutes to 2 hours Vertex AI accepts.
    """
    size = model_info(spec).parameters_b * catalog.dtypes()[spec.model.dtype].bytes_per_param
    return max(600, min(7200, round(600 + 35 * size)))


def _image(
    spec: DeploymentSpec, project: str, region: str, names: Names
) -> tuple[str, Upstream | None]:
    runtime = catalog.runtime(spec.serving.runtime)
    given = spec.serving.image
    if given is None:
        if runtime.digest is None:
            raise SpecError(
                "serving.image",
                f"the catalog has no pinned digest for the {runtime.name} image",
                f"set serving.image to {runtime.image}@sha256:<digest> (docker buildx "
                "imagetools inspect shows it)",
            )
        given = f"{runtime.image}@{runtime.digest}"
    return pull_through(given, "serving.image", project, region, names.repository)


def pull_through(
    given: str, field: str, project: str, region: str, repository: str
) -> tuple[str, Upstream | None]:
    """The image as Google Cloud pulls it: from an Artifact Registry remote repository that
    caches ``given``'s registry, by digest; unchanged when it is in Artifact Registry already."""
    match = _IMAGE.match(given)
    if match is None:
        raise SpecError(
            field,
            f"'{given}' is not pinned by digest",
            "append @sha256:<digest>; Google Cloud then runs exactly the image that was reviewed",
        )
    host = match["host"]
    if host and _ARTIFACT_REGISTRY.match(host):
        return given, None  # already in Artifact Registry: pulled as given
    docker_hub = host in (None, "docker.io", "registry-1.docker.io", "index.docker.io")
    path = match["path"]
    if docker_hub and "/" not in path:
        path = f"library/{path}"
    upstream = Upstream(docker_hub=docker_hub, uri=None if docker_hub else f"https://{host}")
    image = f"{region}-docker.pkg.dev/{project}/{repository}/{path}@{match['digest']}"
    return image, upstream


def _declared_flags(spec: DeploymentSpec) -> list[str]:
    """The flags extra_args may not carry, from the fields that declare them.

    Code from the model repository runs only with ``serving.trust_remote_code``. vLLM admits
    tool calls only with ``serving.tool_calling`` (--enable-auto-tool-choice), and then needs a
    parser for the model's tool-call format, which only the user knows. TGI's Messages API
    parses tools itself and has no flag to refuse them.
    """
    serving = spec.serving
    flags = ["--trust-remote-code"] if serving.trust_remote_code else []
    if serving.tool_calling and serving.runtime == "vllm":
        if not any(arg.split("=", 1)[0] == "--tool-call-parser" for arg in serving.extra_args):
            raise SpecError(
                "serving.extra_args",
                "vLLM needs --tool-call-parser with serving.tool_calling",
                "add the parser of the model's tool-call format, "
                "e.g. --tool-call-parser=llama3_json",
            )
        flags.append("--enable-auto-tool-choice")
    return flags


def _vllm_args(spec: DeploymentSpec, hardware: Hardware, source: ModelSource) -> list[str]:
    args = [
        f"--model={source.uri}",
        # The Run:ai streamer reads gs:// directly, with the serving account's credentials.
        "--load-format=runai_streamer",
        f"--served-model-name={spec.model.id}",
        "--host=0.0.0.0",
        f"--tensor-parallel-size={hardware.gpu_count}",
        f"--max-model-len={serving_context(spec)}",
        f"--max-num-seqs={spec.serving.max_concurrency}",
    ]
    args += _precision_args(spec, VLLM_DTYPES, "--quantization")
    if spec.serving.gpu_memory_utilization is not None:
        args.append(f"--gpu-memory-utilization={spec.serving.gpu_memory_utilization}")
    if spec.serving.kv_cache_dtype == "fp8":
        args.append("--kv-cache-dtype=fp8")
    return args


def _tgi_args(spec: DeploymentSpec, hardware: Hardware) -> list[str]:
    context = serving_context(spec)
    max_input = context - min(context // 4, 4096)
    # Vertex AI copies the artifacts next to the container and names the copy AIP_STORAGE_URI;
    # $(VAR) in an argument is expanded from the container's environment.
    args = [
        "--model-id=$(AIP_STORAGE_URI)",
        f"--num-shard={hardware.gpu_count}",
        f"--max-total-tokens={context}",
        f"--max-input-tokens={max_input}",
        f"--max-concurrent-requests={spec.serving.max_concurrency}",
    ]
    args += _precision_args(spec, TGI_DTYPES, "--quantize")
    if spec.serving.kv_cache_dtype == "fp8":
        args.append("--kv-cache-dtype=fp8")
    return args


def _precision_args(spec: DeploymentSpec, dtypes: dict[str, str], quantize: str) -> list[str]:
    """A 16-bit checkpoint's ``--dtype`` (in ``dtypes``' spelling), or FP8 quantization at load
    (``quantize``: the engine's flag for it)."""
    if spec.model.dtype in dtypes:
        return [f"--dtype={dtypes[spec.model.dtype]}"]
    if spec.model.dtype == "fp8":
        return [f"{quantize}=fp8"]
    return []

"""What the serving container is told: image, model location and environment.

SageMaker passes configuration to a container only as environment variables, in clear text
(``DescribeModel`` returns them), so nothing secret may ever land here. Settings follow each
image's documented interface: the Hugging Face TGI image's ``sagemaker-entrypoint.sh``
(``HF_MODEL_ID``, ``SM_NUM_GPUS``, launcher flags as upper-case variables) and the LMI image's
``OPTION_<NAME>`` variables, which it hands to the vLLM engine as ``<name>``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from inferstack import catalog
from inferstack.deployment import DeploymentSpec
from inferstack.deployment.targets import model_info, require_runtime, serving_context
from inferstack.errors import SpecError

MODEL_DIR = "/opt/ml/model"
TGI_DTYPES = {"bf16": "bfloat16", "fp16": "float16"}
LMI_DTYPES = {"bf16": "bf16", "fp16": "fp16"}
# Pre-quantized checkpoints (AWQ, GPTQ, INT8) carry their scheme in config.json, which both
# engines read; naming it again only limits the kernels they may pick. FP8 is the one scheme
# both quantize at load time from a 16-bit checkpoint.
RUNTIME_QUANTIZATION = {"fp8": "fp8"}
SAGEMAKER_RUNTIMES = ("tgi", "lmi", "vllm")
# vLLM's --tool-call-parser for the model families whose tool format it knows.
TOOL_PARSERS = (
    ("meta-llama/llama-3", "llama3_json"),
    ("meta-llama/meta-llama-3", "llama3_json"),
    ("mistralai/", "mistral"),
    ("qwen/", "hermes"),
    ("nousresearch/hermes", "hermes"),
    ("ibm-granite/", "granite"),
)
_FLAG = re.compile(r"^--([a-z0-9][a-z0-9-]*)(=(.*))?$")


@dataclass(frozen=True)
class ModelSource:
    """Where the weights come from: the Hugging Face Hub at start-up, or S3 ahead of time."""

    kind: str  # "hf" | "s3"
    model_id: str | None = None
    revision: str | None = None
    bucket: str | None = None
    key: str | None = None  # an object (a .tar.gz) or a prefix ending in "/"

    @property
    def s3_uri(self) -> str:
        return f"s3://{self.bucket}/{self.key or ''}"

    @property
    def compressed(self) -> bool:
        return bool(self.key and self.key.endswith(".tar.gz"))


def model_source(spec: DeploymentSpec) -> ModelSource:
    source = spec.model.source or f"hf://{spec.model.id}"
    if source.startswith("hf://"):
        model_id = source.removeprefix("hf://").split("@", 1)[0]
        return ModelSource("hf", model_id=model_id, revision=spec.model.revision)
    if source.startswith("s3://"):
        bucket, _, key = source.removeprefix("s3://").partition("/")
        if key and not key.endswith(("/", ".tar.gz")):
            key += "/"
        return ModelSource("s3", bucket=bucket, key=key)
    raise SpecError(
        "model.source",
        f"'{source}' is a Kubernetes volume, which SageMaker cannot mount",
        "stage the weights in S3 and use s3://<bucket>/<prefix>/, or hf://<org>/<name>@<rev>",
    )


def image_uri(spec: DeploymentSpec, region: str) -> str:
    if spec.serving.image is not None:
        return spec.serving.image
    runtime = require_runtime(spec, SAGEMAKER_RUNTIMES, "SageMaker image")
    try:
        return catalog.sagemaker_image(runtime, region)
    except KeyError:
        raise SpecError(
            "aws:region",
            f"the {spec.serving.runtime} SageMaker image is not published in {region}",
            "pick a region with SageMaker's deep-learning containers, or set serving.image",
        ) from None


def weights_gb(spec: DeploymentSpec) -> float:
    parameters = spec.model.parameters_b
    if parameters is None:
        parameters = model_info(spec).parameters_b
    return parameters * catalog.dtypes()[spec.model.dtype].bytes_per_param


def timeouts(spec: DeploymentSpec, source: ModelSource) -> tuple[int, int]:
    """(model download, container start-up) budgets in seconds, from the size of the weights.

    Budgets assume about 35 MB/s from S3 per instance and 50 MB/s when loading onto the GPU,
    both conservative, plus ten minutes for the image; a Hub download is slower and happens
    inside start-up, so it is added there. SageMaker accepts 60 to 3600 seconds for each.
    """
    size = weights_gb(spec)
    download = 600 + 30 * size
    startup = 600 + 20 * size + (40 * size if source.kind == "hf" else 0)
    return _clamp(download), _clamp(startup)


def _clamp(seconds: float) -> int:
    return max(60, min(3600, round(seconds)))


def environment(
    spec: DeploymentSpec,
    source: ModelSource,
    gpu_count: int,
    *,
    token_secret: str | None = None,
) -> dict[str, str]:
    """The container's environment. ``token_secret`` is a secret's name or ARN, never a value."""
    if spec.model.dtype.startswith("gguf"):
        raise SpecError(
            "model.dtype",
            f"{spec.model.dtype} is a llama.cpp format, which SageMaker's LLM images do not load",
            "use bf16, fp8, int4-awq or int4-gptq weights",
        )
    context = serving_context(spec)  # the context the memory fit was checked for
    model = MODEL_DIR if source.kind == "s3" else str(source.model_id)
    env = {
        "HF_MODEL_ID": model,
        "SM_NUM_GPUS": str(gpu_count),
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }
    if source.kind == "s3":
        env["HF_HUB_OFFLINE"] = "1"
    fraction = spec.serving.gpu_memory_utilization
    if spec.serving.runtime == "tgi":
        env.update(_tgi(spec, source, context, fraction))
    else:
        env.update(_lmi(spec, source, context, gpu_count, fraction))
    if token_secret is not None and spec.model.hf_token_secret is not None:
        env["INFERSTACK_HF_TOKEN_SECRET_ID"] = token_secret
        env["INFERSTACK_HF_TOKEN_SECRET_KEY"] = spec.model.hf_token_secret.key
    env.update(_declared(spec))
    env.update(_extra_args(spec))
    return env


def _declared(spec: DeploymentSpec) -> dict[str, str]:
    """``serving.trust_remote_code`` and ``serving.tool_calling`` as the image's variables.

    TGI takes ``TRUST_REMOTE_CODE``; it answers tool calls in its Messages API without a
    switch, so with ``tool_calling: false`` the gateway refuses requests that carry tools. The
    LMI image hands ``OPTION_TRUST_REMOTE_CODE``, ``OPTION_ENABLE_AUTO_TOOL_CHOICE`` and
    ``OPTION_TOOL_CALL_PARSER`` to vLLM, which needs the parser of the model's tool format.
    """
    serving = spec.serving
    tgi = serving.runtime == "tgi"
    env: dict[str, str] = {}
    if serving.trust_remote_code:
        env["TRUST_REMOTE_CODE" if tgi else "OPTION_TRUST_REMOTE_CODE"] = "true"
    if serving.tool_calling and not tgi:
        env["OPTION_ENABLE_AUTO_TOOL_CHOICE"] = "true"
        named = any(arg.split("=", 1)[0] == "--tool-call-parser" for arg in serving.extra_args)
        parser = _tool_parser(spec.model.id)
        if not named and parser is None:
            raise SpecError(
                "serving.tool_calling",
                f"vLLM needs the tool-call format of {spec.model.id}, which is not known here",
                "add --tool-call-parser <name> to serving.extra_args (e.g. hermes, mistral, "
                "llama3_json)",
            )
        if not named and parser is not None:
            env["OPTION_TOOL_CALL_PARSER"] = parser
    return env


def _tool_parser(model_id: str) -> str | None:
    lowered = model_id.lower()
    for prefix, parser in TOOL_PARSERS:
        if lowered.startswith(prefix):
            return parser
    return None


def _tgi(
    spec: DeploymentSpec, source: ModelSource, context: int, fraction: float | None
) -> dict[str, str]:
    # Keep room for the answer: the prompt may use all but a quarter (at most 4096 tokens).
    max_input = context - min(context // 4, 4096)
    env = {
        "MAX_TOTAL_TOKENS": str(context),
        "MAX_INPUT_TOKENS": str(max_input),
        "MAX_BATCH_PREFILL_TOKENS": str(max_input),
        "MESSAGES_API_ENABLED": "true",
    }
    return {**env, **_model_settings(spec, source, fraction, TGI_SETTINGS)}


def _lmi(
    spec: DeploymentSpec,
    source: ModelSource,
    context: int,
    gpu_count: int,
    fraction: float | None,
) -> dict[str, str]:
    env = {
        "OPTION_TENSOR_PARALLEL_DEGREE": str(gpu_count),
        "OPTION_MAX_MODEL_LEN": str(context),
        "OPTION_MAX_ROLLING_BATCH_SIZE": str(spec.serving.max_concurrency),
    }
    if spec.serving.runtime == "vllm":
        env["OPTION_ROLLING_BATCH"] = "vllm"
    return {**env, **_model_settings(spec, source, fraction, LMI_SETTINGS)}


@dataclass(frozen=True)
class _Settings:
    """The variables an image family reads for the model's revision, dtype, quantization, GPU
    memory share and KV-cache dtype, and how it spells the dtypes."""

    revision: str
    dtype: str
    dtypes: Mapping[str, str]
    quantize: str
    memory_fraction: str
    kv_cache_dtype: str


TGI_SETTINGS = _Settings(
    "HF_MODEL_REVISION",
    "DTYPE",
    TGI_DTYPES,
    "HF_MODEL_QUANTIZE",
    "CUDA_MEMORY_FRACTION",
    "KV_CACHE_DTYPE",
)
LMI_SETTINGS = _Settings(
    "OPTION_REVISION",
    "OPTION_DTYPE",
    LMI_DTYPES,
    "OPTION_QUANTIZE",
    "OPTION_GPU_MEMORY_UTILIZATION",
    "OPTION_KV_CACHE_DTYPE",
)


def _model_settings(
    spec: DeploymentSpec, source: ModelSource, fraction: float | None, names: _Settings
) -> dict[str, str]:
    """What both image families are told about the model, in their own variables."""
    env: dict[str, str] = {}
    if source.revision:
        env[names.revision] = source.revision
    if spec.model.dtype in names.dtypes:
        env[names.dtype] = names.dtypes[spec.model.dtype]
    if spec.model.dtype in RUNTIME_QUANTIZATION:
        env[names.quantize] = RUNTIME_QUANTIZATION[spec.model.dtype]
    if fraction is not None:
        env[names.memory_fraction] = str(fraction)
    if spec.serving.kv_cache_dtype == "fp8":
        env[names.kv_cache_dtype] = "fp8"
    return env


def _extra_args(spec: DeploymentSpec) -> dict[str, str]:
    """``serving.extra_args`` as the image's variables: ``--max-num-seqs 8`` -> ``..._NUM_SEQS``."""
    prefix = "" if spec.serving.runtime == "tgi" else "OPTION_"
    env: dict[str, str] = {}
    args = list(spec.serving.extra_args)
    index = 0
    while index < len(args):
        match = _FLAG.match(args[index])
        if match is None:
            raise SpecError(
                f"serving.extra_args.{index}",
                f"'{args[index]}' is not a --flag",
                "write flags as --name value or --name=value",
            )
        name = prefix + match[1].replace("-", "_").upper()
        value = match[3]
        if value is None:
            following = args[index + 1] if index + 1 < len(args) else None
            if following is not None and not following.startswith("--"):
                value = following
                index += 1
            else:
                value = "true"
        env[name] = value
        index += 1
    return env

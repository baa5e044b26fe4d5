"""The serving container: the digest-pinned image and the runtime's settings as environment."""

from __future__ import annotations

import re
from typing import Final

from inferstack import catalog
from inferstack.deployment import DeploymentSpec
from inferstack.deployment.digests import OWASP_SERVING_DIGESTS, Environments, require_digest
from inferstack.deployment.targets import Hardware, serving_context
from inferstack.errors import SpecError

MODEL_MOUNT = "/var/azureml-app/model"


def image(spec: DeploymentSpec) -> tuple[str, str]:
    """(repository:tag@digest inside the workspace registry, environment version)."""
    runtime = catalog.runtime(spec.serving.runtime)
    reference = spec.serving.image or (
        f"{runtime.image}@{runtime.digest}" if runtime.digest else runtime.image
    )
    name, _, digest = reference.partition("@")
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first):
        name = rest  # re-homed: the workspace pulls only from its own registry
    if not digest:
        _require_digest(spec, reference)
    version = digest.removeprefix("sha256:")[:12] if digest else name.rsplit(":", 1)[-1]
    path = f"{name}@{digest}" if digest else name
    return path, re.sub(r"[^A-Za-z0-9._-]", "-", version)


# Prod pins images by digest (the component's own choice), and owasp-llm's
# all-serving-image-require-digest fails an image by tag in any stage.
_DIGESTS: Final[Environments] = {"baseline": ("prod",), **OWASP_SERVING_DIGESTS}


def _require_digest(spec: DeploymentSpec, reference: str) -> None:
    """Refuse an image without a digest where prod or the owasp-llm pack requires one."""
    require_digest(
        spec,
        "serving.image",
        reference,
        "import the image into the registry and set serving.image to "
        "<repository>:<tag>@sha256:<digest>",
        environments=_DIGESTS,
    )


def environment(spec: DeploymentSpec, hardware: Hardware) -> dict[str, str]:
    """Runtime settings as environment variables; weights come from the mounted model."""
    model_dir = f"{MODEL_MOUNT}/{spec.model.id}"
    context = str(serving_context(spec))
    concurrency = str(spec.serving.max_concurrency)
    serving = spec.serving
    if serving.runtime == "tgi":
        # The TGI launcher reads each flag from an environment variable of the same name. Its
        # chat API always accepts tools; the gateway strips them unless tool_calling is set.
        return {
            "MODEL_ID": model_dir,
            "NUM_SHARD": str(hardware.gpu_count),
            "MAX_TOTAL_TOKENS": context,
            "MAX_CONCURRENT_REQUESTS": concurrency,
            "HF_HUB_OFFLINE": "1",
            **({"KV_CACHE_DTYPE": "fp8"} if serving.kv_cache_dtype == "fp8" else {}),
            **({"TRUST_REMOTE_CODE": "true"} if serving.trust_remote_code else {}),
        }
    flags = [
        f"--tensor-parallel-size {hardware.gpu_count}",
        f"--max-model-len {context}",
        f"--max-num-seqs {concurrency}",
        f"--dtype {'auto' if spec.model.dtype != 'bf16' else 'bfloat16'}",
        *spec.serving.extra_args,
    ]
    if spec.serving.gpu_memory_utilization is not None:
        flags.append(f"--gpu-memory-utilization {spec.serving.gpu_memory_utilization}")
    if spec.serving.kv_cache_dtype == "fp8":
        flags.append("--kv-cache-dtype fp8")
    if serving.trust_remote_code:
        flags.append("--trust-remote-code")
    if serving.tool_calling:
        if not any(
            arg.split("=", 1)[0].split(" ", 1)[0] == "--tool-call-parser"
            for arg in serving.extra_args
        ):
            raise SpecError(
                "serving.extra_args",
                "vLLM enables tool calling only with the parser of the model's tool-call format",
                "add '--tool-call-parser <parser>' (e.g. llama3_json for Llama 3.1)",
            )
        flags.append("--enable-auto-tool-choice")
    # MODEL_NAME and VLLM_ARGS are what the vLLM wrapper image reads (docs/targets/azureml.md).
    return {
        "MODEL_NAME": model_dir,
        "VLLM_ARGS": " ".join(flags),
        "HF_HUB_OFFLINE": "1",
        "VLLM_NO_USAGE_STATS": "1",
    }

"""What the serving runtimes share as data: where the weights come from, env vars, commands.

Nothing here knows a runtime's flags or queries; those live in :mod:`server_commands`,
:mod:`downloads` and :mod:`metrics`, which import this module and nothing of each other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from inferstack.kubernetes.layout import GGUF_DIR, MODEL_MOUNT

if TYPE_CHECKING:
    from inferstack.deployment import ModelSpec, SecretRef

Manifest = dict[str, Any]

SUPPORTED_RUNTIMES = ("vllm", "tgi", "ollama", "llamacpp")
GGUF_RUNTIMES = ("ollama", "llamacpp")


@dataclass(frozen=True)
class ModelRef:
    """Where the weights come from, resolved from ``model.source`` (default ``hf://<id>``)."""

    scheme: Literal["hf", "pvc"]
    served_name: str
    repo: str | None = None
    revision: str | None = None
    claim: str | None = None
    path: str = ""
    quant: str | None = None  # GGUF quantization tag, e.g. Q4_K_M

    @property
    def downloads(self) -> bool:
        """Weights fetched by an init container (pvc:// sources are already on a volume)."""
        return self.scheme == "hf"


def model_ref(model: ModelSpec) -> ModelRef:
    source = model.source or f"hf://{model.id}"
    scheme, rest = source.split("://", 1)
    quant = model.dtype.removeprefix("gguf-").upper() if model.dtype.startswith("gguf-") else None
    if scheme == "pvc":
        claim, _, path = rest.partition("/")
        return ModelRef("pvc", model.id, claim=claim, path=path.strip("/"), quant=quant)
    repo, _, revision = rest.partition("@")
    return ModelRef("hf", model.id, repo=repo, revision=revision or None, quant=quant)


def model_location(ref: ModelRef, runtime: str) -> str:
    """What the server is told to load."""
    if ref.scheme == "pvc":
        return f"{MODEL_MOUNT}/{ref.path}".rstrip("/")
    assert ref.repo is not None
    if runtime == "llamacpp":
        return gguf_path(ref)
    if runtime == "ollama":
        return f"hf.co/{ref.repo}:{ref.quant}"
    # vLLM and TGI resolve the repo id from the hub cache the init container filled.
    return ref.repo


def gguf_path(ref: ModelRef) -> str:
    """The cached GGUF file of ``ref``: one file per repository, revision and quantization.

    Caches outlive releases (a device cache, a shared PVC): a path without the revision would
    keep serving whichever revision was fetched first.
    """
    assert ref.repo is not None
    return f"{GGUF_DIR}/{_slug(ref.repo)}/{ref.revision or 'main'}/{ref.quant or 'model'}.gguf"


def env(name: str, value: str) -> Manifest:
    return {"name": name, "value": value}


def secret_env(name: str, secret: SecretRef) -> Manifest:
    """An env var read from an existing Secret at pod start: never a literal in the manifest."""
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret.name, "key": secret.key}}}


@dataclass(frozen=True)
class ServerCommand:
    command: list[str]
    args: list[str]
    env: list[Manifest]


@dataclass(frozen=True)
class RuntimeMetrics:
    """Prometheus series a runtime exports. Tuples hold a name and the names it had before
    (vLLM renamed some between releases); queries try each with ``or``."""

    running: tuple[str, ...]
    waiting: tuple[str, ...]
    kv_cache_usage: tuple[str, ...] = ()
    ttft_bucket: tuple[str, ...] = ()
    tpot_bucket: tuple[str, ...] = ()
    generation_tokens: tuple[str, ...] = ()
    prompt_tokens: tuple[str, ...] = ()
    requests: tuple[str, ...] = ()


def _slug(repo: str) -> str:
    return re.sub(r"[^a-z0-9.-]+", "-", repo.lower()).strip("-")

"""Which device groups screen prompts with Llama Guard, and whether the guard fits beside the model.

On a Jetson device the guard is a second model served by the group's own Ollama: Llama Guard 3 1B,
imported from Meta's checkpoint at a pinned revision and quantized to Q4_K_M at import, called by
the device's gateway before the main model (:mod:`inferstack.jetson.gateway`). It costs a second
set of weights, KV cache and runner overhead in the same unified memory, so the fit check counts
both models with Ollama's rules; a group whose module cannot hold both fails before anything is
registered.

``security.guard.provider: auto`` resolves per device group: ``llama-guard`` on the module
families whose memory leaves room for it at NVIDIA's conservative settings (AGX Orin, Thor) when
the group serves with Ollama, ``none`` elsewhere. On ``none`` the gateway still enforces its
limits (body size, ``max_tokens`` cap, no tool calls, secret patterns, prompt length), and the
owasp-llm pack flags a guard-capable group that does not screen: a stack that lists owasp-llm
and serves such a group with another runtime is refused instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from inferstack import catalog, sizing
from inferstack.catalog.types import JetsonModule, ModelInfo
from inferstack.deployment.fleet import DeviceGroupSpec
from inferstack.deployment.models import DeploymentSpec
from inferstack.errors import SpecError

# Module families where auto deploys the guard: 32 GB and more of unified memory, where a second
# 1B model costs a few percent of what NVIDIA's settings leave to models. Orin NX 16 GB and the
# 8 GB modules keep that headroom for the main model; an explicit llama-guard there is honoured
# when the fit allows it.
GUARD_FAMILIES: Final = ("agx-orin", "thor")
GUARD_MODEL: Final = "meta-llama/Llama-Guard-3-1B"
# Meta's repository (gated: accept the licence on the Hub, then give model.hf_token_secret, or
# serve it from the site's model mirror). Revision from the public record of the repository.
GUARD_REPO: Final = "meta-llama/Llama-Guard-3-1B"
GUARD_REVISION: Final = "acf7aafa60f0410f8f42b1fa35e077d705892029"
# The checkpoint's files Ollama imports from (config, tokenizer, BF16 safetensors).
GUARD_FILES: Final = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "special_tokens_map.json",
    "tokenizer.json",
    "tokenizer_config.json",
)
# Ollama quantizes the BF16 checkpoint at import (`ollama create --quantize q4_K_M`).
GUARD_DTYPE: Final = "gguf-q4_k_m"
GUARD_QUANTIZE: Final = "q4_K_M"
GUARD_RUNTIME: Final = "ollama"
# Prompt tokens the Llama Guard template and categories take around the screened text.
TEMPLATE_TOKENS: Final = 1024
UNSUPPORTED: Final = ("llm-guard", "bedrock", "content-safety", "model-armor")


@dataclass(frozen=True)
class GuardPlan:
    """Llama Guard beside one device group's model, in the group's Ollama."""

    provider: str
    model: str
    repo: str
    revision: str
    context: int
    concurrency: int
    memory_gb: float
    weights_gb: float

    @property
    def ollama_name(self) -> str:
        """The name the import gives the model in Ollama's store, per revision."""
        return f"inferstack-llama-guard:{self.revision[:12]}"


def capable(hw: JetsonModule) -> bool:
    """Whether auto deploys the guard on ``hw`` (when the group serves with Ollama)."""
    return hw.family in GUARD_FAMILIES


def check_spec(spec: DeploymentSpec) -> None:
    """Guard settings the Jetson gateway cannot deliver, whatever the device groups."""
    guard = spec.security.guard
    if guard.provider in UNSUPPORTED:
        raise SpecError(
            "security.guard.provider",
            f"'{guard.provider}' is not available on Jetson devices, which have no cloud "
            "guard API or CPU guard service",
            "use auto (Llama Guard 3 1B where the module fits it), llama-guard or none",
        )
    if guard.output == "on":
        raise SpecError(
            "security.guard.output",
            "'on' would buffer streamed responses, which the device gateway does not do",
            "use non_streaming (streamed responses pass unscreened) or off",
        )
    if guard.checks.pii == "anonymize" and guard.provider in ("auto", "llama-guard"):
        raise SpecError(
            "security.guard.checks.pii",
            "'anonymize' needs a guard that rewrites text; Llama Guard only classifies it",
            "use block (a prompt or response carrying personal data is refused) or off",
        )


def resolve(
    spec: DeploymentSpec,
    index: int,
    group: DeviceGroupSpec,
    hw: JetsonModule,
    runtime: str,
    main: sizing.FitReport,
) -> GuardPlan | None:
    """The group's guard, or None when its gateway applies its limits alone.

    Raises SpecError when llama-guard is asked for and the group cannot serve it: another
    runtime than Ollama, or both models do not fit. It is asked for explicitly, or by auto on a
    capable module. There, auto with another runtime is refused when the stack lists owasp-llm
    (whose pack flags the unscreened group) and left to the gateway's limits otherwise.
    """
    guard = spec.security.guard
    if not guard.enabled or guard.provider == "none":
        return None
    explicit = guard.provider == "llama-guard"
    if not explicit and not capable(hw):
        return None
    if not explicit and runtime != GUARD_RUNTIME:
        _check_owasp_runtime(spec, hw, runtime)
        return None
    path = f"compute.fleet.device_groups[{index}]"
    if runtime != GUARD_RUNTIME:
        raise SpecError(
            path,
            f"runs {runtime}, but Llama Guard is served by the group's Ollama",
            f"set compute.fleet.variants.{hw.name}: {{dtype: gguf-q4_k_m, runtime: ollama}}, "
            "or security.guard.provider: auto",
        )
    info = guard_model()
    context = guard_context(spec, hw)
    report = sizing.fit(
        info,
        "jetson",
        hw.name,
        dtype=GUARD_DTYPE,
        context=context,
        # OLLAMA_NUM_PARALLEL applies to every model the server holds.
        concurrency=main.concurrency,
        runtime=GUARD_RUNTIME,
    )
    needed = main.memory.total_gb + report.memory.total_gb
    if needed > main.usable_gb:
        raise SpecError(
            path,
            f"{main.model} ({main.memory.total_gb:.1f} GB) and Llama Guard 3 1B "
            f"({report.memory.total_gb:.1f} GB) need {needed:.1f} GB together; {hw.name} has "
            f"{main.usable_gb:.1f} GB usable",
            f"lower compute.fleet.variants.{hw.name}.max_concurrency or max_context, or set "
            "security.guard.provider: none (the group then serves unscreened, and the owasp-llm "
            "pack flags it on AGX Orin and Thor)",
        )
    _check_reachable(spec, group)
    return GuardPlan(
        provider="llama-guard",
        model=GUARD_MODEL,
        repo=GUARD_REPO,
        revision=GUARD_REVISION,
        context=context,
        concurrency=main.concurrency,
        memory_gb=report.memory.total_gb,
        weights_gb=report.memory.weights_gb,
    )


def _check_owasp_runtime(spec: DeploymentSpec, hw: JetsonModule, runtime: str) -> None:
    """auto on a capable module served by another runtime: the owasp-llm pack flags the group."""
    if "owasp-llm" not in spec.compliance.frameworks:
        return
    fleet = spec.compute.fleet
    chosen = fleet is not None and hw.name in fleet.variants
    raise SpecError(
        f"compute.fleet.variants.{hw.name}.runtime" if chosen else "serving.runtime",
        f"{runtime} on {hw.name} leaves its prompts unscreened: Llama Guard 3 1B, which owasp-llm "
        "requires where the module can hold it, is served by the group's Ollama",
        f"set compute.fleet.variants.{hw.name}: {{dtype: gguf-q4_k_m, runtime: ollama}}, or "
        "security.guard.provider: none and remove owasp-llm from compliance.frameworks",
    )


def guard_model() -> ModelInfo:
    return catalog.model(GUARD_MODEL)


def guard_context(spec: DeploymentSpec, hw: JetsonModule) -> int:
    """The guard's context: the longest screened prompt plus the template, within the family's."""
    limit = spec.security.guard.checks.max_input_tokens
    wanted = (limit if limit is not None else hw.max_context) + TEMPLATE_TOKENS
    return min(wanted, hw.max_context)


def _check_reachable(spec: DeploymentSpec, group: DeviceGroupSpec) -> None:
    """Meta's repository is gated: the fetch needs the Hub token, unless a mirror serves it."""
    fleet = spec.compute.fleet
    assert fleet is not None
    mirror = fleet.site(group.site).mirror
    if spec.model.hf_token_secret is None and (mirror is None or mirror.models_url is None):
        raise SpecError(
            "model.hf_token_secret",
            f"is required to fetch {GUARD_REPO} (a gated repository) on site {group.site}, "
            "which has no model mirror",
            "accept the Llama 3.2 licence on the Hub and reference the token's Secret "
            "(model.hf_token_secret: {name: hf-token}), or give the site a mirror with models_url",
        )

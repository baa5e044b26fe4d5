"""OWASP runtime flags and scaling caps on every target.

- Supply chain (LLM03:2025): ``--trust-remote-code`` runs Python shipped in the model repository
  inside the serving container; a model repository is then code to review, not data.
- Excessive agency (LLM06:2025): ``--enable-auto-tool-choice`` lets the model decide to call
  tools; whatever executes those calls acts with the caller's authority.
- Unbounded consumption (LLM10:2025): an autoscaler without a declared ceiling turns a flood of
  requests into GPU spend.

The spec declares the first two (``serving.trust_remote_code``, ``serving.tool_calling``;
``extra_args`` may not carry them), so a finding here is either that declaration or a patch.
A deployment that needs one keeps the finding visible: it sets the rule to advisory in its pack
config after review, rather than the pack passing it silently.

Where each target puts the flags: Kubernetes and Jetson container ``command``/``args`` (a shell
script's words too), SageMaker ``OPTION_*`` / TGI variables, Azure ML ``VLLM_ARGS`` and TGI
variables, Vertex AI ``container.args``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from inferstack.compliance.model import (
    Framework,
    Report,
    Resource,
    Rule,
    RuleConfig,
    Severity,
)
from inferstack.compliance.props import MISSING, UNKNOWN, as_bool, as_number, elements, get
from inferstack.compliance.rules._common import (
    GDPR_SECURITY,
    OWASP_AGENCY,
    OWASP_CONSUMPTION,
    OWASP_SUPPLY_CHAIN,
    number_setting,
    unverifiable,
)
from inferstack.compliance.rules._k8s import WORKLOAD_TYPES, container_reads, container_refs, pod
from inferstack.compliance.rules._serving import (
    AZURE_DEPLOYMENT,
    SAGEMAKER_MODEL,
    VERTEX_DEPLOYMENT,
    arguments,
    environment,
    sagemaker_container_reads,
    sagemaker_containers,
)

OWASP: Final[frozenset[Framework]] = frozenset({"owasp-llm"})
AZURE_ENV: Final = ("properties", "environmentVariables")
KEDA: Final = "kubernetes:keda.sh/v1alpha1:ScaledObject"
HPA: Final = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
AWS_SCALING: Final = "aws:appautoscaling/target:Target"
AZURE_AUTOSCALE: Final = "azure-native:monitor:AutoscaleSetting"


@dataclass(frozen=True)
class Flag:
    """A runtime capability: its command-line flags and the variables that turn it on."""

    what: str
    flags: tuple[str, ...]
    variables: tuple[str, ...]

    def in_words(self, words: list[str]) -> str | None:
        for item in words:
            for word in item.split():
                name = word.partition("=")[0]
                if name in self.flags:
                    return name
        return None

    def in_variables(self, env: Any, where: str, report: Report) -> str | None:
        for name in self.variables:
            value = get(env, name)
            if value is UNKNOWN:
                report(unverifiable(f"{where}.{name}"))
            elif as_bool(value) is True or value == "1":
                return name
        return None


TRUST_REMOTE_CODE: Final = Flag(
    "runs Python code shipped in the model repository",
    ("--trust-remote-code",),
    ("OPTION_TRUST_REMOTE_CODE", "TRUST_REMOTE_CODE"),
)
TOOL_CALLING: Final = Flag(
    "lets the model call tools",
    ("--enable-auto-tool-choice", "--tool-call-parser"),
    ("OPTION_ENABLE_AUTO_TOOL_CHOICE",),
)


def _flag_check(flag: Flag) -> Callable[[Resource, Report, RuleConfig], None]:
    def check(res: Resource, report: Report, cfg: RuleConfig) -> None:
        for where, found in _flags(flag, res, report):
            report(f"{where} {flag.what} ({found})")

    return check


def _flags(flag: Flag, res: Resource, report: Report) -> list[tuple[str, str]]:
    """(where, flag or variable) for each place the capability is turned on."""
    hits: list[tuple[str, str | None]] = []
    if res.resource_type in WORKLOAD_TYPES:
        _, items, _ = pod(res, report)
        for container in items:
            for key in ("command", "args"):
                words = arguments(container.value, key, f"{container.path}.{key}", report)
                hits.append((container.label, flag.in_words(words or [])))
    elif res.resource_type == SAGEMAKER_MODEL:
        for path, container in sagemaker_containers(res.props):
            env = environment(container, path, report)
            if env is not None:
                hits.append((path, flag.in_variables(env, f"{path}.environment", report)))
    elif res.resource_type == AZURE_DEPLOYMENT:
        env = get(res.props, *AZURE_ENV)
        if env is UNKNOWN:
            report(unverifiable(".".join(AZURE_ENV)))
        else:
            args = get(env, "VLLM_ARGS")
            if args is UNKNOWN:
                report(unverifiable(".".join((*AZURE_ENV, "VLLM_ARGS"))))
            elif isinstance(args, str):
                hits.append(("the deployment", flag.in_words([args])))
            where = ".".join(AZURE_ENV)
            hits.append(("the deployment", flag.in_variables(env, where, report)))
    elif res.resource_type == VERTEX_DEPLOYMENT:
        container = get(res.props, "container")
        if container is UNKNOWN:
            report(unverifiable("container"))
        elif container is not MISSING:
            words = arguments(container, "args", "container.args", report)
            hits.append(("the model container", flag.in_words(words or [])))
    return [(where, found) for where, found in hits if found is not None]


def _check_replica_cap(res: Resource, report: Report, cfg: RuleConfig) -> None:
    ceiling = cfg.number("maxReplicas")
    for path, value, default in _caps(res):
        number = as_number(value)
        if value is UNKNOWN:
            report(unverifiable(path))
        elif value is MISSING or value is None:
            if default is None:
                report(f"{path} is not set: the autoscaler has no declared ceiling")
        elif number is None or number < 1:
            report(f"{path} is '{value}', not a replica count")
        elif ceiling is not None and number > ceiling:
            report(f"{path} allows {int(number)} replicas, more than the {int(ceiling)} allowed")


def _caps(res: Resource) -> list[tuple[str, Any, str | None]]:
    """(path, ceiling value, what an absent value means: None if unbounded or provider-set)."""
    props = res.props
    if res.resource_type == KEDA:
        return [("spec.maxReplicaCount", get(props, "spec", "maxReplicaCount"), None)]
    if res.resource_type == HPA:
        return [("spec.maxReplicas", get(props, "spec", "maxReplicas"), None)]
    if res.resource_type == AWS_SCALING:
        return [("maxCapacity", get(props, "maxCapacity"), None)]
    if res.resource_type == AZURE_AUTOSCALE:
        return [
            (f"profiles[{index}].capacity.maximum", get(item, "capacity", "maximum"), None)
            for index, item in enumerate(elements(props, "profiles"))
        ]
    if res.resource_type == VERTEX_DEPLOYMENT:
        # Vertex AI caps an absent maxReplicaCount at minReplicaCount: no autoscaling at all.
        return [
            (f"deployments[{index}].maxReplicaCount", get(item, "maxReplicaCount"), "min")
            for index, item in enumerate(elements(props, "deployments"))
        ]
    return []


def _flag_reads(variables: tuple[str, ...]) -> tuple[str, ...]:
    return (
        *container_reads("command", "command[*]", "args", "args[*]"),
        "spec.template.spec",
        "spec.jobTemplate.spec.template.spec",
        *sagemaker_container_reads("environment", *(f"environment.{name}" for name in variables)),
        "properties",
        "properties.environmentVariables",
        "properties.environmentVariables.VLLM_ARGS",
        *(f"properties.environmentVariables.{name}" for name in variables),
        "container",
        "container.args",
        "container.args[*]",
    )


_FLAG_TYPES: Final = (*WORKLOAD_TYPES, SAGEMAKER_MODEL, AZURE_DEPLOYMENT, VERTEX_DEPLOYMENT)

RULES: Final = (
    Rule(
        name="all-serving-runtime-disallow-trust-remote-code",
        description="The serving runtime does not execute code from the model repository "
        "(--trust-remote-code and its SageMaker / TGI variables).",
        severity=Severity.HIGH,
        resource_types=_FLAG_TYPES,
        controls=(OWASP_SUPPLY_CHAIN, GDPR_SECURITY),
        frameworks=OWASP,
        remediation="Set serving.trust_remote_code: false and serve a model whose architecture "
        "the runtime ships. If the model needs it, review the repository's code at the pinned "
        "revision and set this rule to advisory in the pack config.",
        check=_flag_check(TRUST_REMOTE_CODE),
        reads=_flag_reads(TRUST_REMOTE_CODE.variables),
        references=container_refs(),
    ),
    Rule(
        name="all-serving-runtime-disallow-tool-calling",
        description="The model may not choose to call tools (--enable-auto-tool-choice, "
        "--tool-call-parser) unless the deployment declares it.",
        severity=Severity.MEDIUM,
        resource_types=_FLAG_TYPES,
        controls=(OWASP_AGENCY,),
        frameworks=OWASP,
        remediation="Set serving.tool_calling: false. If the application executes tool calls, "
        "give the executor least privilege and human approval for side effects, then set this "
        "rule to advisory in the pack config.",
        check=_flag_check(TOOL_CALLING),
        reads=_flag_reads(TOOL_CALLING.variables),
        references=container_refs(),
    ),
    Rule(
        name="all-autoscaling-replicas-limit-max",
        description="Every autoscaler declares a replica ceiling (KEDA, HPA, SageMaker "
        "Application Auto Scaling, Azure Monitor autoscale, Vertex AI), within maxReplicas "
        "when the pack config sets one.",
        severity=Severity.MEDIUM,
        resource_types=(KEDA, HPA, AWS_SCALING, AZURE_AUTOSCALE, VERTEX_DEPLOYMENT),
        controls=(OWASP_CONSUMPTION,),
        frameworks=OWASP,
        remediation="Set scaling.max_replicas in the deployment spec (it becomes the "
        "autoscaler's ceiling) and keep it within the pack's maxReplicas.",
        check=_check_replica_cap,
        settings=(
            number_setting(
                "maxReplicas",
                "Largest replica ceiling allowed per autoscaler; null only requires one.",
                None,
            ),
        ),
        reads=(
            "spec",
            "spec.maxReplicaCount",
            "spec.maxReplicas",
            "maxCapacity",
            "profiles",
            "profiles[*]",
            "profiles[*].capacity",
            "profiles[*].capacity.maximum",
            "deployments",
            "deployments[*]",
            "deployments[*].maxReplicaCount",
        ),
    ),
)

"""Kubernetes workload hardening beyond the Pod Security Standards, and supply chain checks.

Applies to Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs and bare Pods; the
restricted profile itself is :mod:`inferstack.compliance.rules.kubernetes_pss`. Inference servers
run fine under these settings when caches (HF_HOME, VLLM_CACHE_ROOT, ...) live on emptyDir
volumes, so there is no reason to loosen them for LLM serving.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

from inferstack.compliance.model import (
    Enforcement,
    Report,
    Resource,
    Rule,
    RuleConfig,
    Scope,
    Severity,
    StackResource,
)
from inferstack.compliance.props import MISSING, UNKNOWN, as_bool, elements, get, keys
from inferstack.compliance.rules._common import (
    GDPR_BY_DESIGN,
    GDPR_CONFIDENTIALITY,
    GDPR_SECURITY,
    HIPAA_ACCESS,
    HIPAA_INTEGRITY,
    OWASP_CONSUMPTION,
    OWASP_DISCLOSURE,
    OWASP_SUPPLY_CHAIN,
    strings_setting,
    unverifiable,
)
from inferstack.compliance.rules._images import parse_image, registry_allowed
from inferstack.compliance.rules._k8s import (
    WORKLOAD_TYPES,
    Container,
    container_reads,
    container_refs,
    pod,
    pod_reads,
    pod_template_labels_path,
    workload_rule,
)
from inferstack.compliance.rules._stack import of_type

# Anywhere in the name: nothing harmless is called *PASSWORD* or *CREDENTIAL*.
CREDENTIAL_ANYWHERE: Final = (
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "SECRET",
    "CREDENTIAL",
    "APIKEY",
    "API_KEY",
    "PRIVATE_KEY",
    "ACCESS_KEY",
)
# A word ending in TOKEN (HF_TOKEN, HFTOKEN; not MAX_TOTAL_TOKENS or TOKENIZER), a word PAT,
# and a name ending in _KEY are credential names too.
ENVIRONMENT_LABEL: Final = "inferstack/environment"
SECRET_VALUE: Final = re.compile(
    r"^(hf_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}|glpat-[A-Za-z0-9_-]{20,})$"
)


def _check_readonly_rootfs(res: Resource, report: Report, cfg: RuleConfig) -> None:
    _, items, _ = pod(res, report)
    for container in items:
        value = container.get("securityContext", "readOnlyRootFilesystem")
        if value is UNKNOWN:
            report(unverifiable(f"{container.path}.securityContext.readOnlyRootFilesystem"))
        elif as_bool(value) is not True:
            report(f"{container.label} has a writable root filesystem")


def _check_limits(res: Resource, report: Report, cfg: RuleConfig) -> None:
    required = cfg.strings("requiredLimits")
    _, items, _ = pod(res, report)
    for container in items:
        declared = set(keys(container.value, "resources", "limits"))
        missing = [name for name in required if name not in declared]
        if missing:
            report(f"{container.label} has no resources.limits for {', '.join(missing)}")


def credential_name(name: str) -> bool:
    """``*PASSWORD*``, ``*SECRET*``, ``*API_KEY*``, ``*CREDENTIAL*``, a word ending in TOKEN,
    ``*_KEY``."""
    upper = name.upper().replace("-", "_").replace(".", "_")
    words = upper.split("_")
    return (
        any(part in upper for part in CREDENTIAL_ANYWHERE)
        or any(word.endswith("TOKEN") for word in words)
        or "PAT" in words
        or upper.endswith("_KEY")
        or upper == "KEY"
    )


def _secret_reference(entry: Any, where: str, report: Report) -> bool:
    reference = get(entry, "valueFrom", "secretKeyRef")
    if reference is UNKNOWN:
        report(unverifiable(f"{where}.valueFrom.secretKeyRef"))
        return True
    return reference not in (MISSING, None)


def _check_secret_env(res: Resource, report: Report, cfg: RuleConfig) -> None:
    _, items, _ = pod(res, report)
    for container in items:
        for index, entry in enumerate(elements(container.value, "env")):
            where = f"{container.path}.env[{index}]"
            name, value = get(entry, "name"), get(entry, "value")
            if entry is UNKNOWN or name is UNKNOWN:
                report(unverifiable(where, "the variable's name is known only after deploy"))
                continue
            if isinstance(name, str) and credential_name(name):
                # Whatever a literal looks like ("12345678", "/run/x"), a credential-named
                # variable passes only when its value comes from a Secret.
                if not _secret_reference(entry, where, report):
                    report(
                        f"{container.label} sets {name} without a Secret; reference one with "
                        "valueFrom.secretKeyRef instead"
                    )
            elif value is UNKNOWN:
                report(unverifiable(f"{where}.value", "a computed value could be a credential"))
            elif isinstance(value, str) and SECRET_VALUE.match(value.strip()):
                report(
                    f"{container.label} sets {name} to a literal credential; "
                    "reference a Secret with valueFrom.secretKeyRef instead"
                )


def _images(items: list[Container], report: Report) -> list[tuple[Container, str]]:
    found: list[tuple[Container, str]] = []
    for container in items:
        image = container.get("image")
        if image is UNKNOWN:
            report(unverifiable(f"{container.path}.image"))
        elif isinstance(image, str) and image:
            found.append((container, image))
    return found


def _environment_labels(resource: StackResource) -> list[Any]:
    """The ``inferstack/environment`` values on the resource and its pod template (MISSING if
    a workload lacks one)."""
    paths: list[tuple[str, ...]] = [("metadata", "labels")]
    if resource.resource_type in WORKLOAD_TYPES:
        paths.append(pod_template_labels_path(resource.resource_type))
    values = [get(resource.props, *path, ENVIRONMENT_LABEL) for path in paths]
    if resource.resource_type in WORKLOAD_TYPES:
        return values
    return [value for value in values if value is not MISSING]


def _stack_requires_digests(resources: Sequence[StackResource], cfg: RuleConfig) -> bool:
    """Whether the stack is one whose images must be pinned (prod by default).

    The environment is the stack's, not one workload's: the stack is exempt only when every
    Kubernetes object that carries the label, and every workload and pod template, agree on one
    exempt value. A relabelled workload (a patch or a tag) then disagrees with the Namespace,
    Service and the rest, and the rule applies; a missing or unknown label counts as prod.
    """
    required = {name.lower() for name in cfg.strings("environments")}
    if "*" in required:
        return True
    values = [
        value
        for resource in resources
        if resource.resource_type.startswith("kubernetes:")
        for value in _environment_labels(resource)
    ]
    if not values or any(not isinstance(value, str) for value in values):
        return True
    found = {value.lower() for value in values}
    return len(found) != 1 or found <= required


def _check_digest(resources: Sequence[StackResource], report: Report, cfg: RuleConfig) -> None:
    if not _stack_requires_digests(resources, cfg):
        return
    for workload in of_type(resources, *WORKLOAD_TYPES):
        on_workload = _ReportOn(report, workload.urn)
        _, items, _ = pod(workload, on_workload)
        for container, image in _images(items, on_workload):
            if not parse_image(image).pinned:
                on_workload(
                    f"{container.label} image '{image}' is not pinned by digest (@sha256:...)"
                )


class _ReportOn:
    """A stack rule's report bound to one resource, for checks written for one resource."""

    def __init__(self, report: Report, urn: str) -> None:
        self._report, self._urn = report, urn

    def __call__(self, message: str, urn: str | None = None, /) -> None:
        self._report(message, urn or self._urn)


def _check_latest(res: Resource, report: Report, cfg: RuleConfig) -> None:
    _, items, _ = pod(res, report)
    for container, image in _images(items, report):
        if parse_image(image).floating:
            report(f"{container.label} image '{image}' floats on the latest tag")


def _check_registry(res: Resource, report: Report, cfg: RuleConfig) -> None:
    allowed = cfg.strings("allowedRegistries")
    if not allowed:
        res.not_applicable("allowedRegistries is empty in the pack config: no registry to enforce")
    _, items, _ = pod(res, report)
    for container, image in _images(items, report):
        if not registry_allowed(parse_image(image), allowed):
            report(f"{container.label} image '{image}' is not from an allowed registry")


def _check_token_automount(res: Resource, report: Report, cfg: RuleConfig) -> None:
    spec, _, base = pod(res, report)
    if spec is None or spec is MISSING:
        return
    value = get(spec, "automountServiceAccountToken")
    if value is UNKNOWN:
        report(unverifiable(f"{base}automountServiceAccountToken"))
    elif as_bool(value) is not False:
        report("the pod mounts a service account token it does not need")


_HARDENING = (HIPAA_ACCESS, GDPR_SECURITY)


RULES: Final = (
    workload_rule(
        "kubernetes-apps-workload-require-readonly-rootfs",
        "Containers have a read-only root filesystem.",
        Severity.MEDIUM,
        (*_HARDENING, HIPAA_INTEGRITY),
        "Set securityContext.readOnlyRootFilesystem: true and mount emptyDir volumes for caches "
        "(HF_HOME, VLLM_CACHE_ROOT, TRITON_CACHE_DIR, TORCHINDUCTOR_CACHE_DIR, /tmp).",
        _check_readonly_rootfs,
        container_reads("securityContext.readOnlyRootFilesystem"),
        peers=("CKV_K8S_22",),
    ),
    workload_rule(
        "kubernetes-apps-workload-require-resource-limits",
        "Containers declare resource limits, so one replica cannot starve the node.",
        Severity.MEDIUM,
        (OWASP_CONSUMPTION, GDPR_SECURITY),
        "Set resources.limits (cpu, memory, and nvidia.com/gpu for GPU servers) on every "
        "container.",
        _check_limits,
        container_reads("resources.limits"),
        peers=("CKV_K8S_11", "CKV_K8S_13"),
        settings=(
            strings_setting(
                "requiredLimits", "Resource names every container must limit.", ("cpu", "memory")
            ),
        ),
    ),
    workload_rule(
        "kubernetes-apps-workload-disallow-secret-env-literals",
        "Credentials (HF_TOKEN, API keys, passwords) are not written into env values: a "
        "credential-named variable takes its value from a Secret.",
        Severity.CRITICAL,
        (HIPAA_ACCESS, GDPR_CONFIDENTIALITY, GDPR_SECURITY, OWASP_DISCLOSURE),
        "Store the credential in a Secret and reference it with env[].valueFrom.secretKeyRef "
        "(or mount it as a file).",
        _check_secret_env,
        container_reads(
            "env", "env[*]", "env[*].name", "env[*].value", "env[*].valueFrom.secretKeyRef"
        ),
        peers=("CKV_K8S_35",),
    ),
    Rule(
        name="kubernetes-apps-workload-require-image-digest",
        description="Images are pinned by digest in the stacks that require it (prod by "
        "default), judged from the whole stack's inferstack/environment labels.",
        severity=Severity.HIGH,
        resource_types=("kubernetes:*",),
        controls=(OWASP_SUPPLY_CHAIN, GDPR_SECURITY, HIPAA_INTEGRITY),
        frameworks=frozenset({"baseline"}),
        remediation="Reference the image as registry/repo@sha256:<digest> (serving.image in the "
        "deployment spec). A stack is exempt only when every object's inferstack/environment "
        "label agrees on an exempt environment; relabelling one workload does not exempt it.",
        check=_check_digest,
        scope=Scope.STACK,
        peers=("CKV_K8S_43",),
        settings=(
            strings_setting(
                "environments",
                "Stack environments (the inferstack/environment label every object of the "
                "stack agrees on) that require digests ('*' = all; staging too in the "
                "owasp-llm pack).",
                ("prod",),
                **{"owasp-llm": ("prod", "staging")},
            ),
        ),
        reads=(
            *container_reads("image"),
            "spec.template.spec",
            "spec.jobTemplate.spec.template.spec",
        ),
        # An unknown environment label counts as prod: it can only make the rule apply.
        references=(
            *container_refs(),
            "metadata.labels",
            f"metadata.labels.{ENVIRONMENT_LABEL}",
            f"spec.template.metadata.labels.{ENVIRONMENT_LABEL}",
            f"spec.jobTemplate.spec.template.metadata.labels.{ENVIRONMENT_LABEL}",
        ),
    ),
    workload_rule(
        "kubernetes-apps-workload-disallow-latest-tag",
        "Images never float on the latest tag (or no tag at all).",
        Severity.HIGH,
        (OWASP_SUPPLY_CHAIN, GDPR_SECURITY),
        "Pin a version tag or, better, a digest.",
        _check_latest,
        container_reads("image"),
        peers=("CKV_K8S_14",),
    ),
    workload_rule(
        "kubernetes-apps-workload-restrict-image-registry",
        "Images come only from the allowed registries (when a list is configured).",
        Severity.HIGH,
        (OWASP_SUPPLY_CHAIN, GDPR_SECURITY),
        "Mirror the image into an allowed registry or add the registry to allowedRegistries.",
        _check_registry,
        container_reads("image"),
        peers=("azure-policy:febd0533-8e55-448f-b837-bd0e06f16469",),
        settings=(
            strings_setting(
                "allowedRegistries",
                "Registry prefixes or globs (e.g. ghcr.io/acme, *.dkr.ecr.*.amazonaws.com); "
                "empty allows all.",
                (),
            ),
        ),
    ),
    workload_rule(
        "kubernetes-apps-workload-disallow-token-automount",
        "Pods do not mount a Kubernetes API token they do not use.",
        Severity.LOW,
        (HIPAA_ACCESS, GDPR_BY_DESIGN),
        "Set automountServiceAccountToken: false in the pod spec.",
        _check_token_automount,
        (
            "spec.template.spec",
            "spec.jobTemplate.spec.template.spec",
            *pod_reads("automountServiceAccountToken"),
        ),
        peers=("CKV_K8S_38",),
        enforcement=Enforcement.ADVISORY,
    ),
)

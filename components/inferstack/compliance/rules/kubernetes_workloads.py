"""Kubernetes workload hardening: the pod security "restricted" profile plus supply chain checks.

Applies to Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs and bare Pods.
Inference servers run fine under these settings when caches (HF_HOME, VLLM_CACHE_ROOT, ...) live
on emptyDir volumes, so there is no reason to loosen them for LLM serving.
"""

from __future__ import annotations

import re
from typing import Any, Final

from inferstack.compliance.model import (
    Enforcement,
    Report,
    Resource,
    Rule,
    RuleConfig,
    Setting,
    Severity,
)
from inferstack.compliance.props import MISSING, UNKNOWN, as_bool, as_number, elements, get, keys
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
    containers,
    effective,
    pod_spec,
    pod_template_labels_path,
)

ENVIRONMENT_LABELS: Final = ("inferstack/environment", "environment", "env")
SENSITIVE_NAME_PARTS: Final = frozenset(
    {"TOKEN", "SECRET", "PASSWORD", "PASSWD", "APIKEY", "CREDENTIAL", "CREDENTIALS", "PAT"}
)
SENSITIVE_NAME_PAIRS: Final = ("API_KEY", "ACCESS_KEY", "PRIVATE_KEY", "CLIENT_SECRET")
SECRET_VALUE: Final = re.compile(
    r"^(hf_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}|glpat-[A-Za-z0-9_-]{20,})$"
)
ALLOWED_ADDED_CAPABILITIES: Final = frozenset({"NET_BIND_SERVICE"})
ALLOWED_SECCOMP: Final = frozenset({"RuntimeDefault", "Localhost"})


def _spec_and_containers(res: Resource, report: Report) -> tuple[Any, list[Container]]:
    spec = pod_spec(res.props, res.resource_type, report)
    return spec, list(containers(spec, report))


def _check_nonroot(res: Resource, report: Report, cfg: RuleConfig) -> None:
    spec, items = _spec_and_containers(res, report)
    for container in items:
        nonroot = effective(container, spec, "runAsNonRoot")
        user = effective(container, spec, "runAsUser")
        if nonroot is UNKNOWN or user is UNKNOWN:
            report(unverifiable(f"{container.label}: securityContext.runAsNonRoot/runAsUser"))
        elif as_number(user) == 0:
            report(f"{container.label} runs as user 0 (root)")
        elif as_bool(nonroot) is not True:
            report(f"{container.label} does not set securityContext.runAsNonRoot: true")


def _check_readonly_rootfs(res: Resource, report: Report, cfg: RuleConfig) -> None:
    _, items = _spec_and_containers(res, report)
    for container in items:
        value = container.get("securityContext", "readOnlyRootFilesystem")
        if value is UNKNOWN:
            report(unverifiable(f"{container.label}: securityContext.readOnlyRootFilesystem"))
        elif as_bool(value) is not True:
            report(f"{container.label} has a writable root filesystem")


def _check_privilege_escalation(res: Resource, report: Report, cfg: RuleConfig) -> None:
    _, items = _spec_and_containers(res, report)
    for container in items:
        value = container.get("securityContext", "allowPrivilegeEscalation")
        if value is UNKNOWN:
            report(unverifiable(f"{container.label}: securityContext.allowPrivilegeEscalation"))
        elif as_bool(value) is not False:
            report(
                f"{container.label} does not set securityContext.allowPrivilegeEscalation: false"
            )


def _check_capabilities(res: Resource, report: Report, cfg: RuleConfig) -> None:
    _, items = _spec_and_containers(res, report)
    for container in items:
        dropped = container.get("securityContext", "capabilities", "drop")
        added = container.get("securityContext", "capabilities", "add")
        if UNKNOWN in (dropped, added):
            report(unverifiable(f"{container.label}: securityContext.capabilities"))
            continue
        drop_list = elements(container.value, "securityContext", "capabilities", "drop")
        if "ALL" not in drop_list:
            report(f"{container.label} does not drop ALL capabilities")
        extra = {
            str(item)
            for item in elements(container.value, "securityContext", "capabilities", "add")
            if str(item) not in ALLOWED_ADDED_CAPABILITIES
        }
        if extra:
            report(f"{container.label} adds capabilities {sorted(extra)}")


def _check_seccomp(res: Resource, report: Report, cfg: RuleConfig) -> None:
    spec, items = _spec_and_containers(res, report)
    for container in items:
        profile = effective(container, spec, "seccompProfile")
        kind = get(profile, "type")
        if profile is UNKNOWN or kind is UNKNOWN:
            report(unverifiable(f"{container.label}: seccompProfile.type"))
        elif kind not in ALLOWED_SECCOMP:
            report(f"{container.label} has no RuntimeDefault or Localhost seccomp profile")


def _check_limits(res: Resource, report: Report, cfg: RuleConfig) -> None:
    required = cfg.strings("requiredLimits")
    _, items = _spec_and_containers(res, report)
    for container in items:
        limits = container.get("resources", "limits")
        if limits is UNKNOWN:
            report(unverifiable(f"{container.label}: resources.limits"))
            continue
        declared = set(keys(container.value, "resources", "limits"))
        missing = [name for name in required if name not in declared]
        if missing:
            report(f"{container.label} has no resources.limits for {', '.join(missing)}")


def _check_privileged(res: Resource, report: Report, cfg: RuleConfig) -> None:
    _, items = _spec_and_containers(res, report)
    for container in items:
        value = container.get("securityContext", "privileged")
        if value is UNKNOWN:
            report(unverifiable(f"{container.label}: securityContext.privileged"))
        elif as_bool(value) is True:
            report(f"{container.label} runs privileged")


def _check_host_namespaces(res: Resource, report: Report, cfg: RuleConfig) -> None:
    spec = pod_spec(res.props, res.resource_type, report)
    if spec is None or spec is MISSING:
        return
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        value = get(spec, field)
        if value is UNKNOWN:
            report(unverifiable(f"spec.{field}"))
        elif as_bool(value) is True:
            report(f"the pod shares the node's namespace ({field}: true)")


def _sensitive_name(name: str) -> bool:
    upper = name.upper()
    parts = set(upper.replace("-", "_").split("_"))
    return bool(parts & SENSITIVE_NAME_PARTS) or any(pair in upper for pair in SENSITIVE_NAME_PAIRS)


def _harmless_literal(value: Any) -> bool:
    if isinstance(value, bool | int | float):
        return True
    if not isinstance(value, str):
        return False
    text = value.strip()
    return text == "" or text.lower() in ("true", "false") or text.isdigit() or text.startswith("/")


def _check_secret_env(res: Resource, report: Report, cfg: RuleConfig) -> None:
    _, items = _spec_and_containers(res, report)
    for container in items:
        env = container.get("env")
        if env is UNKNOWN:
            report(unverifiable(f"{container.label}: env"))
            continue
        for entry in elements(container.value, "env"):
            name, value = get(entry, "name"), get(entry, "value")
            if entry is UNKNOWN or name is UNKNOWN:
                report(unverifiable(f"{container.label}: env entry"))
                continue
            if value is MISSING or value is None:
                continue
            # An unknown value is judged by its name only: plenty of harmless settings (service
            # URLs, model paths) are computed from other resources.
            looks_secret = isinstance(value, str) and SECRET_VALUE.match(value.strip()) is not None
            named_secret = isinstance(name, str) and _sensitive_name(name)
            if looks_secret or (named_secret and not _harmless_literal(value)):
                report(
                    f"{container.label} sets {name} as a literal env value; "
                    "reference a Secret with valueFrom.secretKeyRef instead"
                )


def _environment(res: Resource) -> Any:
    for path in (("metadata", "labels"), pod_template_labels_path(res.resource_type)):
        for label in ENVIRONMENT_LABELS:
            value = get(res.props, *path, label)
            if value is not MISSING:
                return value
    return MISSING


def _images(items: list[Container], report: Report) -> list[tuple[Container, str]]:
    found: list[tuple[Container, str]] = []
    for container in items:
        image = container.get("image")
        if image is UNKNOWN:
            report(unverifiable(f"{container.label}: image"))
        elif isinstance(image, str) and image:
            found.append((container, image))
    return found


def _check_digest(res: Resource, report: Report, cfg: RuleConfig) -> None:
    environments = {name.lower() for name in cfg.strings("environments")}
    environment = _environment(res)
    if environment is UNKNOWN:
        report(unverifiable("the inferstack/environment label"))
        return
    applies = (
        "*" in environments or environment is MISSING or str(environment).lower() in environments
    )
    if not applies:
        return
    _, items = _spec_and_containers(res, report)
    for container, image in _images(items, report):
        if not parse_image(image).pinned:
            report(f"{container.label} image '{image}' is not pinned by digest (@sha256:...)")


def _check_latest(res: Resource, report: Report, cfg: RuleConfig) -> None:
    _, items = _spec_and_containers(res, report)
    for container, image in _images(items, report):
        if parse_image(image).floating:
            report(f"{container.label} image '{image}' floats on the latest tag")


def _check_registry(res: Resource, report: Report, cfg: RuleConfig) -> None:
    allowed = cfg.strings("allowedRegistries")
    if not allowed:
        return
    _, items = _spec_and_containers(res, report)
    for container, image in _images(items, report):
        if not registry_allowed(parse_image(image), allowed):
            report(f"{container.label} image '{image}' is not from an allowed registry")


def _check_token_automount(res: Resource, report: Report, cfg: RuleConfig) -> None:
    spec = pod_spec(res.props, res.resource_type, report)
    if spec is None or spec is MISSING:
        return
    value = get(spec, "automountServiceAccountToken")
    if value is UNKNOWN:
        report(unverifiable("spec.automountServiceAccountToken"))
    elif as_bool(value) is not False:
        report("the pod mounts a service account token it does not need")


_HARDENING = (HIPAA_ACCESS, GDPR_SECURITY)


def _workload_rule(
    name: str,
    description: str,
    severity: Severity,
    controls: tuple[str, ...],
    remediation: str,
    check: Any,
    peers: tuple[str, ...] = (),
    settings: tuple[Setting, ...] = (),
    **extra: Any,
) -> Rule:
    return Rule(
        name=name,
        description=description,
        severity=severity,
        resource_types=WORKLOAD_TYPES,
        controls=controls,
        frameworks=frozenset({"baseline"}),
        remediation=remediation,
        check=check,
        peers=peers,
        settings=settings,
        **extra,
    )


RULES: Final = (
    _workload_rule(
        "kubernetes-apps-workload-require-nonroot",
        "Containers run as a non-root user.",
        Severity.HIGH,
        _HARDENING,
        "Set securityContext.runAsNonRoot: true and a non-zero runAsUser on the pod or container.",
        _check_nonroot,
        peers=("CKV_K8S_23", "CKV_K8S_40"),
    ),
    _workload_rule(
        "kubernetes-apps-workload-require-readonly-rootfs",
        "Containers have a read-only root filesystem.",
        Severity.MEDIUM,
        (*_HARDENING, HIPAA_INTEGRITY),
        "Set securityContext.readOnlyRootFilesystem: true and mount emptyDir volumes for caches "
        "(HF_HOME, VLLM_CACHE_ROOT, TRITON_CACHE_DIR, TORCHINDUCTOR_CACHE_DIR, /tmp).",
        _check_readonly_rootfs,
        peers=("CKV_K8S_22",),
    ),
    _workload_rule(
        "kubernetes-apps-workload-disallow-privilege-escalation",
        "Containers explicitly forbid privilege escalation.",
        Severity.HIGH,
        _HARDENING,
        "Set securityContext.allowPrivilegeEscalation: false on every container.",
        _check_privilege_escalation,
        peers=("CKV_K8S_20",),
    ),
    _workload_rule(
        "kubernetes-apps-workload-require-drop-all-capabilities",
        "Containers drop ALL Linux capabilities (only NET_BIND_SERVICE may be added back).",
        Severity.MEDIUM,
        _HARDENING,
        "Set securityContext.capabilities.drop: [ALL] and add nothing but NET_BIND_SERVICE.",
        _check_capabilities,
        peers=("CKV_K8S_37", "CKV_K8S_28"),
    ),
    _workload_rule(
        "kubernetes-apps-workload-require-seccomp-profile",
        "Containers run under the RuntimeDefault (or a Localhost) seccomp profile.",
        Severity.MEDIUM,
        _HARDENING,
        "Set securityContext.seccompProfile.type: RuntimeDefault on the pod.",
        _check_seccomp,
        peers=("CKV_K8S_31",),
    ),
    _workload_rule(
        "kubernetes-apps-workload-require-resource-limits",
        "Containers declare resource limits, so one replica cannot starve the node.",
        Severity.MEDIUM,
        (OWASP_CONSUMPTION, GDPR_SECURITY),
        "Set resources.limits (cpu, memory, and nvidia.com/gpu for GPU servers) on every "
        "container.",
        _check_limits,
        peers=("CKV_K8S_11", "CKV_K8S_13"),
        settings=(
            strings_setting(
                "requiredLimits", "Resource names every container must limit.", ("cpu", "memory")
            ),
        ),
    ),
    _workload_rule(
        "kubernetes-apps-workload-disallow-privileged",
        "Containers do not run privileged.",
        Severity.CRITICAL,
        _HARDENING,
        "Remove securityContext.privileged: true; GPUs are exposed by the device plugin, "
        "not by privileged mode.",
        _check_privileged,
        peers=("CKV_K8S_16", "azure-policy:95edb821-ddaf-4404-9732-666045e056b4"),
    ),
    _workload_rule(
        "kubernetes-apps-workload-disallow-host-namespaces",
        "Pods do not share the node's network, PID or IPC namespace.",
        Severity.HIGH,
        _HARDENING,
        "Remove hostNetwork, hostPID and hostIPC from the pod spec.",
        _check_host_namespaces,
        peers=("CKV_K8S_17", "CKV_K8S_18", "CKV_K8S_19"),
    ),
    _workload_rule(
        "kubernetes-apps-workload-disallow-secret-env-literals",
        "Credentials (HF_TOKEN, API keys, passwords) are not written into env values.",
        Severity.CRITICAL,
        (HIPAA_ACCESS, GDPR_CONFIDENTIALITY, GDPR_SECURITY, OWASP_DISCLOSURE),
        "Store the credential in a Secret and reference it with env[].valueFrom.secretKeyRef "
        "(or mount it as a file).",
        _check_secret_env,
        peers=("CKV_K8S_35",),
    ),
    _workload_rule(
        "kubernetes-apps-workload-require-image-digest",
        "Images are pinned by digest in the environments that require it (prod by default).",
        Severity.HIGH,
        (OWASP_SUPPLY_CHAIN, GDPR_SECURITY, HIPAA_INTEGRITY),
        "Reference the image as registry/repo@sha256:<digest> (serving.image in the deployment "
        "spec); workloads without an inferstack/environment label are treated as prod.",
        _check_digest,
        peers=("CKV_K8S_43",),
        settings=(
            strings_setting(
                "environments",
                "Values of the inferstack/environment label that require digests ('*' = all).",
                ("prod",),
            ),
        ),
    ),
    _workload_rule(
        "kubernetes-apps-workload-disallow-latest-tag",
        "Images never float on the latest tag (or no tag at all).",
        Severity.HIGH,
        (OWASP_SUPPLY_CHAIN, GDPR_SECURITY),
        "Pin a version tag or, better, a digest.",
        _check_latest,
        peers=("CKV_K8S_14",),
    ),
    _workload_rule(
        "kubernetes-apps-workload-restrict-image-registry",
        "Images come only from the allowed registries (when a list is configured).",
        Severity.HIGH,
        (OWASP_SUPPLY_CHAIN, GDPR_SECURITY),
        "Mirror the image into an allowed registry or add the registry to allowedRegistries.",
        _check_registry,
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
    _workload_rule(
        "kubernetes-apps-workload-disallow-token-automount",
        "Pods do not mount a Kubernetes API token they do not use.",
        Severity.LOW,
        (HIPAA_ACCESS, GDPR_BY_DESIGN),
        "Set automountServiceAccountToken: false in the pod spec.",
        _check_token_automount,
        peers=("CKV_K8S_38",),
        enforcement=Enforcement.ADVISORY,
    ),
)

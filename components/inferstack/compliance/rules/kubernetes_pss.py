"""The Pod Security Standards "restricted" profile, one rule per control.

Applied to every pod template a stack creates or patches (Deployment, StatefulSet, DaemonSet,
ReplicaSet, Job, CronJob, Pod) whatever the namespace's ``pod-security.kubernetes.io`` labels
say: admission may be off, in ``warn`` mode or exempt the namespace, so the pack does not rely
on it. Controls follow https://kubernetes.io/docs/concepts/security/pod-security-standards/.
Each control is its own rule so a finding names exactly one control; ``hostPath`` volumes are
reported by their own rule and left out of the volume-type rule, so one volume gives one finding.
"""

from __future__ import annotations

from typing import Any, Final

from inferstack.compliance.model import Rule, Severity
from inferstack.compliance.rules._common import GDPR_SECURITY, HIPAA_ACCESS
from inferstack.compliance.rules._k8s import (
    container_reads,
    pod_reads,
    workload_rule,
)
from inferstack.compliance.rules._pss import (
    APPARMOR_ANNOTATION,
    check_apparmor,
    check_capabilities,
    check_host_namespaces,
    check_host_path,
    check_host_ports,
    check_nonroot,
    check_privilege_escalation,
    check_privileged,
    check_proc_mount,
    check_root_uid,
    check_seccomp,
    check_selinux,
    check_sysctls,
    check_volume_types,
)

_HARDENING: Final = (HIPAA_ACCESS, GDPR_SECURITY)
_PSS: Final = "Pod Security Standards restricted: "


def _pss_rule(
    name: str,
    description: str,
    severity: Severity,
    remediation: str,
    check: Any,
    reads: tuple[str, ...],
    **extra: Any,
) -> Rule:
    """A baseline workload rule for one restricted control, mapped to the hardening controls."""
    return workload_rule(
        name, description, severity, _HARDENING, remediation, check, reads, **extra
    )


_POD_SPEC_ITSELF: Final = ("spec.template.spec", "spec.jobTemplate.spec.template.spec")

RULES: Final = (
    _pss_rule(
        "kubernetes-apps-workload-disallow-host-namespaces",
        f"{_PSS}pods do not share the node's network, PID or IPC namespace.",
        Severity.HIGH,
        "Remove hostNetwork, hostPID and hostIPC from the pod spec.",
        check_host_namespaces,
        (*_POD_SPEC_ITSELF, *pod_reads("hostNetwork", "hostPID", "hostIPC")),
        peers=("CKV_K8S_17", "CKV_K8S_18", "CKV_K8S_19"),
    ),
    _pss_rule(
        "kubernetes-apps-workload-disallow-privileged",
        f"{_PSS}containers do not run privileged.",
        Severity.CRITICAL,
        "Remove securityContext.privileged: true; GPUs are exposed by the device plugin, "
        "not by privileged mode.",
        check_privileged,
        container_reads("securityContext.privileged"),
        peers=("CKV_K8S_16", "azure-policy:95edb821-ddaf-4404-9732-666045e056b4"),
    ),
    _pss_rule(
        "kubernetes-apps-workload-require-drop-all-capabilities",
        f"{_PSS}containers drop ALL Linux capabilities (only NET_BIND_SERVICE may be added).",
        Severity.MEDIUM,
        "Set securityContext.capabilities.drop: [ALL] and add nothing but NET_BIND_SERVICE.",
        check_capabilities,
        container_reads(
            "securityContext.capabilities.drop",
            "securityContext.capabilities.drop[*]",
            "securityContext.capabilities.add",
            "securityContext.capabilities.add[*]",
        ),
        peers=("CKV_K8S_37", "CKV_K8S_28"),
    ),
    _pss_rule(
        "kubernetes-apps-workload-disallow-host-path",
        f"{_PSS}pods mount no hostPath volume.",
        Severity.CRITICAL,
        "Use an emptyDir, a generic ephemeral volume or a PersistentVolumeClaim instead of a "
        "hostPath volume.",
        check_host_path,
        (*_POD_SPEC_ITSELF, *pod_reads("volumes", "volumes[*].*")),
        peers=("CKV_K8S_27",),
    ),
    _pss_rule(
        "kubernetes-apps-workload-disallow-host-ports",
        f"{_PSS}containers bind no host port.",
        Severity.HIGH,
        "Remove ports[].hostPort; expose the server through a Service.",
        check_host_ports,
        container_reads("ports", "ports[*].hostPort"),
    ),
    _pss_rule(
        "kubernetes-apps-workload-restrict-apparmor-profile",
        f"{_PSS}AppArmor is RuntimeDefault or a Localhost profile, never unconfined.",
        Severity.MEDIUM,
        "Remove the Unconfined AppArmor profile (securityContext.appArmorProfile or the "
        f"{APPARMOR_ANNOTATION}<container> annotation) or use RuntimeDefault.",
        check_apparmor,
        (
            *_POD_SPEC_ITSELF,
            *pod_reads("securityContext.appArmorProfile.type"),
            *container_reads("securityContext.appArmorProfile.type"),
            "spec.template.metadata.annotations.*",
            "spec.jobTemplate.spec.template.metadata.annotations.*",
            "metadata.annotations.*",
        ),
    ),
    _pss_rule(
        "kubernetes-apps-workload-restrict-selinux-options",
        f"{_PSS}SELinux options set no custom user or role and only container types.",
        Severity.MEDIUM,
        "Remove seLinuxOptions.user and role; keep type unset or one of container_t, "
        "container_init_t, container_kvm_t, container_engine_t.",
        check_selinux,
        (
            *_POD_SPEC_ITSELF,
            *pod_reads("securityContext", "securityContext.seLinuxOptions.*"),
            *container_reads("securityContext", "securityContext.seLinuxOptions.*"),
        ),
    ),
    _pss_rule(
        "kubernetes-apps-workload-restrict-proc-mount",
        f"{_PSS}containers keep the default masked /proc mount.",
        Severity.HIGH,
        "Remove securityContext.procMount (or set it to Default).",
        check_proc_mount,
        container_reads("securityContext.procMount"),
    ),
    _pss_rule(
        "kubernetes-apps-workload-require-seccomp-profile",
        f"{_PSS}containers run under the RuntimeDefault (or a Localhost) seccomp profile.",
        Severity.MEDIUM,
        "Set securityContext.seccompProfile.type: RuntimeDefault on the pod.",
        check_seccomp,
        (
            *pod_reads("securityContext.seccompProfile.type"),
            *container_reads("securityContext.seccompProfile.type"),
        ),
        peers=("CKV_K8S_31",),
    ),
    _pss_rule(
        "kubernetes-apps-workload-restrict-sysctls",
        f"{_PSS}pods set only the safe, namespaced sysctls.",
        Severity.HIGH,
        "Remove securityContext.sysctls entries outside the Pod Security Standards safe set.",
        check_sysctls,
        (
            *_POD_SPEC_ITSELF,
            *pod_reads("securityContext.sysctls", "securityContext.sysctls[*].name"),
        ),
    ),
    _pss_rule(
        "kubernetes-apps-workload-restrict-volume-types",
        f"{_PSS}volumes are configMap, csi, downwardAPI, emptyDir, ephemeral, "
        "persistentVolumeClaim, projected or secret.",
        Severity.HIGH,
        "Replace the volume with one of the allowed types (a PersistentVolumeClaim for "
        "network storage).",
        check_volume_types,
        (*_POD_SPEC_ITSELF, *pod_reads("volumes", "volumes[*].*")),
    ),
    _pss_rule(
        "kubernetes-apps-workload-disallow-privilege-escalation",
        f"{_PSS}containers explicitly forbid privilege escalation.",
        Severity.HIGH,
        "Set securityContext.allowPrivilegeEscalation: false on every container.",
        check_privilege_escalation,
        container_reads("securityContext.allowPrivilegeEscalation"),
        peers=("CKV_K8S_20",),
    ),
    _pss_rule(
        "kubernetes-apps-workload-require-nonroot",
        f"{_PSS}containers must run as non-root (runAsNonRoot: true).",
        Severity.HIGH,
        "Set securityContext.runAsNonRoot: true on the pod or every container.",
        check_nonroot,
        (
            *pod_reads("securityContext.runAsNonRoot"),
            *container_reads("securityContext.runAsNonRoot"),
        ),
        peers=("CKV_K8S_23",),
    ),
    _pss_rule(
        "kubernetes-apps-workload-disallow-root-uid",
        f"{_PSS}no container sets runAsUser 0.",
        Severity.HIGH,
        "Set a non-zero securityContext.runAsUser (the image's unprivileged user) or leave it "
        "unset with runAsNonRoot: true.",
        check_root_uid,
        (*pod_reads("securityContext.runAsUser"), *container_reads("securityContext.runAsUser")),
        peers=("CKV_K8S_40",),
    ),
)

"""Checks of the Pod Security Standards "restricted" controls (rules: ``kubernetes_pss``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from inferstack.compliance.model import Report, Resource, RuleConfig
from inferstack.compliance.props import MISSING, UNKNOWN, as_bool, as_number, elements, get, keys
from inferstack.compliance.rules._common import unverifiable
from inferstack.compliance.rules._k8s import (
    Container,
    effective,
    pod,
    pod_spec_path,
)

ALLOWED_ADDED_CAPABILITIES: Final = frozenset({"NET_BIND_SERVICE"})
ALLOWED_SECCOMP: Final = frozenset({"RuntimeDefault", "Localhost"})
ALLOWED_APPARMOR: Final = frozenset({"RuntimeDefault", "Localhost"})
APPARMOR_ANNOTATION: Final = "container.apparmor.security.beta.kubernetes.io/"
ALLOWED_SELINUX_TYPES: Final = frozenset(
    {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)
SAFE_SYSCTLS: Final = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
ALLOWED_VOLUME_TYPES: Final = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
HOST_PATH: Final = "hostPath"


def _known(report: Report, path: str, value: Any) -> bool:
    if value is UNKNOWN:
        report(unverifiable(path))
        return False
    return True


def _settings(
    res: Resource, report: Report, key: str, *inner: str, inherited: bool = False
) -> Iterator[tuple[Container, Any]]:
    """Each container with its known ``securityContext.<key>[.<inner>]``; unknown ones are
    reported. With ``inherited``, a container that sets no ``key`` has the pod's."""
    spec, items, _ = pod(res, report)
    for container in items:
        outer = (
            effective(container, spec, key) if inherited else container.get("securityContext", key)
        )
        value = get(outer, *inner)
        path = ".".join((f"{container.path}.securityContext", key, *inner))
        if _known(report, path, value):
            yield container, value


def check_nonroot(res: Resource, report: Report, cfg: RuleConfig) -> None:
    for container, value in _settings(res, report, "runAsNonRoot", inherited=True):
        if as_bool(value) is not True:
            report(f"{container.label} does not set securityContext.runAsNonRoot: true")


def check_root_uid(res: Resource, report: Report, cfg: RuleConfig) -> None:
    for container, value in _settings(res, report, "runAsUser", inherited=True):
        if as_number(value) == 0:
            report(f"{container.label} runs as user 0 (root)")


def check_privilege_escalation(res: Resource, report: Report, cfg: RuleConfig) -> None:
    for container, value in _settings(res, report, "allowPrivilegeEscalation"):
        if as_bool(value) is not False:
            report(
                f"{container.label} does not set securityContext.allowPrivilegeEscalation: false"
            )


def check_capabilities(res: Resource, report: Report, cfg: RuleConfig) -> None:
    _, items, _ = pod(res, report)
    for container in items:
        where = f"{container.path}.securityContext.capabilities"
        dropped = elements(container.value, "securityContext", "capabilities", "drop")
        added = elements(container.value, "securityContext", "capabilities", "add")
        if UNKNOWN in dropped or UNKNOWN in added:
            report(unverifiable(where, "a capability name is known only after deploy"))
            continue
        if "ALL" not in dropped:
            report(f"{container.label} does not drop ALL capabilities")
        extra = {str(item) for item in added if str(item) not in ALLOWED_ADDED_CAPABILITIES}
        if extra:
            report(f"{container.label} adds capabilities {sorted(extra)}")


def check_seccomp(res: Resource, report: Report, cfg: RuleConfig) -> None:
    for container, kind in _settings(res, report, "seccompProfile", "type", inherited=True):
        if kind not in ALLOWED_SECCOMP:
            report(f"{container.label} has no RuntimeDefault or Localhost seccomp profile")


def check_privileged(res: Resource, report: Report, cfg: RuleConfig) -> None:
    for container, value in _settings(res, report, "privileged"):
        if as_bool(value) is True:
            report(f"{container.label} runs privileged")


def check_host_namespaces(res: Resource, report: Report, cfg: RuleConfig) -> None:
    spec, _, base = pod(res, report)
    if spec is None or spec is MISSING:
        return
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        value = get(spec, field)
        if _known(report, f"{base}{field}", value) and as_bool(value) is True:
            report(f"the pod shares the node's namespace ({field}: true)")


def _volumes(spec: Any, base: str, report: Report) -> list[tuple[Any, str, set[str]]]:
    """(volume, name, volume source keys) of each volume; unknown volumes are reported."""
    found: list[tuple[Any, str, set[str]]] = []
    for index, volume in enumerate(elements(spec, "volumes")):
        if not _known(report, f"{base}volumes[{index}]", volume):
            continue
        name = get(volume, "name")
        sources = set(keys(volume)) - {"name"}
        found.append((volume, name if isinstance(name, str) else f"volumes[{index}]", sources))
    return found


def check_host_path(res: Resource, report: Report, cfg: RuleConfig) -> None:
    spec, _, base = pod(res, report)
    if spec is None or spec is MISSING:
        return
    for volume, name, sources in _volumes(spec, base, report):
        if HOST_PATH in sources:
            where = get(volume, HOST_PATH, "path")
            shown = where if isinstance(where, str) else "a node path"
            report(f"volume '{name}' mounts {shown} from the node (hostPath)")


def check_volume_types(res: Resource, report: Report, cfg: RuleConfig) -> None:
    spec, _, base = pod(res, report)
    if spec is None or spec is MISSING:
        return
    for _, name, sources in _volumes(spec, base, report):
        others = sorted(sources - ALLOWED_VOLUME_TYPES - {HOST_PATH})
        if others:
            report(f"volume '{name}' is of type {', '.join(others)}, not allowed under restricted")


def check_host_ports(res: Resource, report: Report, cfg: RuleConfig) -> None:
    _, items, _ = pod(res, report)
    for container in items:
        for index, port in enumerate(elements(container.value, "ports")):
            path = f"{container.path}.ports[{index}]"
            if not _known(report, path, port):
                continue
            host_port = get(port, "hostPort")
            if _known(report, f"{path}.hostPort", host_port) and as_number(host_port) not in (
                None,
                0.0,
            ):
                report(f"{container.label} binds host port {host_port}")


def check_apparmor(res: Resource, report: Report, cfg: RuleConfig) -> None:
    spec, items, base = pod(res, report)
    if spec is None or spec is MISSING:
        return
    kind = get(spec, "securityContext", "appArmorProfile", "type")
    path = f"{base}securityContext.appArmorProfile.type"
    if _known(report, path, kind) and kind not in (MISSING, None, *ALLOWED_APPARMOR):
        report(f"the pod's AppArmor profile is {kind}")
    for container in items:
        kind = container.get("securityContext", "appArmorProfile", "type")
        path = f"{container.path}.securityContext.appArmorProfile.type"
        if _known(report, path, kind) and kind not in (MISSING, None, *ALLOWED_APPARMOR):
            report(f"{container.label} has AppArmor profile {kind}")
    annotations = (*pod_spec_path(res.resource_type)[:-1], "metadata", "annotations")
    for key in keys(res.props, *annotations):
        if not key.startswith(APPARMOR_ANNOTATION):
            continue
        value = get(res.props, *annotations, key)
        path = ".".join(annotations) + f".{key}"
        if _known(report, path, value) and not (
            value == "runtime/default" or str(value).startswith("localhost/")
        ):
            report(f"annotation {key} sets AppArmor profile {value}")


def _selinux_problem(options: Any) -> str | None:
    kind, user, role = (get(options, key) for key in ("type", "user", "role"))
    if kind not in (MISSING, None) and kind not in ALLOWED_SELINUX_TYPES:
        return f"SELinux type {kind}"
    for key, value in (("user", user), ("role", role)):
        if value not in (MISSING, None, ""):
            return f"a custom SELinux {key} ({value})"
    return None


def check_selinux(res: Resource, report: Report, cfg: RuleConfig) -> None:
    spec, items, base = pod(res, report)
    if spec is None or spec is MISSING:
        return
    subjects: list[tuple[str, str, Any]] = [
        (f"{base}securityContext.seLinuxOptions", "the pod", get(spec, "securityContext"))
    ]
    subjects += [
        (f"{c.path}.securityContext.seLinuxOptions", c.label, c.get("securityContext"))
        for c in items
    ]
    for path, label, context in subjects:
        options = get(context, "seLinuxOptions")
        values = [options, *(get(options, key) for key in ("type", "user", "role"))]
        if UNKNOWN in values:
            report(unverifiable(path))
            continue
        problem = _selinux_problem(options)
        if problem:
            report(f"{label} sets {problem}")


def check_proc_mount(res: Resource, report: Report, cfg: RuleConfig) -> None:
    for container, value in _settings(res, report, "procMount"):
        if value not in (MISSING, None, "Default"):
            report(f"{container.label} mounts /proc unmasked (procMount: {value})")


def check_sysctls(res: Resource, report: Report, cfg: RuleConfig) -> None:
    spec, _, base = pod(res, report)
    if spec is None or spec is MISSING:
        return
    for index, sysctl in enumerate(elements(spec, "securityContext", "sysctls")):
        name = get(sysctl, "name")
        path = f"{base}securityContext.sysctls[{index}].name"
        if _known(report, path, name) and name not in SAFE_SYSCTLS:
            report(f"the pod sets sysctl {name}, which is not in the safe set")

"""Fixtures for the Pod Security Standards "restricted" controls that have their own rule."""

from __future__ import annotations

from typing import Final

from cases_kubernetes import C0, CRONJOB, SC, SPEC, WORKLOAD, deployment
from policy_cases import Case, bad, ok
from policy_harness import Res, patched

P: Final = "kubernetes-apps-workload-"
JOB_SPEC: Final = ("spec", "jobTemplate", "spec", "template", "spec")


def _cronjob(*changes: tuple[tuple[str | int, ...], object]) -> Res:
    props = {
        "metadata": WORKLOAD["metadata"],
        "spec": {
            "schedule": "0 3 * * *",
            "jobTemplate": {"spec": {"template": WORKLOAD["spec"]["template"]}},
        },
    }
    return Res(CRONJOB, "nightly-eval", patched(props, *changes))


CASES: Final[list[Case]] = [
    ok(f"{P}disallow-host-path", "emptydir", deployment()),
    ok(f"{P}disallow-host-path", "cronjob", _cronjob()),
    bad(
        f"{P}disallow-host-path",
        "root-of-node",
        deployment(((*SPEC, "volumes", 0), {"name": "cache", "hostPath": {"path": "/"}})),
        "mounts / from the node",
    ),
    bad(
        f"{P}disallow-host-path",
        "cronjob-host-path",
        _cronjob(((*JOB_SPEC, "volumes", 0), {"name": "cache", "hostPath": {"path": "/var"}})),
        "hostPath",
    ),
    ok(f"{P}restrict-volume-types", "emptydir", deployment()),
    ok(
        f"{P}restrict-volume-types",
        "host-path-left-to-its-rule",
        deployment(((*SPEC, "volumes", 0), {"name": "cache", "hostPath": {"path": "/"}})),
    ),
    bad(
        f"{P}restrict-volume-types",
        "nfs",
        deployment(((*SPEC, "volumes", 0), {"name": "cache", "nfs": {"server": "x", "path": "/"}})),
        "of type nfs",
    ),
    ok(f"{P}disallow-host-ports", "container-port-only", deployment()),
    bad(
        f"{P}disallow-host-ports",
        "host-port",
        deployment(((*C0, "ports", 0, "hostPort"), 8000)),
        "host port 8000",
    ),
    ok(f"{P}restrict-apparmor-profile", "unset", deployment()),
    ok(
        f"{P}restrict-apparmor-profile",
        "runtime-default",
        deployment(((*SC, "appArmorProfile"), {"type": "RuntimeDefault"})),
    ),
    ok(
        f"{P}restrict-apparmor-profile",
        "pod-runtime-default-and-annotation",
        deployment(
            ((*SPEC, "securityContext", "appArmorProfile"), {"type": "RuntimeDefault"}),
            (
                (*SPEC[:-1], "metadata", "annotations"),
                {"container.apparmor.security.beta.kubernetes.io/vllm": "runtime/default"},
            ),
        ),
    ),
    bad(
        f"{P}restrict-apparmor-profile",
        "unconfined",
        deployment(((*SPEC, "securityContext", "appArmorProfile"), {"type": "Unconfined"})),
        "Unconfined",
    ),
    bad(
        f"{P}restrict-apparmor-profile",
        "unconfined-annotation",
        deployment(
            (
                (*SPEC[:-1], "metadata", "annotations"),
                {"container.apparmor.security.beta.kubernetes.io/vllm": "unconfined"},
            )
        ),
        "unconfined",
    ),
    ok(f"{P}restrict-selinux-options", "unset", deployment()),
    ok(
        f"{P}restrict-selinux-options",
        "container-type",
        deployment(((*SC, "seLinuxOptions"), {"type": "container_t", "level": "s0:c1,c2"})),
    ),
    bad(
        f"{P}restrict-selinux-options",
        "spc-type",
        deployment(((*SC, "seLinuxOptions"), {"type": "spc_t"})),
        "spc_t",
    ),
    bad(
        f"{P}restrict-selinux-options",
        "custom-user",
        deployment(((*SPEC, "securityContext", "seLinuxOptions"), {"user": "system_u"})),
        "SELinux user",
    ),
    ok(f"{P}restrict-proc-mount", "default", deployment(((*SC, "procMount"), "Default"))),
    bad(
        f"{P}restrict-proc-mount",
        "unmasked",
        deployment(((*SC, "procMount"), "Unmasked")),
        "procMount: Unmasked",
    ),
    ok(
        f"{P}restrict-sysctls",
        "safe",
        deployment(
            (
                (*SPEC, "securityContext", "sysctls"),
                [{"name": "net.ipv4.tcp_syncookies", "value": "1"}],
            )
        ),
    ),
    bad(
        f"{P}restrict-sysctls",
        "unsafe",
        deployment(
            ((*SPEC, "securityContext", "sysctls"), [{"name": "kernel.msgmax", "value": "65536"}])
        ),
        "kernel.msgmax",
    ),
]

"""Where the pod spec and containers live in each Kubernetes workload type."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from inferstack.compliance.model import Report, Rule, Setting, Severity
from inferstack.compliance.props import MISSING, UNKNOWN, dotted, get
from inferstack.compliance.rules._common import unverifiable

DEPLOYMENT: Final = "kubernetes:apps/v1:Deployment"
STATEFULSET: Final = "kubernetes:apps/v1:StatefulSet"
DAEMONSET: Final = "kubernetes:apps/v1:DaemonSet"
REPLICASET: Final = "kubernetes:apps/v1:ReplicaSet"
JOB: Final = "kubernetes:batch/v1:Job"
CRONJOB: Final = "kubernetes:batch/v1:CronJob"
POD: Final = "kubernetes:core/v1:Pod"
NAMESPACE: Final = "kubernetes:core/v1:Namespace"
SERVICE: Final = "kubernetes:core/v1:Service"
INGRESS: Final = "kubernetes:networking.k8s.io/v1:Ingress"
NETWORK_POLICY: Final = "kubernetes:networking.k8s.io/v1:NetworkPolicy"

WORKLOAD_TYPES: Final = (DEPLOYMENT, STATEFULSET, DAEMONSET, REPLICASET, JOB, CRONJOB, POD)

_POD_SPEC_PATHS: Final[Mapping[str, tuple[str, ...]]] = {
    POD: ("spec",),
    CRONJOB: ("spec", "jobTemplate", "spec", "template", "spec"),
}
_DEFAULT_POD_SPEC_PATH: Final = ("spec", "template", "spec")
CONTAINER_LISTS: Final = ("initContainers", "containers")


POD_SPEC_ROOTS: Final = ("spec.template.spec", "spec.jobTemplate.spec.template.spec", "spec")


def pod_reads(*paths: str) -> tuple[str, ...]:
    """Declared reads (see ``Rule.reads``) of pod spec fields, in every workload type."""
    return tuple(f"{root}.{path}" for root in POD_SPEC_ROOTS for path in paths)


def container_reads(*paths: str) -> tuple[str, ...]:
    """Declared reads of container fields (and the names findings quote), in every workload."""
    return pod_reads(
        *(
            f"{name}{suffix}"
            for name in CONTAINER_LISTS
            for suffix in ("", *(f"[*].{path}" for path in paths))
        )
    )


def pod_spec_path(resource_type: str) -> tuple[str, ...]:
    return _POD_SPEC_PATHS.get(resource_type, _DEFAULT_POD_SPEC_PATH)


def pod_template_labels_path(resource_type: str) -> tuple[str, ...]:
    return (*pod_spec_path(resource_type)[:-1], "metadata", "labels")


@dataclass(frozen=True)
class Container:
    label: str
    value: Any
    path: str = ""

    def get(self, *path: str | int) -> Any:
        return get(self.value, *path)


def pod_spec(props: Mapping[str, Any], resource_type: str, report: Report) -> Any:
    """The pod spec, or None after reporting it as unknown; MISSING when there is none."""
    path = pod_spec_path(resource_type)
    spec = get(props, *path)
    if spec is UNKNOWN:
        report(unverifiable(dotted(path), "the pod spec is known only after deploy"))
        return None
    return spec


def containers(spec: Any, report: Report, base: str = "") -> Iterator[Container]:
    """Every container and init container; unknown lists or items are reported, not skipped."""
    if spec is None or spec is MISSING:
        return
    for list_name in CONTAINER_LISTS:
        items = get(spec, list_name)
        if items is UNKNOWN:
            report(unverifiable(f"{base}{list_name}", "the containers are known only after deploy"))
            continue
        if items is MISSING or not hasattr(items, "__len__"):
            continue
        for index in range(len(items)):
            item = get(items, index)
            name = get(item, "name")
            label = f"{list_name}[{index}]"
            if isinstance(name, str):
                label = f"container '{name}'"
            if item is UNKNOWN:
                report(unverifiable(f"{base}{list_name}[{index}]", "known only after deploy"))
                continue
            yield Container(label, item, f"{base}{list_name}[{index}]")


def pod(res: Any, report: Report) -> tuple[Any, list[Container], str]:
    """The pod spec, its containers and the dotted path of the pod spec (``spec.template.spec``).

    An unknown pod spec or container list is reported as unverifiable; the spec is then None.
    """
    path = pod_spec_path(res.resource_type)
    spec = pod_spec(res.props, res.resource_type, report)
    base = ".".join(path) + "."
    return spec, list(containers(spec, report, base)), base


def container_refs() -> tuple[str, ...]:
    """Container names: only quoted in findings, so an unknown name changes no verdict."""
    return pod_reads(*(f"{name}[*].name" for name in CONTAINER_LISTS))


def effective(container: Container, spec: Any, key: str) -> Any:
    """A container's security setting, falling back to the pod's (the Kubernetes precedence)."""
    value = container.get("securityContext", key)
    if value is MISSING or value is None:
        return get(spec, "securityContext", key)
    return value


def workload_rule(
    name: str,
    description: str,
    severity: Severity,
    controls: tuple[str, ...],
    remediation: str,
    check: Any,
    reads: tuple[str, ...],
    peers: tuple[str, ...] = (),
    settings: tuple[Setting, ...] = (),
    **extra: Any,
) -> Rule:
    """A baseline rule over every pod-template workload type."""
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
        reads=reads,
        references=container_refs(),
        **extra,
    )

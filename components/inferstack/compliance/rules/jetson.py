"""Jetson fleets: PHI runs only on devices whose secure boot and disk encryption are verified.

A fleet workload is a DaemonSet that selects devices by the Jetson module label its provisioning
sets (``inferstack.io/jetson-module``) or carries the ``inferstack/fleet`` label. Under HIPAA each
of them must require, in every node selector term, the two labels an administrator sets only
after verifying the device: ``node-restriction.kubernetes.io/inferstack-secure-boot=enabled``
(fuses burned, signed boot chain) and
``node-restriction.kubernetes.io/inferstack-disk-encryption=enabled`` (root filesystem and model
cache on LUKS). Kubernetes' NodeRestriction admission plugin forbids a kubelet to set labels
under ``node-restriction.kubernetes.io/`` on its own Node, so a device cannot grant itself trust;
a trust label under any other prefix (``inferstack.io/secure-boot``) could be self-set and is
refused. A device that lost either label is drained of PHI workloads on the next rollout.
"""

from __future__ import annotations

from typing import Any, Final

from inferstack.compliance.model import Report, Resource, Rule, RuleConfig, Severity
from inferstack.compliance.props import UNKNOWN, elements, entries, get, keys
from inferstack.compliance.rules._common import (
    GDPR_SECURITY,
    HIPAA_ACCESS,
    HIPAA_ENCRYPTION,
    HIPAA_INTEGRITY,
    unverifiable,
)
from inferstack.compliance.rules._k8s import DAEMONSET

MODULE_LABEL: Final = "inferstack.io/jetson-module"
FLEET_LABEL: Final = "inferstack/fleet"
TRUST_PREFIX: Final = "node-restriction.kubernetes.io/"
TRUST_NAMES: Final = ("inferstack-secure-boot", "inferstack-disk-encryption")
TRUST_LABELS: Final = tuple(f"{TRUST_PREFIX}{name}" for name in TRUST_NAMES)
TRUSTED: Final = "enabled"
_POD: Final = ("spec", "template", "spec")
_TERMS: Final = (
    *_POD,
    "affinity",
    "nodeAffinity",
    "requiredDuringSchedulingIgnoredDuringExecution",
    "nodeSelectorTerms",
)
_TERMS_PATH: Final = ".".join(_TERMS)


def _self_set(label: str) -> bool:
    """A trust-looking label a device's own kubelet could set (outside the protected prefix)."""
    if label.startswith(TRUST_PREFIX):
        return False
    name = label.rsplit("/", 1)[-1].removeprefix("inferstack-")
    return name in ("secure-boot", "disk-encryption")


def _expressions(props: Any, report: Report) -> list[tuple[int, list[tuple[Any, Any]]]] | None:
    """(term index, [(expression, key)]) of every required node selector term; None if unknown."""
    found: list[tuple[int, list[tuple[Any, Any]]]] = []
    for index, term in enumerate(elements(props, *_TERMS)):
        pairs = []
        for position, expression in enumerate(elements(term, "matchExpressions")):
            key = get(expression, "key")
            if UNKNOWN in (term, expression, key):
                path = f"{_TERMS_PATH}[{index}].matchExpressions[{position}].key"
                report(
                    unverifiable(
                        path, "the node label a term selects on is known only after deploy"
                    )
                )
                return None
            pairs.append((expression, key))
        found.append((index, pairs))
    return found


def _is_fleet_workload(props: Any, terms: list[tuple[int, list[tuple[Any, Any]]]]) -> bool:
    if FLEET_LABEL in keys(props, "metadata", "labels"):
        return True
    if any(key == MODULE_LABEL for _, pairs in terms for _, key in pairs):
        return True
    return MODULE_LABEL in keys(props, *_POD, "nodeSelector")


def _requires(pairs: list[tuple[Any, Any]], label: str, report: Report, where: str) -> bool:
    for expression, key in pairs:
        if key != label:
            continue
        operator, values = get(expression, "operator"), elements(expression, "values")
        if operator is UNKNOWN or UNKNOWN in values:
            report(unverifiable(f"{where}.matchExpressions", "the required value is unknown"))
            return True
        if operator == "In" and values == [TRUSTED]:
            return True
    return False


def _check_device_trust(res: Resource, report: Report, cfg: RuleConfig) -> None:
    props = res.props
    terms = _expressions(props, report)
    if terms is None or not _is_fleet_workload(props, terms):
        return
    selector = dict(entries(props, *_POD, "nodeSelector"))
    for label, value in selector.items():
        if value is UNKNOWN and label in TRUST_LABELS:
            report(unverifiable(f"spec.template.spec.nodeSelector.{label}"))
            return
    self_set = sorted(
        {label for label in selector if _self_set(label)}
        | {str(key) for _, pairs in terms for _, key in pairs if _self_set(str(key))}
    )
    if self_set:
        report(
            f"trusts {', '.join(self_set)}, which a device's own kubelet can set on its Node; "
            f"use the {TRUST_PREFIX} labels that only an administrator can set"
        )
    from_selector = {label for label in TRUST_LABELS if selector.get(label) == TRUSTED}
    if not terms:
        missing = [label for label in TRUST_LABELS if label not in from_selector]
        if missing:
            report(
                f"schedules on devices without {' and '.join(f'{m}={TRUSTED}' for m in missing)}"
            )
        return
    for index, pairs in terms:
        where = f"{_TERMS_PATH}[{index}]"
        missing = [
            label
            for label in TRUST_LABELS
            if label not in from_selector and not _requires(pairs, label, report, where)
        ]
        if missing:
            required = " and ".join(f"{label}={TRUSTED}" for label in missing)
            report(f"node selector term {index} admits devices without {required}")


_TERM_READS: Final = (
    _TERMS_PATH,
    f"{_TERMS_PATH}[*]",
    f"{_TERMS_PATH}[*].matchExpressions",
    f"{_TERMS_PATH}[*].matchExpressions[*]",
    f"{_TERMS_PATH}[*].matchExpressions[*].key",
    f"{_TERMS_PATH}[*].matchExpressions[*].operator",
    f"{_TERMS_PATH}[*].matchExpressions[*].values",
    f"{_TERMS_PATH}[*].matchExpressions[*].values[*]",
)

RULES: Final = (
    Rule(
        name="kubernetes-apps-daemonset-require-device-trust",
        description=(
            "Jetson fleet workloads run only on devices an administrator labelled secure-boot "
            "and disk-encryption enabled, under the node-restriction.kubernetes.io/ prefix."
        ),
        severity=Severity.HIGH,
        resource_types=(DAEMONSET,),
        controls=(HIPAA_ACCESS, HIPAA_ENCRYPTION, HIPAA_INTEGRITY, GDPR_SECURITY),
        frameworks=frozenset({"hipaa"}),
        remediation=(
            "Set compute.fleet.device_trust (on by default with HIPAA or phi: true), or add "
            "required node affinity on node-restriction.kubernetes.io/inferstack-secure-boot="
            "enabled and node-restriction.kubernetes.io/inferstack-disk-encryption=enabled; an "
            "administrator labels devices only after verifying them (docs/targets/jetson.md)."
        ),
        check=_check_device_trust,
        reads=(
            "metadata.labels",
            "spec.template.spec.nodeSelector",
            "spec.template.spec.nodeSelector.*",
            *_TERM_READS,
        ),
    ),
)

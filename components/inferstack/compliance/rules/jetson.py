"""Jetson fleets: PHI runs only on devices whose secure boot and disk encryption are verified.

A fleet workload is a DaemonSet that selects devices by the Jetson module label its provisioning
sets (``inferstack.io/jetson-module``) or carries the ``inferstack/fleet`` label. Under HIPAA each
of them must require, in every node selector term, the two labels the provisioning sets only
after verifying the device: ``inferstack.io/secure-boot=enabled`` (fuses burned, signed boot
chain) and ``inferstack.io/disk-encryption=enabled`` (root filesystem and model cache on LUKS).
A device that lost either label is drained of PHI workloads by the scheduler on the next rollout.
"""

from __future__ import annotations

from typing import Any, Final

from inferstack.compliance.model import Report, Resource, Rule, RuleConfig, Severity
from inferstack.compliance.props import MISSING, UNKNOWN, elements, entries, get, keys
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
TRUST_LABELS: Final = ("inferstack.io/secure-boot", "inferstack.io/disk-encryption")
TRUSTED: Final = "enabled"
_POD: Final = ("spec", "template", "spec")
_TERMS: Final = (
    *_POD,
    "affinity",
    "nodeAffinity",
    "requiredDuringSchedulingIgnoredDuringExecution",
    "nodeSelectorTerms",
)


def _is_fleet_workload(props: Any) -> bool:
    if FLEET_LABEL in keys(props, "metadata", "labels"):
        return True
    for term in elements(props, *_TERMS):
        for expression in elements(term, "matchExpressions"):
            if get(expression, "key") == MODULE_LABEL:
                return True
    return MODULE_LABEL in keys(props, *_POD, "nodeSelector")


def _term_requires(term: Any, label: str) -> bool:
    for expression in elements(term, "matchExpressions"):
        if get(expression, "key") != label:
            continue
        values = elements(expression, "values")
        if get(expression, "operator") == "In" and values == [TRUSTED]:
            return True
    return False


def _check_device_trust(res: Resource, report: Report, cfg: RuleConfig) -> None:
    props = res.props
    if get(props, *_POD) is UNKNOWN or get(props, *_TERMS) is UNKNOWN:
        report(unverifiable("spec.template.spec.affinity"))
        return
    if not _is_fleet_workload(props):
        return
    selector = dict(entries(props, *_POD, "nodeSelector"))
    from_selector = {label for label in TRUST_LABELS if selector.get(label) == TRUSTED}
    terms = elements(props, *_TERMS)
    if get(props, *_TERMS) is MISSING or not terms:
        missing = [label for label in TRUST_LABELS if label not in from_selector]
        if missing:
            report(
                f"schedules on devices without {' and '.join(f'{m}={TRUSTED}' for m in missing)}"
            )
        return
    for index, term in enumerate(terms):
        missing = [
            label
            for label in TRUST_LABELS
            if label not in from_selector and not _term_requires(term, label)
        ]
        if missing:
            required = " and ".join(f"{label}={TRUSTED}" for label in missing)
            report(f"node selector term {index} admits devices without {required}")


RULES: Final = (
    Rule(
        name="kubernetes-apps-daemonset-require-device-trust",
        description=(
            "Jetson fleet workloads run only on devices labelled secure-boot and "
            "disk-encryption enabled."
        ),
        severity=Severity.HIGH,
        resource_types=(DAEMONSET,),
        controls=(HIPAA_ACCESS, HIPAA_ENCRYPTION, HIPAA_INTEGRITY, GDPR_SECURITY),
        frameworks=frozenset({"hipaa"}),
        remediation=(
            "Set compute.fleet.device_trust (on by default with HIPAA or phi: true), or add "
            "required node affinity on inferstack.io/secure-boot=enabled and "
            "inferstack.io/disk-encryption=enabled; label devices only after verifying them "
            "(docs/targets/jetson.md)."
        ),
        check=_check_device_trust,
    ),
)

"""Scheduled red-team scans: their reports are stored encrypted and kept no longer than set,
and a prod stack on a target that can scan has a scan scheduled.

garak reports quote every prompt sent and every answer received, the leaks included: they are
as sensitive as the traffic they test. The components mark what they create with the reserved
``inferstack/purpose`` label or tag (``red-team``, ``red-team-reports``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

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
from inferstack.compliance.props import UNKNOWN, get
from inferstack.compliance.rules._common import (
    GDPR_SECURITY,
    GDPR_STORAGE_LIMITATION,
    OWASP_DISCLOSURE,
    OWASP_INJECTION,
    strings_setting,
    unverifiable,
)
from inferstack.compliance.rules._k8s import CRONJOB, DEPLOYMENT
from inferstack.compliance.rules._stack import of_type

PURPOSE: Final = "inferstack/purpose"
ENVIRONMENT: Final = "inferstack/environment"
RETENTION: Final = "inferstack.io/retention-days"
PVC: Final = "kubernetes:core/v1:PersistentVolumeClaim"
SAGEMAKER_ENDPOINT: Final = "aws:sagemaker/endpoint:Endpoint"
TASK_DEFINITION: Final = "aws:ecs/taskDefinition:TaskDefinition"


def _check_report_volume(res: Resource, report: Report, cfg: RuleConfig) -> None:
    purpose = get(res.props, "metadata", "labels", PURPOSE)
    if purpose is UNKNOWN:
        report(unverifiable(f"metadata.labels.{PURPOSE}", "the volume's purpose is unknown"))
        return
    if purpose != "red-team-reports":
        return
    storage_class = get(res.props, "spec", "storageClassName")
    if storage_class is UNKNOWN:
        report(unverifiable("spec.storageClassName"))
    elif not isinstance(storage_class, str) or not storage_class:
        report(
            f"red-team report volume '{res.name}' names no storage class: the cluster default "
            "is not known to encrypt at rest"
        )
    days = get(res.props, "metadata", "annotations", RETENTION)
    if days is UNKNOWN:
        report(unverifiable(f"metadata.annotations.{RETENTION}"))
    elif not (isinstance(days, str) and days.isdigit() and int(days) > 0):
        report(f"red-team report volume '{res.name}' declares no retention ({RETENTION})")


def _environment(resource: StackResource) -> object:
    root = "tags" if resource.resource_type.startswith("aws:") else "metadata"
    path = (root, ENVIRONMENT) if root == "tags" else (root, "labels", ENVIRONMENT)
    return get(resource.props, *path)


def _purpose(resource: StackResource) -> object:
    if resource.resource_type.startswith("aws:"):
        return get(resource.props, "tags", PURPOSE)
    return get(resource.props, "metadata", "labels", PURPOSE)


def _check_schedule(resources: Sequence[StackResource], report: Report, cfg: RuleConfig) -> None:
    environments = set(cfg.strings("environments"))
    serving = [
        r
        for r in of_type(resources, DEPLOYMENT, SAGEMAKER_ENDPOINT)
        # An unknown environment counts as one that needs scans: advisory either way.
        if (env := _environment(r)) is UNKNOWN or env in environments
    ]
    if not serving:
        return
    scans = [
        r for r in of_type(resources, CRONJOB, TASK_DEFINITION) if _purpose(r) in ("red-team",)
    ]
    if scans:
        return
    # The same resource in preview and update: the engine's resource order is not fixed.
    first = min(serving, key=lambda r: r.urn)
    report(
        f"'{first.name}' serves a model in a {', '.join(sorted(environments))} stack with no "
        "scheduled red-team scan; set security.red_team",
        first.urn,
    )


RULES: Final = (
    Rule(
        name="kubernetes-redteam-volume-require-encrypted-retention",
        description="Red-team report volumes name a storage class (which must encrypt at "
        "rest) and declare how long reports are kept.",
        severity=Severity.HIGH,
        resource_types=(PVC,),
        controls=(OWASP_DISCLOSURE, GDPR_SECURITY, GDPR_STORAGE_LIMITATION),
        frameworks=frozenset({"owasp-llm", "gdpr"}),
        remediation="Set inferstack:kubernetes.red_team.storage_class_name to a class that "
        "encrypts at rest, and keep security.red_team.report_retention_days.",
        check=_check_report_volume,
        reads=(
            f"metadata.labels.{PURPOSE}",
            "spec.storageClassName",
            f"metadata.annotations.{RETENTION}",
        ),
    ),
    Rule(
        name="all-redteam-schedule-require-prod-scan",
        description="A prod stack on a target with scheduled scans (onprem, sagemaker) runs "
        "garak against its gateway on a schedule.",
        severity=Severity.MEDIUM,
        resource_types=(DEPLOYMENT, SAGEMAKER_ENDPOINT, CRONJOB, TASK_DEFINITION),
        controls=(OWASP_INJECTION,),
        frameworks=frozenset({"baseline"}),
        remediation="Add security.red_team with the garak image by digest (docs/red-team.md).",
        check=_check_schedule,
        scope=Scope.STACK,
        enforcement=Enforcement.ADVISORY,
        settings=(
            strings_setting(
                "environments",
                "Environments (inferstack/environment label or tag) whose stacks should scan.",
                ("prod",),
            ),
        ),
        reads=(
            f"metadata.labels.{PURPOSE}",
            f"tags.{PURPOSE}",
        ),
        references=(f"metadata.labels.{ENVIRONMENT}", f"tags.{ENVIRONMENT}"),
    ),
)

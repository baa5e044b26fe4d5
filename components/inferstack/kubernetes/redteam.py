"""Scheduled garak scans of the gateway (and optionally the model) on the service's cluster.

Per schedule a CronJob (no overlap, a deadline, no retries, Pod Security ``restricted``) with
one container per target; its own ServiceAccount without a token; a ConfigMap with garak's
config and generator options; an encrypted PVC for the reports, pruned after
``report_retention_days`` by the image's runner. NetworkPolicies: the scan pods may reach the
gateway (and the model when asked) and DNS only; the gateway and the model admit them.
"""

from __future__ import annotations

from typing import Any, Final

from inferstack.deployment import DeploymentSpec, SecretRef
from inferstack.deployment.types import RedTeamTarget
from inferstack.errors import SpecError
from inferstack.kubernetes.args import LLMServiceArgs
from inferstack.kubernetes.plan import ServingPlan
from inferstack.kubernetes.pod import container_security_context, pod_security_context
from inferstack.kubernetes.workload import metadata, volume_claim
from inferstack.redteam import RedTeamPlan, Scan, red_team_plan
from inferstack.redteam.garak import (
    API_KEY_ENV,
    CONFIG_DIR,
    DEADLINE_SECONDS,
    REPORT_DIR,
    SCRATCH_ENV,
)
from inferstack.redteam.plan import Scheduled

Manifest = dict[str, Any]

COMPONENT: Final = "red-team"
GATEWAY_COMPONENT: Final = "gateway"
GATEWAY_PORT: Final = 4000
RETENTION_ANNOTATION: Final = "inferstack.io/retention-days"
# What the policy packs look for (a reserved key: no user tag can set it).
PURPOSE_LABEL: Final = "inferstack/purpose"
KEEP_FINISHED_SECONDS: Final = 86400


def _name(plan: ServingPlan, suffix: str = "") -> str:
    return f"{plan.names.base}-{COMPONENT}{'-' + suffix if suffix else ''}"


def _labels(plan: ServingPlan, purpose: str = COMPONENT) -> dict[str, str]:
    return {**plan.labels, "app.kubernetes.io/component": COMPONENT, PURPOSE_LABEL: purpose}


def pod_selector(plan: ServingPlan) -> dict[str, str]:
    return {
        "app.kubernetes.io/instance": plan.labels["app.kubernetes.io/instance"],
        "app.kubernetes.io/component": COMPONENT,
    }


def gateway_selector(plan: ServingPlan) -> dict[str, str]:
    return {
        "app.kubernetes.io/instance": plan.labels["app.kubernetes.io/instance"],
        "app.kubernetes.io/component": GATEWAY_COMPONENT,
    }


def scan_plan(spec: DeploymentSpec, plan: ServingPlan) -> RedTeamPlan | None:
    names = plan.names
    return red_team_plan(
        spec,
        gateway_uri=f"http://{names.base}-gateway.{names.namespace}.svc:{GATEWAY_PORT}/v1",
        model_uri=f"http://{names.service}.{names.namespace}.svc:{plan.port}/v1",
        model_name=plan.model.served_name,
    )


def red_team_manifests(
    spec: DeploymentSpec, plan: ServingPlan, args: LLMServiceArgs
) -> list[Manifest]:
    """Everything the scans need; empty without ``security.red_team``."""
    scans = scan_plan(spec, plan)
    if scans is None:
        return []
    storage = args.red_team
    if storage.storage_class_name is None:
        raise SpecError(
            "inferstack:kubernetes.red_team.storage_class_name",
            "scan reports quote prompts and answers and need a storage class that encrypts at rest",
            "name one (e.g. an encrypted Ceph RBD class)",
        )
    key = storage.api_key_secret or SecretRef(name=_name(plan), key="api-key")
    manifests: list[Manifest] = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": metadata(_name(plan), _labels(plan), plan.namespace),
            # The scans never call the Kubernetes API.
            "automountServiceAccountToken": False,
        },
        config_map(plan, scans),
        report_claim(plan, storage.storage_class_name, storage.size_gi, scans.retention_days),
    ]
    manifests += [cron_job(plan, run, scans, key) for run in scans.runs]
    manifests += network_policies(plan, scans.targets)
    return manifests


def config_map(plan: ServingPlan, scans: RedTeamPlan) -> Manifest:
    data: dict[str, str] = {}
    for run in scans.runs:
        for scan in run.scans:
            data.update(scan.files())
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(_name(plan, "config"), _labels(plan), plan.namespace),
        "data": dict(sorted(data.items())),
    }


def report_claim(plan: ServingPlan, storage_class: str, size_gi: int, days: int) -> Manifest:
    # WaitForFirstConsumer classes bind when the first scan starts.
    return volume_claim(
        metadata(_name(plan, "reports"), _labels(plan, "red-team-reports"), plan.namespace),
        {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": storage_class,
            "resources": {"requests": {"storage": f"{size_gi}Gi"}},
        },
        {RETENTION_ANNOTATION: str(days)},
    )


def _container(scan: Scan, image: str, days: int, key: SecretRef) -> Manifest:
    return {
        "name": f"scan-{scan.target}",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": scan.runner_command(days),
        "env": [
            {
                "name": API_KEY_ENV,
                "valueFrom": {"secretKeyRef": {"name": key.name, "key": key.key}},
            },
            *({"name": name, "value": value} for name, value in SCRATCH_ENV.items()),
        ],
        "resources": {
            "requests": {"cpu": "500m", "memory": "2Gi"},
            "limits": {"cpu": "2", "memory": "4Gi"},
        },
        "securityContext": container_security_context(),
        "volumeMounts": [
            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "reports", "mountPath": REPORT_DIR},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }


def cron_job(plan: ServingPlan, run: Scheduled, scans: RedTeamPlan, key: SecretRef) -> Manifest:
    pod_labels = {**_labels(plan), **pod_selector(plan)}
    pod: Manifest = {
        "serviceAccountName": _name(plan),
        "automountServiceAccountToken": False,
        "restartPolicy": "Never",
        "securityContext": pod_security_context(),
        "containers": [
            _container(scan, scans.image, scans.retention_days, key) for scan in run.scans
        ],
        "volumes": [
            {"name": "config", "configMap": {"name": _name(plan, "config")}},
            {"name": "reports", "persistentVolumeClaim": {"claimName": _name(plan, "reports")}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "2Gi"}},
        ],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata(_name(plan, run.tier), _labels(plan), plan.namespace),
        "spec": {
            "schedule": run.schedule,
            "timeZone": "Etc/UTC",
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 3600,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": _labels(plan)},
                "spec": {
                    "backoffLimit": 0,
                    "activeDeadlineSeconds": DEADLINE_SECONDS[run.tier],
                    "ttlSecondsAfterFinished": KEEP_FINISHED_SECONDS,
                    "template": {"metadata": {"labels": pod_labels}, "spec": pod},
                },
            },
        },
    }


def _policy(plan: ServingPlan, name: str, spec: Manifest) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(_name(plan, name), _labels(plan), plan.namespace),
        "spec": spec,
    }


def network_policies(plan: ServingPlan, targets: tuple[RedTeamTarget, ...]) -> list[Manifest]:
    """Scan pods reach the gateway (and the model when asked); those admit the scan pods.

    DNS comes from the namespace's allow-dns policy; everything else stays denied by its
    default-deny policy.
    """
    scanners = {"podSelector": {"matchLabels": pod_selector(plan)}}
    gateway = {"podSelector": {"matchLabels": gateway_selector(plan)}}
    model = {"podSelector": {"matchLabels": dict(plan.selector)}}
    gateway_port = [{"protocol": "TCP", "port": GATEWAY_PORT}]
    model_port = [{"protocol": "TCP", "port": plan.port}]
    egress = [{"to": [gateway], "ports": gateway_port}]
    if "model" in targets:
        egress.append({"to": [model], "ports": model_port})
    policies = [
        _policy(
            plan,
            "egress",
            {**scanners, "policyTypes": ["Egress"], "egress": egress},
        ),
        _policy(
            plan,
            "to-gateway",
            {
                **gateway,
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [scanners], "ports": gateway_port}],
            },
        ),
    ]
    if "model" in targets:
        policies.append(
            _policy(
                plan,
                "to-model",
                {
                    **model,
                    "policyTypes": ["Ingress"],
                    "ingress": [{"from": [scanners], "ports": model_port}],
                },
            )
        )
    return policies


__all__ = ["red_team_manifests"]

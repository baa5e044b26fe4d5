"""The guard service the gateway calls: the LLM Guard API on CPU, its scanners from the spec.

Its models load when it starts (``lazy_load: false``), so the startupProbe waits for them (the
first start downloads them from the Hugging Face Hub into an emptyDir) and no request ever
waits for a model; it accepts traffic from the gateway's pods only.
"""

from __future__ import annotations

from typing import Any, Final

import yaml

from inferstack.guard import SCANNERS_FILE, scanners_config
from inferstack.guard.scanners import CONFIG_DIR
from inferstack.kubernetes.gateway import (
    GUARD,
    GUARD_PORT,
    FrontPlan,
    deployment,
    hardened_pod,
    scratch,
    service,
    service_account,
)
from inferstack.kubernetes.pod import container_security_context, probe
from inferstack.kubernetes.runtime_data import env, secret_env
from inferstack.kubernetes.workload import metadata

Manifest = dict[str, Any]

# The image's user home: the scanners' Hugging Face and spaCy caches live under it.
MODEL_CACHE: Final = "/home/user/.cache"
# Downloading and loading every scanner's model on a cold node takes minutes.
STARTUP_SECONDS: Final = 900


def config_map(front: FrontPlan) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(front.name(GUARD), front.labels(GUARD), front.namespace),
        "data": {SCANNERS_FILE: yaml.safe_dump(scanners_config(front.guard), sort_keys=False)},
    }


def guard_container(front: FrontPlan, mounts: list[Manifest]) -> Manifest:
    health = {"httpGet": {"path": "/healthz", "port": "http"}}
    return {
        "name": GUARD,
        "image": front.guard_image or "",
        "imagePullPolicy": "IfNotPresent",
        "env": [
            secret_env("AUTH_TOKEN", front.guard_token),
            env("HF_HUB_DISABLE_TELEMETRY", "1"),
            env("DO_NOT_TRACK", "1"),
            env("HF_HOME", f"{MODEL_CACHE}/huggingface"),
            env("PYTHONDONTWRITEBYTECODE", "1"),
        ],
        "ports": [{"name": "http", "containerPort": GUARD_PORT, "protocol": "TCP"}],
        "resources": {
            "requests": {"cpu": "2", "memory": "4Gi"},
            "limits": {"cpu": "4", "memory": "8Gi"},
        },
        "securityContext": container_security_context(),
        "volumeMounts": mounts,
        "startupProbe": probe(health, 10, 5, STARTUP_SECONDS // 10),
        "readinessProbe": probe({"httpGet": {"path": "/readyz", "port": "http"}}, 10, 5, 3),
        "livenessProbe": probe(health, 20, 10, 6),
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }


def guard_manifests(front: FrontPlan) -> list[Manifest]:
    """ServiceAccount, ConfigMap (scanners.yml), Deployment and Service; none without a guard."""
    if not front.guard.deployed:
        return []
    volumes, mounts = scratch("2Gi")
    volumes += [
        {"name": "config", "configMap": {"name": front.name(GUARD)}},
        {"name": "models", "emptyDir": {"sizeLimit": "10Gi"}},
    ]
    mounts += [
        {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
        {"name": "models", "mountPath": MODEL_CACHE},
    ]
    pod = hardened_pod(front, GUARD, guard_container(front, mounts), volumes)
    return [
        service_account(front, GUARD),
        config_map(front),
        deployment(front, GUARD, pod),
        service(front, GUARD, GUARD_PORT),
    ]

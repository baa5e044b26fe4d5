"""Building blocks of a hardened GPU serving pod, as plain manifest dicts (camelCase).

Pod Security ``restricted`` and a read-only root filesystem are kept; what the runtimes need
to write (Hugging Face, vLLM, Triton and TorchInductor caches, config, /tmp, /dev/shm) gets its
own emptyDir and environment variable instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from inferstack.kubernetes.budget import StartupBudget
from inferstack.kubernetes.downloads import download_command
from inferstack.kubernetes.layout import (
    MODEL_MOUNT,
    MODEL_VOLUME,
    RUN_AS,
    SCRATCH,
    SHM_VOLUME,
    TORCH_SCRATCH,
)
from inferstack.kubernetes.plan import ServingPlan
from inferstack.kubernetes.runtime_data import ServerCommand, env
from inferstack.kubernetes.server_commands import server_command

Manifest = dict[str, Any]

PYTHON_RUNTIMES = ("vllm", "tgi")
PRE_STOP_SLEEP_SECONDS = 15


def container_security_context() -> Manifest:
    """Non-root, read-only root, no privilege escalation, no capabilities, default seccomp."""
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "runAsGroup": RUN_AS,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_security_context() -> Manifest:
    # fsGroup makes the model cache volume writable by the non-root user.
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "runAsGroup": RUN_AS,
        "fsGroup": RUN_AS,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }


@dataclass(frozen=True)
class CacheLayout:
    """Volumes, their mounts and the env vars that point the runtime at them."""

    volumes: list[Manifest] = field(default_factory=list)
    mounts: list[Manifest] = field(default_factory=list)
    env: list[Manifest] = field(default_factory=list)


def cache_volumes(runtime: str, *, shm_gi: int = 0) -> CacheLayout:
    """emptyDirs for every path the runtime writes; /dev/shm in memory when ``shm_gi`` > 0."""
    entries = SCRATCH + (TORCH_SCRATCH if runtime in PYTHON_RUNTIMES else ())
    layout = CacheLayout()
    for volume, path, variables, size in entries:
        layout.volumes.append({"name": volume, "emptyDir": {"sizeLimit": size}})
        layout.mounts.append({"name": volume, "mountPath": path})
        layout.env.extend(env(variable, path) for variable in variables)
    if shm_gi > 0:
        # NCCL exchanges tensors between tensor-parallel workers through /dev/shm.
        layout.volumes.append(
            {"name": SHM_VOLUME, "emptyDir": {"medium": "Memory", "sizeLimit": f"{shm_gi}Gi"}}
        )
        layout.mounts.append({"name": SHM_VOLUME, "mountPath": "/dev/shm"})
    return layout


def shm_gi(plan: ServingPlan) -> int:
    """Shared memory for tensor parallelism: 2 GiB per GPU, none on a single GPU."""
    return 2 * plan.gpu_count if plan.gpu_count > 1 else 0


def model_volume(plan: ServingPlan) -> tuple[Manifest, Manifest]:
    """The model cache volume and its mount, per ``plan.model_cache`` and the model source."""
    mount: Manifest = {"name": MODEL_VOLUME, "mountPath": MODEL_MOUNT}
    if plan.model.scheme == "pvc":
        claim = {"claimName": plan.model.claim, "readOnly": True}
        return {"name": MODEL_VOLUME, "persistentVolumeClaim": claim}, {**mount, "readOnly": True}
    cache = plan.model_cache
    if cache.kind == "shared":
        claim = {"claimName": plan.names.model_cache}
        return {"name": MODEL_VOLUME, "persistentVolumeClaim": claim}, mount
    size = f"{plan.cache_size_gi}Gi"
    if cache.storage_class_name is None:
        return {"name": MODEL_VOLUME, "emptyDir": {"sizeLimit": size}}, mount
    template = {
        "metadata": {"labels": plan.labels},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": cache.storage_class_name,
            "resources": {"requests": {"storage": size}},
        },
    }
    return {"name": MODEL_VOLUME, "ephemeral": {"volumeClaimTemplate": template}}, mount


def probes(
    port: int | str,
    health_path: str,
    budget: StartupBudget,
    *,
    startup_failure_threshold: int | None = None,
) -> Manifest:
    """startupProbe sized by the budget; liveness and readiness only start after it passes.

    ``startup_failure_threshold`` replaces the budget's when the caller knows better how long a
    start takes (a device that also fetches its weights over a slow link).
    """
    check = {"httpGet": {"path": health_path, "port": port}}
    threshold = startup_failure_threshold or budget.startup_failure_threshold
    return {
        "startupProbe": probe(check, budget.period_seconds, 5, threshold),
        "readinessProbe": probe(check, 10, 5, 3),
        # A busy server answers /health slowly: be patient before restarting it.
        "livenessProbe": probe(check, 15, 10, 6),
    }


def probe(check: Manifest, period: int, timeout: int, failures: int) -> Manifest:
    """A probe running ``check`` every ``period`` seconds, each try given ``timeout`` seconds,
    that fails after ``failures`` tries in a row fail."""
    return {
        **check,
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": failures,
    }


def replica_resources(plan: ServingPlan) -> Manifest:
    """GPU requests equal to limits; CPU and host memory sized for loading the weights."""
    gpus = str(plan.gpu_count)
    cpu = 2 + 2 * plan.gpu_count
    memory = max(16, math.ceil(plan.weights_gb + 8)) + shm_gi(plan)
    return {
        "requests": {"cpu": str(cpu), "memory": f"{memory}Gi", "nvidia.com/gpu": gpus},
        "limits": {"cpu": str(cpu * 2), "memory": f"{memory}Gi", "nvidia.com/gpu": gpus},
    }


def scheduling(plan: ServingPlan, *, spread: bool = True) -> Manifest:
    """Node selection, GPU taint tolerations, spread across nodes and zones, GPU runtime class.

    ``spread``: False for DaemonSets, which place one pod per matching node anyway.
    """
    placement: Manifest = {}
    if plan.tolerations:
        placement["tolerations"] = [dict(t) for t in plan.tolerations]
    if spread:
        placement["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": key,
                # GPU nodes are scarce: prefer spreading, never leave a replica pending for it.
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": plan.selector},
            }
            for key in ("kubernetes.io/hostname", "topology.kubernetes.io/zone")
        ]
    if plan.node_selector:
        placement["nodeSelector"] = dict(plan.node_selector)
    if plan.runtime_class_name:
        placement["runtimeClassName"] = plan.runtime_class_name
    if plan.priority_class_name:
        placement["priorityClassName"] = plan.priority_class_name
    return placement


def server_container(
    plan: ServingPlan,
    layout: CacheLayout,
    model_mount: Manifest,
    *,
    resources: Manifest | None = None,
    startup_failure_threshold: int | None = None,
) -> Manifest:
    """The hardened server container.

    ``resources`` replaces :func:`replica_resources` (a device sizes memory to its own unified
    memory); ``startup_failure_threshold`` replaces the budget's startupProbe threshold.
    """
    command = server_command(plan)
    health = probes(
        "http",
        plan.health_path,
        plan.budget,
        startup_failure_threshold=startup_failure_threshold,
    )
    return {
        "name": "server",
        "image": plan.image,
        "imagePullPolicy": "IfNotPresent",
        "command": command.command,
        "args": command.args,
        "env": [*layout.env, *command.env],
        "ports": [{"name": "http", "containerPort": plan.port, "protocol": "TCP"}],
        "resources": resources if resources is not None else replica_resources(plan),
        "securityContext": container_security_context(),
        "volumeMounts": [model_mount, *layout.mounts],
        **health,
        # Let the endpoints controller and ingress stop routing before the server exits.
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(PRE_STOP_SLEEP_SECONDS)]}}},
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }


def download_container(
    plan: ServingPlan,
    layout: CacheLayout,
    model_mount: Manifest,
    *,
    image: str | None = None,
    command: ServerCommand | None = None,
) -> Manifest | None:
    """The init container that fills the model cache; None when the weights are on a volume.

    By default it runs the runtime's download in the runtime's own image (already pulled for the
    server). ``image`` and ``command`` replace them for images that cannot fetch (Ollama's has
    no HTTP client): e.g. :func:`gguf_download_command` in a small curl image.
    """
    fetch = command if command is not None else download_command(plan)
    if fetch is None:
        return None
    return {
        "name": "model-download",
        "image": image or plan.image,
        "imagePullPolicy": "IfNotPresent",
        "command": fetch.command,
        "args": fetch.args,
        "env": [*layout.env, *fetch.env],
        "resources": {
            "requests": {"cpu": "1", "memory": "2Gi"},
            "limits": {"cpu": "2", "memory": "4Gi"},
        },
        "securityContext": container_security_context(),
        "volumeMounts": [model_mount, *layout.mounts],
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }


def pod_spec(
    plan: ServingPlan,
    *,
    containers: list[Manifest] | None = None,
    volumes: list[Manifest] | None = None,
    spread: bool = True,
) -> Manifest:
    """The whole pod: hardened containers, caches, model volume, placement, graceful drain.

    Defaults build a Deployment's pod: the server, the download init container, the model
    volume of ``plan.model_cache`` and the cache emptyDirs. ``containers`` replaces the server
    and the init container (add ``initContainers`` to the result if needed); ``volumes``
    replaces every volume; ``spread=False`` drops the topology spread a DaemonSet does not need.
    """
    layout = cache_volumes(plan.runtime, shm_gi=shm_gi(plan))
    volume, mount = model_volume(plan)
    spec: Manifest = {
        "serviceAccountName": plan.names.service_account,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security_context(),
        **scheduling(plan, spread=spread),
        "terminationGracePeriodSeconds": plan.termination_grace_period_seconds,
        "containers": (
            containers if containers is not None else [server_container(plan, layout, mount)]
        ),
        "volumes": volumes if volumes is not None else [volume, *layout.volumes],
    }
    init = download_container(plan, layout, mount) if containers is None else None
    if init is not None:
        spec["initContainers"] = [init]
    if plan.image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in plan.image_pull_secrets]
    return spec

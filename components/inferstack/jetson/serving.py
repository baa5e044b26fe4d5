"""The serving DaemonSet of each device group, and the DaemonSets that stage the next release.

Pods are the Kubernetes target's hardened pods (:mod:`inferstack.kubernetes.pod`), with what a
device needs on top: required node affinity on its module and cohort, memory sized to its
unified memory, a startup budget that follows the site's link, and weights fetched into the
device cache from the site's mirror.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from typing import Any

from inferstack.jetson import gateway
from inferstack.jetson import labels as node_labels
from inferstack.jetson.guard_pod import guard_env, guard_fetch_container
from inferstack.jetson.plan import INIT_FETCH_RUNTIMES, Release, Workload
from inferstack.jetson.site import COMPONENT, PREPULL_COMPONENT, Site, short
from inferstack.kubernetes import pod, workload
from inferstack.kubernetes.downloads import download_command, gguf_download_command
from inferstack.kubernetes.layout import MODEL_MOUNT, MODEL_VOLUME
from inferstack.kubernetes.plan import ServingPlan
from inferstack.kubernetes.runtime_data import ServerCommand, env, gguf_path

Manifest = dict[str, Any]

# Fetches GGUF files for runtimes whose image has no HTTP client (Ollama). Multi-arch index
# digest, pinned in several public repositories; sites with a mirror pull it from there.
FETCH_IMAGE = (
    "curlimages/curl:8.11.1@sha256:c1fe1679c34d9784c1b0d1e5f62ac0a79fca01fb6377cdd33e90473c6f9f9a69"
)
MOUNT = {"name": MODEL_VOLUME, "mountPath": MODEL_MOUNT}
# Loopback address of the short-lived Ollama server that imports the GGUF file.
OLLAMA_IMPORT_HOST = "127.0.0.1:11435"
# Importing and quantizing the guard checkpoint (1.5B parameters, on the device's CPU) before the
# server starts: added to the startup budget of guarded groups.
GUARD_IMPORT_SECONDS = 300

# Fetch missing weights in the server container itself, then exec the server without the token.
_FETCH_THEN_SERVE = """\
set -e
HF_HUB_OFFLINE=0 "$FETCH_INTERPRETER" -c "$FETCH_SCRIPT"
exec env -u HF_TOKEN "$@"
"""

# Import the staged GGUF file into Ollama's store (on the device cache) through a private
# server on loopback, stop it, then exec the real server.
_OLLAMA_IMPORT_THEN_SERVE = f"""\
set -eu
printf 'FROM %s\\n' "$MODEL_FILE" > "$TMPDIR/Modelfile"
OLLAMA_HOST={OLLAMA_IMPORT_HOST} ollama serve > "$TMPDIR/ollama-import.log" 2>&1 &
importer=$!
tries=0
until OLLAMA_HOST={OLLAMA_IMPORT_HOST} ollama list > /dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -ge 120 ]; then cat "$TMPDIR/ollama-import.log" >&2; exit 1; fi
  sleep 1
done
OLLAMA_HOST={OLLAMA_IMPORT_HOST} ollama create "$OLLAMA_MODEL_NAME" -f "$TMPDIR/Modelfile"
if [ -n "${{GUARD_DIR:-}}" ] \\
  && ! OLLAMA_HOST={OLLAMA_IMPORT_HOST} ollama show "$GUARD_MODEL" > /dev/null 2>&1; then
  printf 'FROM %s\\nPARAMETER num_ctx %s\\nPARAMETER temperature 0\\n' \\
    "$GUARD_DIR" "$GUARD_CONTEXT" > "$TMPDIR/Guardfile"
  OLLAMA_HOST={OLLAMA_IMPORT_HOST} ollama create "$GUARD_MODEL" --quantize "$GUARD_QUANTIZE" \\
    -f "$TMPDIR/Guardfile"
fi
kill "$importer"
wait "$importer" || true
exec "$@"
"""


def daemonset(site: Site, w: Workload) -> Manifest:
    """The device group's server: one pod per device, replaced a share of the group at a time."""
    instance = site.instance(w)
    sp = site.serving_plan(w, w.release, instance)
    layout = pod.cache_volumes(sp.runtime)
    threshold = w.budget.failure_threshold
    if w.guard is not None:
        threshold += math.ceil(GUARD_IMPORT_SECONDS / w.budget.period_seconds)
    server = pod.server_container(
        sp,
        layout,
        MOUNT,
        resources=device_resources(w),
        startup_failure_threshold=threshold,
    )
    _behind_gateway(server)
    init: list[Manifest] = []
    if sp.runtime in INIT_FETCH_RUNTIMES:
        init.append(fetch_container(site, sp, layout))
        _import_then_serve(server, sp)
    else:
        _fetch_then_serve(server, download_command(sp), site)
    if w.guard is not None:
        init.append(guard_fetch_container(site, sp, w.guard, FETCH_IMAGE, MOUNT))
        server["env"] = [*server["env"], *guard_env(w.guard)]
    server["env"] = _dedupe([*server["env"], *device_env(w)])
    proxy = gateway.container(site.image(site.gateway_image), sp.port, w.guard)
    spec = pod.pod_spec(
        sp,
        containers=[server, proxy],
        volumes=[cache_volume(site), *layout.volumes, *gateway.volumes(site.gateway_config)],
        spread=False,
    )
    if init:
        spec["initContainers"] = init
    spec["affinity"] = {"nodeAffinity": node_affinity(site, [w])}
    template_meta: Manifest = {
        "labels": sp.pod_labels,
        "annotations": {gateway.CONFIG_ANNOTATION: site.gateway_hash},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": workload.metadata(instance, sp.pod_labels, site.namespace),
        "spec": {
            "selector": {"matchLabels": dict(sp.selector)},
            "revisionHistoryLimit": 3,
            # Wait until a new pod has served for a while before taking the next device.
            "minReadySeconds": 30,
            "updateStrategy": {
                "type": "RollingUpdate",
                # Two servers do not fit one device's unified memory: replace, never surge.
                "rollingUpdate": {"maxUnavailable": w.max_unavailable, "maxSurge": 0},
            },
            "template": {"metadata": template_meta, "spec": spec},
        },
    }


def prepulls(site: Site) -> list[Manifest]:
    """One DaemonSet per release the site's later cohorts stage, over every group staging it.

    Groups of different modules stage the same release when their variants agree (one image,
    one weights file): one DaemonSet then fills all their caches.
    """
    staging: dict[tuple[str, ...], list[Workload]] = {}
    for w in site.workloads:
        if w.staged is not None:
            staging.setdefault((w.cohort, *_content(w.staged)), []).append(w)
    per_cohort = Counter(key[0] for key in staging)
    return [
        prepull(site, groups, named_by_group=per_cohort[key[0]] > 1)
        for key, groups in staging.items()
    ]


def prepull(site: Site, groups: list[Workload], *, named_by_group: bool = False) -> Manifest:
    """Pull the next release's image and fill the device caches while the current one serves.

    Named after the cohort (``<fleet>-stable-prepull``); when a cohort stages several releases
    at the site (modules on different runtimes), after the first group of each.
    """
    first = groups[0]
    assert first.staged is not None
    instance = (
        site.instance(first, "-prepull")
        if named_by_group
        else short(f"{site.fleet}-{first.cohort}-prepull")
    )
    sp = dataclasses.replace(
        site.serving_plan(first, first.staged, instance), runtime_class_name=None
    )
    layout = pod.cache_volumes(sp.runtime)
    if sp.runtime in INIT_FETCH_RUNTIMES:
        init = fetch_container(site, sp, layout)
    else:
        fetch = pod.download_container(sp, layout, MOUNT)
        # Fleet weights always come from the hub or the site's mirror of it.
        assert fetch is not None
        init = {**fetch, "env": [*fetch["env"], *site.mirror_env()]}
    hold = {
        "name": "hold",
        "image": sp.image,
        "imagePullPolicy": "IfNotPresent",
        # Keeps the staged image in use, so the kubelet's image GC cannot remove it.
        "command": ["sleep", "infinity"],
        "resources": {
            "requests": {"cpu": "10m", "memory": "16Mi"},
            "limits": {"cpu": "50m", "memory": "32Mi"},
        },
        "securityContext": pod.container_security_context(),
    }
    spec = pod.pod_spec(
        sp, containers=[hold], volumes=[cache_volume(site), *layout.volumes], spread=False
    )
    spec["initContainers"] = [init]
    spec["affinity"] = {"nodeAffinity": node_affinity(site, groups)}
    selector = {**sp.selector, COMPONENT: PREPULL_COMPONENT}
    labels = {**sp.labels, **selector}
    if len({w.group.group_name for w in groups}) > 1:
        del labels[node_labels.DEVICE_GROUP]
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": workload.metadata(instance, labels, site.namespace),
        "spec": {
            "selector": {"matchLabels": selector},
            "updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "100%"},
            },
            "template": {"metadata": {"labels": labels}, "spec": spec},
        },
    }


def fetch_container(site: Site, sp: ServingPlan, layout: pod.CacheLayout) -> Manifest:
    """Stage the GGUF file in the device cache from the site's mirror, with the fetch image.

    curl writes only the cache and /tmp: the runtime's other scratch paths stay unmounted.
    """
    scratch = pod.CacheLayout(
        volumes=layout.volumes,
        mounts=[m for m in layout.mounts if m["mountPath"] == "/tmp"],
        env=[e for e in layout.env if e["name"] == "TMPDIR"],
    )
    init = pod.download_container(
        sp,
        scratch,
        MOUNT,
        image=site.image(FETCH_IMAGE),
        command=gguf_download_command(sp),
    )
    assert init is not None
    init["env"] = [*init["env"], *site.mirror_env()]
    return init


def cache_volume(site: Site) -> Manifest:
    return {"name": MODEL_VOLUME, "persistentVolumeClaim": {"claimName": site.cache_name}}


def node_affinity(site: Site, groups: list[Workload]) -> Manifest:
    """Only the groups' devices: module, cohort, group labels (and trust under HIPAA/PHI).

    Several groups are alternatives (one term each); every term carries the trust labels.
    """
    terms: list[Manifest] = []
    for w in groups:
        required = {
            node_labels.MODULE: w.module.name,
            node_labels.COHORT: w.cohort,
            **w.group.labels,
        }
        if site.plan.device_trust:
            required.update(node_labels.DEVICE_TRUST)
        term = {
            "matchExpressions": [
                {"key": key, "operator": "In", "values": [value]} for key, value in required.items()
            ]
        }
        if term not in terms:
            terms.append(term)
    return {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}


def device_env(w: Workload) -> list[Manifest]:
    # Ollama and the jetson-containers images pick their CUDA build from JETSON_JETPACK;
    # without it they silently fall back to the CPU.
    return [
        env("JETSON_JETPACK", w.module.jetpack.split(".")[0]),
        env("INFERSTACK_JETSON_MODULE", w.module.name),
    ]


def device_resources(w: Workload) -> Manifest:
    """Memory sized to the module's unified memory after the OS + k3s reserve (and the guard's
    weights where the group's Ollama holds it too)."""
    limit_gi = max(1, int(w.module.memory_gb - w.module.reserve_gb))
    weights = w.weights_gb + (w.guard.weights_gb if w.guard is not None else 0.0)
    request_gi = max(1, min(limit_gi, round(weights) + 1))
    return {
        "requests": {"cpu": "1", "memory": f"{request_gi}Gi", "nvidia.com/gpu": "1"},
        "limits": {"cpu": "4", "memory": f"{limit_gi}Gi", "nvidia.com/gpu": "1"},
    }


def _behind_gateway(server: Manifest) -> None:
    """The server's port is renamed: the pod's "http" port, which the Service targets, is the
    gateway's; the probes follow the server's own port."""
    for port in server["ports"]:
        if port["name"] == "http":
            port["name"] = "model"
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        check = server.get(probe, {}).get("httpGet")
        if check is not None and check.get("port") == "http":
            check["port"] = "model"


def _content(release: Release) -> tuple[str, ...]:
    """What a pre-pull fetches: the image and the weights file, whatever limits come with them."""
    weights = release.weights
    return (release.image, weights.repo, weights.revision or "", release.variant.dtype)


def _fetch_then_serve(server: Manifest, fetch: ServerCommand | None, site: Site) -> None:
    """Fetch missing weights in the server container itself, then exec the server.

    On a device the startup probe is the one clock a rollout has: fetching inside the container
    puts the download under the probe's budget, which follows the site's link speed. The token
    is dropped from the server's environment before it starts.
    """
    assert fetch is not None
    server["args"] = [*server["command"], *server["args"]]
    server["command"] = ["sh", "-c", _FETCH_THEN_SERVE, "serve"]
    server["env"] = _dedupe(
        [
            *server["env"],
            *fetch.env,
            env("FETCH_INTERPRETER", fetch.command[0]),
            env("FETCH_SCRIPT", fetch.args[0]),
            *site.mirror_env(),
        ]
    )


def _import_then_serve(server: Manifest, sp: ServingPlan) -> None:
    """Serve the GGUF file the init container staged: import it into Ollama, then serve.

    The model is created from the file at every start (a re-import of an unchanged file only
    re-hashes it), so a new revision in the cache is what the server serves next.
    """
    server["args"] = [*server["command"], *server["args"]]
    server["command"] = ["sh", "-c", _OLLAMA_IMPORT_THEN_SERVE, "serve"]
    server["env"] = [
        *server["env"],
        env("MODEL_FILE", gguf_path(sp.model)),
        env("OLLAMA_MODEL_NAME", sp.model.served_name),
    ]


def _dedupe(variables: list[Manifest]) -> list[Manifest]:
    """Env vars by name, the last definition winning, in first-seen order."""
    by_name: dict[str, Manifest] = {}
    for variable in variables:
        by_name.pop(variable["name"], None)
        by_name[variable["name"]] = variable
    return list(by_name.values())

"""Deploy the onprem-dev stack to a real GPU cluster, call the model, and destroy it.

Runs only with ``INFERSTACK_LIVE=1``, a kubeconfig (``KUBECONFIG`` or ``~/.kube/config``) whose
current context is a cluster set up as docs/targets/kubernetes.md describes, the ``pulumi`` and
``kubectl`` CLIs, and a Pulumi backend (``pulumi login`` or ``PULUMI_BACKEND_URL=file://...``).
``pulumi up`` returns once the Deployment has rolled out (pulumi-kubernetes waits for it), so a
successful up means a pod passed its startup and readiness probes with the model loaded.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
STACK_CONFIG = ROOT / "stacks" / "Pulumi.onprem-dev.yaml"


def _skip_reason() -> str | None:
    if os.environ.get("INFERSTACK_LIVE") != "1":
        return "live test: set INFERSTACK_LIVE=1 and point KUBECONFIG at a GPU cluster"
    kubeconfig = Path(os.environ.get("KUBECONFIG", Path.home() / ".kube" / "config"))
    if not kubeconfig.is_file():
        return f"live test: INFERSTACK_LIVE=1 but no kubeconfig at {kubeconfig}"
    missing = [tool for tool in ("pulumi", "kubectl") if shutil.which(tool) is None]
    if missing:
        return f"live test: INFERSTACK_LIVE=1 but {' and '.join(missing)} not on PATH"
    return None


pytestmark = [
    pytest.mark.live,
    pytest.mark.timeout(5400),
    pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or ""),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _complete(namespace: str, service: str, model: str) -> dict[str, Any]:
    """Ask the server through a port-forward: the ingress needs DNS and an identity provider."""
    port = _free_port()
    forward = subprocess.Popen(
        ["kubectl", "-n", namespace, "port-forward", f"svc/{service}", f"{port}:http"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        body = json.dumps({"model": model, "prompt": "The capital of France is", "max_tokens": 8})
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/completions",
            data=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        for _ in range(30):
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    answer: dict[str, Any] = json.loads(response.read())
                    return answer
            except OSError:
                time.sleep(2)
        raise AssertionError("the model server never answered through the port-forward")
    finally:
        forward.terminate()
        forward.wait(timeout=30)


def _deployment() -> dict[str, Any]:
    from inferstack.deployment import load_stack_config

    # The stack file as written (exclude_unset): a dump of every default would set fields the
    # target refuses as having no effect there.
    deployment = load_stack_config(STACK_CONFIG).deployment.model_dump(
        mode="json", exclude_unset=True
    )
    # A throwaway deployment: its own name, so it never meets a real one.
    deployment["name"] = f"live-{uuid.uuid4().hex[:8]}"
    return deployment


def test_up_complete_destroy() -> None:
    from pulumi import automation as auto

    from inferstack.kubernetes import LLMService

    deployment = _deployment()

    def program() -> None:
        import pulumi

        service = LLMService(deployment["name"], deployment)
        for key, value in service.outputs().items():
            pulumi.export(key, value)

    stack = auto.create_or_select_stack(
        stack_name=deployment["name"], project_name="inferstack-live", program=program
    )
    try:
        result = stack.up(on_output=print)
        outputs = {key: value.value for key, value in result.outputs.items()}
        answer = _complete(outputs["namespace"], outputs["service_name"], deployment["model"]["id"])
        assert answer["choices"][0]["text"].strip()
    finally:
        stack.destroy(on_output=print)
        stack.workspace.remove_stack(deployment["name"])

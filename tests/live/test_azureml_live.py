"""Deploy the azureml-dev stack for real, score one request, and destroy it.

Runs only with ``INFERSTACK_LIVE=1`` and Azure credentials (``az login``, or the
``ARM_CLIENT_ID``/``ARM_CLIENT_SECRET``/``ARM_TENANT_ID``/``ARM_SUBSCRIPTION_ID`` variables the
azure-native provider reads), and costs money (a GPU instance for the 30 to 60 minutes the test
takes). It needs the ``pulumi`` CLI, a Pulumi backend (``pulumi login``, or
``PULUMI_BACKEND_URL=file://...``), GPU quota for the stack's instance type in its region, and a
machine inside the endpoint's network (the endpoint and workspace accept private traffic only):
run it from a VM or runner peered with the subnet given as ``INFERSTACK_LIVE_SUBNET_ID``.

The online deployment starts only once the weights are in the workspace datastore and the
serving image is in the workspace's registry (docs/targets/azureml.md, "Staging the model and
the image"); the stack is brought up in two steps for that: everything but the deployment, the
staging command given in ``INFERSTACK_LIVE_STAGE`` (run with INFERSTACK_NAME and
INFERSTACK_REGION set), then the whole stack.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
STACK_CONFIG = ROOT / "stacks" / "Pulumi.azureml-dev.yaml"
CREDENTIAL_VARIABLES = ("ARM_CLIENT_ID", "ARM_TENANT_ID", "ARM_SUBSCRIPTION_ID")


def _skip_reason() -> str | None:
    if os.environ.get("INFERSTACK_LIVE") != "1":
        return "live test: set INFERSTACK_LIVE=1 and provide Azure credentials to deploy for real"
    has_env = all(os.environ.get(name) for name in CREDENTIAL_VARIABLES)
    if not has_env and shutil.which("az") is None:
        return "live test: INFERSTACK_LIVE=1 but no Azure credentials (ARM_* or az login)"
    if not os.environ.get("INFERSTACK_LIVE_SUBNET_ID"):
        return "live test: set INFERSTACK_LIVE_SUBNET_ID to a subnet this machine can reach"
    if not os.environ.get("INFERSTACK_LIVE_STAGE"):
        return "live test: set INFERSTACK_LIVE_STAGE to the command staging weights and image"
    return None


pytestmark = [
    pytest.mark.live,
    pytest.mark.timeout(7200),
    pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or ""),
]


def _deployment() -> tuple[dict[str, Any], str]:
    from inferstack.deployment import load_stack_config

    stack = load_stack_config(STACK_CONFIG)
    assert stack.region is not None
    # The stack file as written (exclude_unset): a dump of every default would set fields the
    # target refuses as having no effect there.
    deployment = stack.deployment.model_dump(mode="json", exclude_unset=True)
    # A throwaway deployment: its own name, so it never meets a real one.
    deployment["name"] = f"live-{uuid.uuid4().hex[:8]}"
    return deployment, stack.region


def _token() -> str:
    """An Entra token for the online endpoint (authMode AADToken)."""
    out = subprocess.run(
        ["az", "account", "get-access-token", "--resource", "https://ml.azure.com"],
        check=True,
        capture_output=True,
        text=True,
    )
    token: str = json.loads(out.stdout)["accessToken"]
    return token


def _score(gateway_url: str) -> dict[str, Any]:
    """One completion through the gateway: the endpoint admits only the gateway's identity."""
    body = {"model": "", "prompt": "The capital of France is", "max_tokens": 8}
    request = urllib.request.Request(
        f"{gateway_url}/completions",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {_token()}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=180) as response:
        answer: dict[str, Any] = {"status": response.status, "body": json.loads(response.read())}
    return answer


def test_up_score_destroy() -> None:
    from pulumi import automation as auto

    from inferstack.azureml import OnlineEndpoint
    from inferstack.azureml.args import AzureMLArgs

    deployment, region = _deployment()
    args = AzureMLArgs(subnet_id=os.environ["INFERSTACK_LIVE_SUBNET_ID"])

    def program() -> None:
        import pulumi

        endpoint = OnlineEndpoint(deployment["name"], deployment, args=args)
        for key, value in endpoint.outputs().items():
            pulumi.export(key, value)

    stack = auto.create_or_select_stack(
        stack_name=deployment["name"], project_name="inferstack-live", program=program
    )
    stack.set_config("azure-native:location", auto.ConfigValue(region))
    try:
        # Everything but the deployment (and what watches it); then staging; then the rest.
        name = deployment["name"]
        stack.up(on_output=print, exclude=[f"**{name}-deployment"], exclude_dependents=True)
        subprocess.run(  # the operator's own staging command
            os.environ["INFERSTACK_LIVE_STAGE"],
            shell=True,
            check=True,
            env={**os.environ, "INFERSTACK_NAME": name, "INFERSTACK_REGION": region},
        )
        result = stack.up(on_output=print)
        outputs = {key: value.value for key, value in result.outputs.items()}
        assert outputs["endpoint_name"].startswith(deployment["name"][:20])
        assert outputs["workspace_id"].startswith("/subscriptions/")
        answer = _score(outputs["gateway_url"])
        assert answer["status"] == 200
        assert answer["body"]["choices"][0]["text"]
    finally:
        stack.destroy(on_output=print)
        stack.workspace.remove_stack(deployment["name"])

"""Deploy the vertex-dev stack for real, send one prediction, and destroy it.

Runs only with ``INFERSTACK_LIVE=1`` and Google credentials (application default credentials),
and costs money (an L4 machine, spot and on-demand, for the 30 to 40 minutes the test takes).
It needs the ``pulumi`` CLI, a Pulumi backend (``pulumi login``, or
``PULUMI_BACKEND_URL=file://...``), the google-cloud-aiplatform package (the ``vertex`` extra),
``INFERSTACK_LIVE_GCP_PROJECT`` and ``INFERSTACK_LIVE_BILLING_ACCOUNT``, and the model weights
at ``INFERSTACK_LIVE_MODEL_SOURCE`` (a ``gs://bucket/prefix/`` in the stack's region holding the
Hugging Face checkpoint). The test deploys a dedicated public endpoint, the only kind a machine
outside the VPC can call; IAM still authenticates every request.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
STACK_CONFIG = ROOT / "stacks" / "Pulumi.vertex-dev.yaml"
NEEDED = (
    "INFERSTACK_LIVE_GCP_PROJECT",
    "INFERSTACK_LIVE_BILLING_ACCOUNT",
    "INFERSTACK_LIVE_MODEL_SOURCE",
)


def _skip_reason() -> str | None:
    if os.environ.get("INFERSTACK_LIVE") != "1":
        return "live test: set INFERSTACK_LIVE=1 and provide Google credentials to deploy for real"
    missing = [name for name in NEEDED if not os.environ.get(name)]
    if missing:
        return f"live test: set {', '.join(missing)}"
    try:
        import google.auth

        google.auth.default()
    except Exception:  # no credentials, or google-auth is not installed
        return "live test: INFERSTACK_LIVE=1 but no Google application default credentials"
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
    deployment["model"]["source"] = os.environ["INFERSTACK_LIVE_MODEL_SOURCE"]
    # Vertex AI applies no IP filter (allowed_cidrs is refused there): IAM is the only gate.
    deployment["security"] = {"network": {"public": True}}
    # A throwaway deployment: its own name, so it never meets a real one.
    deployment["name"] = f"live-{uuid.uuid4().hex[:8]}"
    return deployment, stack.region


def _predict(endpoint_dns: str, endpoint_name: str) -> dict[str, Any]:
    from google.api import httpbody_pb2
    from google.cloud import aiplatform_v1

    client = aiplatform_v1.PredictionServiceClient(
        client_options={"api_endpoint": endpoint_dns}, transport="rest"
    )
    body = {
        "messages": [{"role": "user", "content": "The capital of France is"}],
        "max_tokens": 8,
    }
    response = client.raw_predict(
        endpoint=endpoint_name,
        http_body=httpbody_pb2.HttpBody(
            content_type="application/json", data=json.dumps(body).encode()
        ),
    )
    answer: dict[str, Any] = json.loads(response.data)
    return answer


def test_up_predict_destroy() -> None:
    from pulumi import automation as auto

    from inferstack.vertex import Endpoint
    from inferstack.vertex.args import VertexArgs

    deployment, region = _deployment()
    args = VertexArgs(
        project=os.environ["INFERSTACK_LIVE_GCP_PROJECT"],
        billing_account=os.environ["INFERSTACK_LIVE_BILLING_ACCOUNT"],
        force_destroy=True,
    )

    def program() -> None:
        import pulumi

        endpoint = Endpoint(deployment["name"], deployment, args=args, region=region)
        for key, value in endpoint.outputs().items():
            pulumi.export(key, value)

    stack = auto.create_or_select_stack(
        stack_name=deployment["name"], project_name="inferstack-live", program=program
    )
    stack.set_config("gcp:project", auto.ConfigValue(args.project or ""))
    stack.set_config("gcp:region", auto.ConfigValue(region))
    try:
        result = stack.up(on_output=print)
        outputs = {key: value.value for key, value in result.outputs.items()}
        assert outputs["kms_key_name"].startswith(f"projects/{args.project}/locations/{region}/")
        answer = _predict(outputs["endpoint_dns"], outputs["endpoint_name"])
        assert answer["choices"][0]["message"]["content"]
    finally:
        stack.destroy(on_output=print)
        stack.workspace.remove_stack(deployment["name"])

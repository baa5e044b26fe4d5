"""Deploy the sagemaker-dev stack for real, invoke the endpoint, and destroy it.

Runs only with ``INFERSTACK_LIVE=1`` and AWS credentials, and costs money (a GPU instance for
the 20 to 30 minutes the test takes). It needs the ``pulumi`` CLI, a Pulumi backend (``pulumi
login``, or ``PULUMI_BACKEND_URL=file://...``) and the model weights at the stack's
``model.source``; point ``INFERSTACK_LIVE_MODEL_SOURCE`` at your own copy (an
``s3://bucket/prefix/`` in the stack's region holding the Hugging Face checkpoint).
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
STACK_CONFIG = ROOT / "stacks" / "Pulumi.sagemaker-dev.yaml"


def _skip_reason() -> str | None:
    if os.environ.get("INFERSTACK_LIVE") != "1":
        return "live test: set INFERSTACK_LIVE=1 and provide AWS credentials to deploy for real"
    import botocore.session

    if botocore.session.get_session().get_credentials() is None:
        return "live test: INFERSTACK_LIVE=1 but no AWS credentials were found"
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
    source = os.environ.get("INFERSTACK_LIVE_MODEL_SOURCE")
    if source:
        deployment["model"]["source"] = source
    # A throwaway deployment: its own name, so it never meets a real one.
    deployment["name"] = f"live-{uuid.uuid4().hex[:8]}"
    return deployment, stack.region


def _invoke(endpoint_name: str, region: str) -> dict[str, Any]:
    import botocore.session

    runtime = botocore.session.get_session().create_client("sagemaker-runtime", region)
    body = {"inputs": "The capital of France is", "parameters": {"max_new_tokens": 8}}
    response = runtime.invoke_endpoint(
        EndpointName=endpoint_name,
        ContentType="application/json",
        Accept="application/json",
        Body=json.dumps(body),
    )
    answer: dict[str, Any] = {
        "status": response["ResponseMetadata"]["HTTPStatusCode"],
        "body": json.loads(response["Body"].read()),
    }
    return answer


def test_up_invoke_destroy() -> None:
    from pulumi import automation as auto

    from inferstack.aws import SageMakerEndpoint

    deployment, region = _deployment()

    def program() -> None:
        import pulumi

        # force_destroy: the access-log bucket fills while the test runs.
        endpoint = SageMakerEndpoint(deployment["name"], deployment, force_destroy=True)
        for key, value in endpoint.outputs().items():
            pulumi.export(key, value)

    stack = auto.create_or_select_stack(
        stack_name=deployment["name"], project_name="inferstack-live", program=program
    )
    stack.set_config("aws:region", auto.ConfigValue(region))
    try:
        result = stack.up(on_output=print)
        outputs = {key: value.value for key, value in result.outputs.items()}
        assert outputs["endpoint_name"] == deployment["name"]
        assert outputs["kms_key_arn"].startswith(f"arn:aws:kms:{region}:")
        answer = _invoke(outputs["endpoint_name"], region)
        assert answer["status"] == 200
        assert "generated_text" in json.dumps(answer["body"])
    finally:
        stack.destroy(on_output=print)
        stack.workspace.remove_stack(deployment["name"])

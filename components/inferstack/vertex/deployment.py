"""The model deployment: the plan as the inputs of ``inferstack:vertex:ModelDeployment``.

Every input is plain data (names, numbers, the image by digest); the provider finds Google
credentials itself, so nothing secret is stored in the state or shown to the policy packs.
"""

from __future__ import annotations

from typing import Any

import pulumi

from inferstack.vertex.context import Context
from inferstack.vertex.endpoint import resource_name
from inferstack.vertex.plan import Deployment, VertexPlan


def deployment_inputs(
    plan: VertexPlan,
    *,
    endpoint: pulumi.Input[str],
    kms_key_name: pulumi.Input[str],
    service_account: pulumi.Input[str],
) -> dict[str, Any]:
    container = plan.container
    return {
        "project": plan.project,
        "location": plan.region,
        "endpoint": endpoint,
        "modelId": plan.names.model,
        "displayName": plan.names.display_name,
        "artifactUri": plan.source.uri,
        "serviceAccount": service_account,
        "encryptionSpec": {"kmsKeyName": kms_key_name},
        "labels": dict(plan.labels),
        "container": {
            "imageUri": container.image,
            "args": list(container.args),
            "env": dict(container.env),
            "port": container.port,
            "predictRoute": container.predict_route,
            "healthRoute": container.health_route,
            "deploymentTimeoutSeconds": container.deployment_timeout_seconds,
            "sharedMemorySizeMb": container.shared_memory_mb,
        },
        "deployments": [_deployment(d) for d in plan.deployments],
    }


def _deployment(deployment: Deployment) -> dict[str, Any]:
    return {
        "key": deployment.key,
        "machineType": deployment.machine_type,
        "acceleratorType": deployment.accelerator_type,
        "acceleratorCount": deployment.accelerator_count,
        "minReplicaCount": deployment.min_replicas,
        "maxReplicaCount": deployment.max_replicas,
        "spot": deployment.spot,
        "trafficPercent": deployment.traffic_percent,
        "autoscalingMetricSpecs": [
            {"metricName": m.metric_name, "target": m.target} for m in deployment.autoscaling
        ],
    }


def model_deployment(
    ctx: Context,
    *,
    endpoint: pulumi.Resource,
    kms_key_name: pulumi.Input[str],
    service_account: pulumi.Input[str],
    depends_on: list[pulumi.Resource],
) -> Any:
    from inferstack.vertex.provider import ModelDeployment

    inputs = deployment_inputs(
        ctx.plan,
        # The endpoint's name is chosen by the plan; depending on the resource orders them.
        endpoint=resource_name(ctx),
        kms_key_name=kms_key_name,
        service_account=service_account,
    )
    timeout = f"{ctx.plan.container.deployment_timeout_seconds * len(ctx.plan.deployments) + 1800}s"
    return ModelDeployment(
        ctx.child("model"),
        inputs,
        opts=ctx.opts(
            depends_on=[endpoint, *depends_on],
            custom_timeouts=pulumi.CustomTimeouts(create=timeout, update=timeout, delete="1800s"),
        ),
    )

"""The model asset, the environment on the pinned image, the online endpoint and deployment."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from inferstack.azureml.container import MODEL_MOUNT
from inferstack.azureml.context import Context, iso_seconds
from inferstack.azureml.plan import Probe


def datastore(
    ctx: Context, workspace: ml.Workspace, account_name: pulumi.Input[str], container: str
) -> ml.Datastore:
    """The staged-weights container as a datastore reached with the workspace's identity (no
    account key or SAS is stored in the workspace)."""
    return ml.Datastore(
        ctx.child("datastore"),
        name=ctx.plan.datastore_name,
        workspace_name=workspace.name,
        resource_group_name=ctx.resource_group,
        properties=ml.AzureBlobDatastoreArgs(
            datastore_type="AzureBlob",
            account_name=account_name,
            container_name=container,
            credentials=ml.NoneDatastoreCredentialsArgs(credentials_type="None"),
            service_data_access_auth_identity="WorkspaceUserAssignedIdentity",
            description="Model weights staged for serving, read with the workspace identity",
        ),
        opts=ctx.opts(),
    )


def model(ctx: Context, workspace: ml.Workspace, store: ml.Datastore) -> ml.ModelVersion:
    plan = ctx.plan
    revision = plan.model_uri.rstrip("/").rsplit("/", 1)[-1]
    return ml.ModelVersion(
        ctx.child("model"),
        name=plan.model_name,
        version=plan.model_version,
        workspace_name=workspace.name,
        resource_group_name=ctx.resource_group,
        properties=ml.ModelVersionPropertiesArgs(
            model_uri=plan.model_uri,
            model_type="custom_model",
            description=f"{ctx.spec.model.id} at revision {revision}",
            is_archived=False,
            tags={"source": ctx.spec.model.source or f"hf://{ctx.spec.model.id}"},
        ),
        opts=ctx.opts(depends_on=[store]),
    )


def environment(
    ctx: Context, workspace: ml.Workspace, registry: pulumi.Resource
) -> ml.EnvironmentVersion:
    plan = ctx.plan
    health = ml.RouteArgs(path=plan.health_path, port=plan.port)
    # The login server of a registry in Azure's public cloud is its name at azurecr.io: spelt
    # out, the image reference (and its digest) is known at preview, where policy reads it.
    image = f"{plan.registry_name.lower()}.azurecr.io/{plan.image_path}"
    return ml.EnvironmentVersion(
        ctx.child("env"),
        name=plan.environment_name,
        version=plan.environment_version,
        workspace_name=workspace.name,
        resource_group_name=ctx.resource_group,
        properties=ml.EnvironmentVersionPropertiesArgs(
            image=image,
            os_type="Linux",
            auto_rebuild="Disabled",
            inference_config=ml.InferenceContainerPropertiesArgs(
                liveness_route=health,
                readiness_route=health,
                scoring_route=ml.RouteArgs(path="/", port=plan.port),
            ),
        ),
        opts=ctx.opts(depends_on=[registry]),
    )


def endpoint(
    ctx: Context, workspace: ml.Workspace, identity_id: pulumi.Input[str]
) -> ml.OnlineEndpoint:
    auth = "AADToken" if ctx.spec.auth_for("azureml") == "entra" else "Key"
    return ml.OnlineEndpoint(
        ctx.child("endpoint"),
        endpoint_name=ctx.plan.endpoint_name,
        workspace_name=workspace.name,
        resource_group_name=ctx.resource_group,
        location=ctx.region,
        kind="Managed",
        identity=ml.ManagedServiceIdentityArgs(
            type="UserAssigned", user_assigned_identities=[identity_id]
        ),
        properties=ml.OnlineEndpointPropertiesArgs(
            auth_mode=auth,
            public_network_access="Disabled",
            description=f"{ctx.spec.model.id} served by {ctx.spec.serving.runtime}",
        ),
        tags=ctx.tags(),
        opts=ctx.opts(),
    )


def deployment(
    ctx: Context,
    workspace: ml.Workspace,
    online_endpoint: ml.OnlineEndpoint,
    model_version: ml.ModelVersion,
    env: ml.EnvironmentVersion,
    depends_on: list[pulumi.Resource],
) -> ml.OnlineDeployment:
    plan = ctx.plan
    return ml.OnlineDeployment(
        ctx.child("deployment"),
        deployment_name=plan.deployment_name,
        endpoint_name=online_endpoint.name,
        workspace_name=workspace.name,
        resource_group_name=ctx.resource_group,
        location=ctx.region,
        kind="Managed",
        sku=ml.SkuArgs(name="Default", capacity=plan.instance_count),
        properties=ml.ManagedOnlineDeploymentArgs(
            endpoint_compute_type="Managed",
            instance_type=plan.instance_type,
            model=model_version.id,
            model_mount_path=MODEL_MOUNT,
            environment_id=env.id,
            environment_variables=plan.environment,
            liveness_probe=_probe(plan.liveness),
            readiness_probe=_probe(plan.readiness),
            request_settings=ml.OnlineRequestSettingsArgs(
                max_concurrent_requests_per_instance=plan.max_concurrency,
                request_timeout=iso_seconds(plan.request_timeout),
            ),
            scale_settings=ml.DefaultScaleSettingsArgs(scale_type="Default"),
            egress_public_network_access="Disabled",
            app_insights_enabled=True,
            data_collector=_data_collector(ctx) if plan.capture else None,
        ),
        tags=ctx.tags(),
        # Autoscale owns the instance count once the deployment exists.
        opts=ctx.opts(depends_on=depends_on, ignore_changes=["sku.capacity"]),
    )


def _probe(probe: Probe) -> ml.ProbeSettingsArgs:
    return ml.ProbeSettingsArgs(
        initial_delay=iso_seconds(probe.initial_delay),
        period=iso_seconds(probe.period),
        timeout=iso_seconds(probe.timeout),
        failure_threshold=probe.failure_threshold,
        success_threshold=probe.success_threshold,
    )


def _data_collector(ctx: Context) -> ml.DataCollectorArgs:
    """Inputs and outputs to the workspace's (CMK-encrypted, private) blob store, sampled."""
    sampling = ctx.plan.capture_sampling
    collection = ml.CollectionArgs(data_collection_mode="Enabled", sampling_rate=sampling)
    return ml.DataCollectorArgs(
        collections={"model_inputs": collection, "model_outputs": collection},
        request_logging=ml.RequestLoggingArgs(capture_headers=[]),
        rolling_rate="Hour",
    )

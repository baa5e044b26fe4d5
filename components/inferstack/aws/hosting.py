"""The SageMaker model, endpoint configuration and endpoint."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from inferstack import catalog
from inferstack.aws.context import Context
from inferstack.aws.plan import VARIANT
from inferstack.aws.storage import ASYNC_FAILURE, ASYNC_OUTPUT, CAPTURE_PREFIX


def model(
    ctx: Context,
    *,
    role_arn: pulumi.Input[str],
    subnet_ids: Sequence[pulumi.Input[str]],
    security_group_ids: Sequence[pulumi.Input[str]],
    depends_on: Sequence[pulumi.Resource],
) -> aws.sagemaker.Model:
    plan = ctx.plan
    container: aws.sagemaker.ModelPrimaryContainerArgsDict = {
        "image": plan.image,
        "mode": "SingleModel",
        "environment": plan.environment,
    }
    source = plan.source
    if source.kind == "s3" and source.compressed:
        container["model_data_url"] = source.s3_uri
    elif source.kind == "s3":
        # An uncompressed prefix is copied as is: no tarball to build, no unpacking at start.
        container["model_data_source"] = {
            "s3_data_sources": [
                {"s3_uri": source.s3_uri, "s3_data_type": "S3Prefix", "compression_type": "None"}
            ]
        }
    vpc: aws.sagemaker.ModelVpcConfigArgsDict = {
        "subnets": list(subnet_ids),
        "security_group_ids": list(security_group_ids),
    }
    return aws.sagemaker.Model(
        ctx.child("model"),
        execution_role_arn=role_arn,
        primary_container=container,
        enable_network_isolation=plan.network_isolation,
        vpc_config=vpc,
        region=ctx.region,
        tags=ctx.tags(),
        opts=ctx.opts(depends_on=list(depends_on)),
    )


def endpoint_configuration(
    ctx: Context,
    *,
    model_name: pulumi.Input[str],
    key_arn: pulumi.Output[str],
    bucket_name: pulumi.Output[str],
    topic_arns: Sequence[pulumi.Output[str]],
    depends_on: Sequence[pulumi.Resource],
) -> aws.sagemaker.EndpointConfiguration:
    plan = ctx.plan
    variant: aws.sagemaker.EndpointConfigurationProductionVariantArgsDict = {
        "variant_name": VARIANT,
        "model_name": model_name,
        "instance_type": plan.instance_type,
        "initial_instance_count": plan.initial_instance_count,
        "initial_variant_weight": 1,
        "model_data_download_timeout_in_seconds": plan.download_timeout,
        "container_startup_health_check_timeout_in_seconds": plan.startup_timeout,
    }
    capture = ctx.spec.compliance.data_capture
    data_capture: aws.sagemaker.EndpointConfigurationDataCaptureConfigArgsDict | None = None
    if capture.enabled:
        data_capture = {
            "enable_capture": True,
            "initial_sampling_percentage": capture.sampling_percentage,
            "destination_s3_uri": _uri(bucket_name, CAPTURE_PREFIX),
            "kms_key_id": key_arn,
            "capture_options": [{"capture_mode": "Input"}, {"capture_mode": "Output"}],
            "capture_content_type_header": {"json_content_types": ["application/json"]},
        }
    async_config: aws.sagemaker.EndpointConfigurationAsyncInferenceConfigArgsDict | None = None
    if plan.is_async:
        async_config = {
            "client_config": {
                "max_concurrent_invocations_per_instance": ctx.spec.serving.max_concurrency
            },
            "output_config": {
                "s3_output_path": _uri(bucket_name, ASYNC_OUTPUT),
                "s3_failure_path": _uri(bucket_name, ASYNC_FAILURE),
                "kms_key_id": key_arn,
                # The notifications carry only where the result is, never the result itself.
                "notification_config": {
                    "success_topic": topic_arns[0],
                    "error_topic": topic_arns[1],
                },
            },
        }
    # Instances with local NVMe storage encrypt it in hardware, and SageMaker refuses a
    # KmsKeyId for them; every other instance type gets the deployment's key.
    local_storage = catalog.sagemaker_has_instance_storage(plan.instance_type)
    return aws.sagemaker.EndpointConfiguration(
        ctx.child("endpoint-config"),
        kms_key_arn=None if local_storage else key_arn,
        production_variants=[variant],
        data_capture_config=data_capture,
        async_inference_config=async_config,
        region=ctx.region,
        tags=ctx.tags(),
        opts=ctx.opts(depends_on=list(depends_on)),
    )


def _uri(bucket: pulumi.Output[str], prefix: str) -> pulumi.Output[str]:
    return bucket.apply(lambda name: f"s3://{name}/{prefix}")


def endpoint(
    ctx: Context,
    *,
    config_name: pulumi.Input[str],
    rollback_alarms: Sequence[pulumi.Input[str]],
    depends_on: Sequence[pulumi.Resource],
) -> aws.sagemaker.Endpoint:
    deployment: aws.sagemaker.EndpointDeploymentConfigArgsDict | None = None
    if rollback_alarms and not ctx.plan.is_async:
        # Replace instances one at a time and roll back when the new model errors or stalls,
        # instead of doubling a GPU fleet for a blue/green switch.
        deployment = {
            "rolling_update_policy": {
                "maximum_batch_size": {"type": "INSTANCE_COUNT", "value": 1},
                "wait_interval_in_seconds": 300,
                "rollback_maximum_batch_size": {"type": "CAPACITY_PERCENT", "value": 100},
            },
            "auto_rollback_configuration": {
                "alarms": [{"alarm_name": alarm} for alarm in rollback_alarms]
            },
        }
    return aws.sagemaker.Endpoint(
        ctx.child("endpoint"),
        name=ctx.plan.endpoint_name,
        endpoint_config_name=config_name,
        deployment_config=deployment,
        region=ctx.region,
        tags=ctx.tags(),
        opts=ctx.opts(depends_on=list(depends_on)),
    )

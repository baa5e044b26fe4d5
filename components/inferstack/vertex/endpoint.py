"""The Vertex AI endpoint: CMEK, private (PSC or peering) unless the spec says public."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from inferstack.vertex.context import Context
from inferstack.vertex.encryption import Key
from inferstack.vertex.network import EndpointNetwork

CAPTURE_TABLE = "request_response_logging"


def ai_endpoint(
    ctx: Context,
    key: Key,
    net: EndpointNetwork,
    capture_dataset: gcp.bigquery.Dataset | None,
) -> gcp.vertex.AiEndpoint:
    plan = ctx.plan
    psc = None
    if net.psc_network is not None:
        psc = gcp.vertex.AiEndpointPrivateServiceConnectConfigArgs(
            enable_private_service_connect=True,
            project_allowlists=[plan.project],
            psc_automation_configs=[
                gcp.vertex.AiEndpointPrivateServiceConnectConfigPscAutomationConfigArgs(
                    project_id=plan.project, network=net.psc_network
                )
            ],
        )
    logging = None
    depends: list[pulumi.Resource] = [*key.grants, *net.ready]
    if capture_dataset is not None:
        table = capture_dataset.dataset_id.apply(
            lambda dataset: f"bq://{plan.project}.{dataset}.{CAPTURE_TABLE}"
        )
        logging = gcp.vertex.AiEndpointPredictRequestResponseLoggingConfigArgs(
            enabled=True,
            sampling_rate=plan.capture_sampling_rate,
            bigquery_destination=(
                gcp.vertex.AiEndpointPredictRequestResponseLoggingConfigBigqueryDestinationArgs(
                    output_uri=table
                )
            ),
        )
        depends.append(capture_dataset)
    return gcp.vertex.AiEndpoint(
        ctx.child("endpoint"),
        name=plan.names.endpoint_id,
        display_name=plan.names.display_name,
        description=f"{ctx.spec.model.id} served by inferstack",
        project=plan.project,
        location=plan.region,
        region=plan.region,
        labels=ctx.labels(),
        encryption_spec=gcp.vertex.AiEndpointEncryptionSpecArgs(kms_key_name=key.name),
        network=net.peered_network,
        private_service_connect_config=psc,
        # A public endpoint gets its own DNS name and no shared-endpoint request limits.
        dedicated_endpoint_enabled=True if plan.network.mode == "public" else None,
        predict_request_response_logging_config=logging,
        opts=ctx.opts(depends_on=depends),
    )


def resource_name(ctx: Context) -> str:
    plan = ctx.plan
    return f"projects/{plan.project}/locations/{plan.region}/endpoints/{plan.names.endpoint_id}"

"""``SageMakerEndpoint``: a private, encrypted, autoscaled LLM endpoint on Amazon SageMaker."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, ClassVar

import pulumi
import pulumi_aws as aws

from inferstack.aws import front_door as door
from inferstack.aws import gateway as gw
from inferstack.aws import guard, hosting, iam, monitoring, network, redteam, scaling, storage
from inferstack.aws.args import SageMakerArgs
from inferstack.aws.context import Context
from inferstack.aws.encryption import deployment_key, key_alias
from inferstack.aws.monitoring import ASYNC_TOPICS
from inferstack.aws.names import Arns
from inferstack.aws.plan import Plan, build_plan
from inferstack.component import InferenceComponent
from inferstack.deployment import DeploymentSpec
from inferstack.deployment.targets import Hardware
from inferstack.redteam import RedTeamPlan


class SageMakerEndpoint(InferenceComponent[SageMakerArgs]):
    """A SageMaker real-time or async endpoint serving one LLM, with everything around it.

    Children: a KMS key (or ``security.encryption.kms_key``), an artifact bucket and its
    access-log bucket, a least-privilege execution role, the model in private subnets
    (network-isolated when the weights come from S3), the endpoint configuration and
    endpoint, autoscaling on the metric the endpoint type needs, a log group, alarms to an
    encrypted topic, a budget, a Bedrock guardrail and the guard gateway Lambda that is the
    real-time endpoint's only caller, optionally an API Gateway + WAF front door in front
    of that gateway, and with ``security.red_team`` scheduled garak scans of the gateway
    (EventBridge Scheduler, a Fargate task, an encrypted report bucket).

    Keyword arguments beyond the spec:
      front_door: put API Gateway (IAM or API-key auth, throttling, WAF) in front.
      artifact_bucket: an existing bucket for data capture and async payloads instead of a
        new one; it should already enforce TLS and SSE-KMS.
      async_retention_days: days async requests, results and failures are kept (async only).
      force_destroy: let ``pulumi destroy`` delete buckets that still hold objects; for
        throwaway dev stacks only.
      region: the AWS region; defaults to the ``aws:region`` config value.
    """

    target: ClassVar[str] = "sagemaker"
    type_token: ClassVar[str] = "inferstack:aws:SageMakerEndpoint"
    args_class = SageMakerArgs

    plan: Plan
    scans: RedTeamPlan | None
    region: str

    def __init__(
        self,
        name: str,
        spec: DeploymentSpec | Mapping[str, Any],
        opts: pulumi.ResourceOptions | None = None,
        *,
        args: SageMakerArgs | None = None,
        front_door: bool | None = None,
        artifact_bucket: str | None = None,
        async_retention_days: int | None = None,
        force_destroy: bool | None = None,
        region: str | None = None,
    ) -> None:
        # Keyword arguments win over args, which default to the stack's inferstack:aws object.
        base = args if args is not None else SageMakerArgs.from_config()
        overrides = {
            "front_door": front_door,
            "artifact_bucket": artifact_bucket,
            "async_retention_days": async_retention_days,
            "force_destroy": force_destroy,
        }
        settings = SageMakerArgs.parse(
            {**base.model_dump(), **{k: v for k, v in overrides.items() if v is not None}}
        )
        super().__init__(name, spec, opts, args=settings, region=region)

    def prepare(
        self,
        name: str,
        spec: DeploymentSpec,
        hardware: Hardware,
        args: SageMakerArgs,
        region: str | None,
    ) -> None:
        assert region is not None  # check() refused a missing region
        self.plan = build_plan(spec, hardware, args, name=name, region=region)
        self.scans = redteam.scan_plan(spec, self.plan, region)

    def build(self, name: str) -> None:
        account = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        ).account_id
        ctx = Context(name, self.spec, self.plan, self.region, account, self)
        self._outputs = self._build(
            ctx,
            artifact_bucket=self.args.artifact_bucket,
            async_retention_days=self.args.async_retention_days,
            force_destroy=self.args.force_destroy,
        )

    def _build(
        self,
        ctx: Context,
        *,
        artifact_bucket: str | None,
        async_retention_days: int,
        force_destroy: bool,
    ) -> dict[str, pulumi.Output[Any]]:
        plan = ctx.plan
        spec = ctx.spec
        role = iam.execution_role(ctx)
        role_names = [iam.execution_role_name(ctx)]
        roles: list[pulumi.Resource] = [role]
        gateway_role = gw.gateway_role(ctx) if plan.gateway else None
        if gateway_role is not None:
            role_names.append(gw.role_name(ctx))
            roles.append(gateway_role)
        endpoint_logs = monitoring.endpoint_log_group_name(plan.endpoint_name)
        log_groups = [endpoint_logs]
        if plan.gateway:
            log_groups.append(gw.log_group_name(plan.endpoint_name))
        if plan.front_door:
            log_groups += [
                door.access_log_group_name(plan.endpoint_name),
                door.waf_log_group_name(plan.endpoint_name),
            ]
        scans = self.scans
        scan_roles = redteam.roles(ctx) if scans is not None else None
        if scan_roles is not None:
            role_names.append(redteam.role_name(ctx, "task"))
            roles += scan_roles.key_users
            log_groups.append(redteam.log_group_name(plan.endpoint_name))
        key_arn = deployment_key(ctx, role_names=role_names, roles=roles, log_groups=log_groups)
        bucket = storage.artifact_storage(
            ctx,
            key_arn,
            existing_bucket=artifact_bucket,
            force_destroy=force_destroy,
            async_retention_days=async_retention_days,
            log_sources=[redteam.report_bucket_name(ctx)] if scans is not None else [],
        )
        net = network.endpoint_network(ctx)
        log_group = monitoring.log_group(ctx, endpoint_logs, key_arn, "logs")
        topic_names = [monitoring.topic_name(plan.endpoint_name, s) for s in ASYNC_TOPICS]
        async_topics: list[pulumi.Resource] = []
        if plan.is_async:
            async_topics = [
                monitoring.encrypted_topic(ctx, suffix, key_arn) for suffix in ASYNC_TOPICS
            ]
        grants = iam.grant_execution(
            ctx,
            role,
            bucket_name=bucket.name,
            log_group_name=endpoint_logs,
            topic_names=topic_names if plan.is_async else [],
        )
        network_grants = iam.grant_network(ctx, role, net.vpc_id)
        model = hosting.model(
            ctx,
            role_arn=role.arn,
            subnet_ids=net.subnet_ids,
            security_group_ids=net.security_group_ids,
            depends_on=[grants, network_grants, *net.ready],
        )
        config = hosting.endpoint_configuration(
            ctx,
            model_name=model.name,
            key_arn=key_arn,
            bucket_name=bucket.name,
            # Known before deploy (the names are chosen here), so checks can read them.
            topic_arns=[
                ctx.arns().apply(functools.partial(Arns.topic, name=n)) for n in topic_names
            ],
            depends_on=[*bucket.ready, *async_topics],
        )
        topic = None
        if spec.alarms_enabled or plan.budget_usd is not None:
            topic = monitoring.alert_topic(ctx, key_arn)
        alarms = monitoring.alarms(ctx, topic.arn) if spec.alarms_enabled and topic else []
        # Errors and latency, not GPU memory: a new model version that breaks either rolls back.
        rollback = [alarm.name for alarm in alarms[:2]]
        endpoint = hosting.endpoint(
            ctx,
            config_name=config.name,
            rollback_alarms=rollback,
            depends_on=[log_group, grants],
        )
        scaling.autoscaling(ctx, endpoint)
        monitoring.budget(ctx, topic.arn if topic else None)
        outputs: dict[str, pulumi.Output[Any]] = {
            "endpoint_name": endpoint.name,
            "endpoint_arn": endpoint.arn,
            "role_arn": role.arn,
            "kms_key_arn": key_arn,
            "bucket_name": bucket.name,
            "log_group_name": log_group.name,
        }
        gateway = None
        if gateway_role is not None:
            rail = guard.guardrail(ctx, key_arn) if plan.guardrail else None
            gateway = gw.gateway(
                ctx,
                role=gateway_role,
                key_arn=key_arn,
                rail=rail,
                net=net,
                logs=monitoring.log_group(
                    ctx, gw.log_group_name(plan.endpoint_name), key_arn, "gateway-logs"
                ),
            )
            outputs["gateway_function_name"] = pulumi.Output.from_input(gateway.name)
            outputs["gateway_arn"] = gateway.arn
            outputs["gateway_role_arn"] = gateway.role_arn
            if rail is not None:
                outputs["guardrail_id"] = rail.id
                outputs["guardrail_version"] = rail.version
        if scans is not None and scan_roles is not None:
            scan = redteam.red_team(
                ctx,
                scans,
                scan_roles=scan_roles,
                key_arn=key_arn,
                logs=monitoring.log_group(
                    ctx, redteam.log_group_name(plan.endpoint_name), key_arn, "red-team-logs"
                ),
                net=net,
                log_bucket_id=bucket.log_bucket_id,
                force_destroy=force_destroy,
                depends_on=[endpoint],
            )
            outputs["red_team_bucket_name"] = scan.bucket_name
            outputs["red_team_cluster_arn"] = scan.cluster_arn
            outputs["red_team_schedules"] = pulumi.Output.from_input(scan.schedule_names)
        if plan.front_door:
            assert gateway is not None  # the plan refuses a front door for async endpoints
            front = door.front_door(
                ctx,
                gateway=gateway,
                access_logs=monitoring.log_group(
                    ctx, door.access_log_group_name(plan.endpoint_name), key_arn, "api-logs"
                ),
                waf_logs=monitoring.log_group(
                    ctx, door.waf_log_group_name(plan.endpoint_name), key_arn, "waf-logs"
                ),
            )
            outputs["front_door_url"] = front.url
            outputs["front_door_invoke_policy_arn"] = front.invoke_policy_arn
            if front.token_url is not None and front.client_id is not None:
                outputs["front_door_token_url"] = front.token_url
                outputs["front_door_client_id"] = front.client_id
        invoke = iam.caller_policy(
            ctx, bucket_name=bucket.name, key_alias=key_alias(plan.endpoint_name)
        )
        outputs["invoke_policy_arn"] = invoke.arn
        if plan.is_async:
            outputs["async_input_uri"] = bucket.name.apply(
                lambda name: f"s3://{name}/{storage.ASYNC_INPUT}"
            )
        return outputs

    def outputs(self) -> dict[str, pulumi.Output[Any]]:
        return dict(self._outputs)

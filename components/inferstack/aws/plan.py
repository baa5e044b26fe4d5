"""Everything about a SageMaker deployment that follows from the spec alone.

Resolved before any resource is registered, so a spec SageMaker cannot serve fails with the
field path and the fix instead of half a stack.
"""

from __future__ import annotations

from dataclasses import dataclass

from inferstack.aws import container, names
from inferstack.aws.args import SageMakerArgs
from inferstack.aws.container import ModelSource
from inferstack.deployment import DeploymentSpec
from inferstack.deployment.digests import OWASP_SERVING_DIGESTS, require_digest
from inferstack.deployment.targets import Hardware, budget_usd
from inferstack.errors import SpecError
from inferstack.tracing.collector import export_port

VARIANT = "primary"
SAGEMAKER_NAMESPACE = "AWS/SageMaker"
ENDPOINT_NAMESPACE = "/aws/sagemaker/Endpoints"
HTTPS_PORT = 443


@dataclass(frozen=True)
class ScalingMetric:
    """The metric Application Auto Scaling tracks for this endpoint type."""

    name: str
    predefined: bool
    namespace: str | None = None
    dimensions: tuple[str, ...] = ()


# Real-time endpoints scale on load per instance; an async endpoint on its queue, the only
# metric that exists while it has no instance at all.
REALTIME_METRICS = {
    "concurrency": ScalingMetric("SageMakerVariantConcurrentRequestsPerModelHighResolution", True),
    "invocations": ScalingMetric("SageMakerVariantInvocationsPerInstance", True),
    "gpu_utilization": ScalingMetric(
        "GPUUtilization", False, ENDPOINT_NAMESPACE, ("EndpointName", "VariantName")
    ),
}
BACKLOG_METRIC = ScalingMetric(
    "ApproximateBacklogSizePerInstance", False, SAGEMAKER_NAMESPACE, ("EndpointName",)
)


@dataclass(frozen=True)
class Plan:
    endpoint_name: str
    image: str
    image_repository_arn: str
    source: ModelSource
    environment: dict[str, str]
    network_isolation: bool
    needs_internet: bool
    instance_type: str
    gpu_count: int
    initial_instance_count: int
    min_capacity: int
    max_capacity: int
    download_timeout: int
    startup_timeout: int
    scaling_metric: ScalingMetric
    is_async: bool
    create_key: bool
    kms_key: str | None
    token_secret: str | None
    create_network: bool
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    vpc_id: str | None = None
    front_door: bool = False
    api_key_auth: bool = False
    budget_usd: float | None = None
    gateway: bool = False  # the guard Lambda is the only caller of the endpoint (real-time)
    guardrail: bool = False  # the gateway screens with a Bedrock guardrail


def build_plan(
    spec: DeploymentSpec,
    hardware: Hardware,
    args: SageMakerArgs,
    *,
    name: str,
    region: str,
) -> Plan:
    """What the endpoint needs, from the spec alone: names, image, sizes, network, checks.

    ``name`` is the component's; ``region`` the AWS region (the image must be in it).
    """
    front_door = args.front_door
    source = container.model_source(spec)
    image = container.image_uri(spec, region)
    repository = names.ecr_repository_arn(image, names.partition(region))
    _check_image_region(image, region)
    _check_packs(spec, source, image)
    token_secret = _token_secret(spec, source)
    environment = container.environment(spec, source, hardware.gpu_count, token_secret=token_secret)
    download, startup = container.timeouts(spec, source)
    network = spec.security.network
    _check_network(spec)
    _check_key(spec)
    api_key = spec.auth_for("sagemaker") == "api_key"
    if api_key and not front_door:
        raise SpecError(
            "security.auth",
            "SageMaker endpoints accept only SigV4-signed IAM calls; API keys need a front door",
            "use auth: iam, or create the component with front_door=True",
        )
    is_async = spec.serving.mode == "async"
    if front_door and is_async:
        raise SpecError(
            "serving.mode",
            "the front door serves real-time endpoints; async callers hand payloads over in S3",
            "give async callers the invoke policy instead, or create the component without "
            "front_door",
        )
    scaling_metric = _scaling_metric(spec)
    _check_guard(spec)
    _check_tracing(spec)
    min_capacity = 0 if spec.scaling.scale_to_zero else spec.min_replicas
    return Plan(
        endpoint_name=names.endpoint_name(name),
        image=image,
        image_repository_arn=repository,
        source=source,
        environment=environment,
        # Weights staged in S3 need no network at all; a Hub download needs the internet.
        network_isolation=source.kind == "s3",
        needs_internet=source.kind == "hf",
        instance_type=hardware.name,
        gpu_count=hardware.gpu_count,
        initial_instance_count=max(1, min_capacity),
        min_capacity=min_capacity,
        max_capacity=spec.scaling.max_replicas,
        download_timeout=download,
        startup_timeout=startup,
        scaling_metric=scaling_metric,
        is_async=is_async,
        create_key=spec.security.encryption.create_key,
        kms_key=None if spec.security.encryption.create_key else spec.security.encryption.kms_key,
        token_secret=token_secret,
        create_network=not network.subnet_ids,
        subnet_ids=tuple(network.subnet_ids),
        security_group_ids=tuple(network.security_group_ids),
        vpc_id=network.vpc_id,
        front_door=front_door,
        api_key_auth=api_key,
        budget_usd=budget_usd(spec, hardware),
        gateway=not is_async,
        guardrail=not is_async and spec.security.guard.enabled,
    )


def _check_packs(spec: DeploymentSpec, source: ModelSource, image: str) -> None:
    """Refuse what the stack's own ``compliance.frameworks`` packs would refuse after the run.

    Each check mirrors one mandatory rule that has no environment or threshold setting, so it
    fails in every environment: owasp-llm's ``aws-sagemaker-endpoint-require-guard-gateway`` and
    ``all-serving-image-require-digest``, and hipaa's and gdpr's
    ``aws-sagemaker-model-require-network-isolation``.
    """
    frameworks = spec.compliance.frameworks
    if "owasp-llm" in frameworks and spec.serving.mode == "async":
        raise SpecError(
            "serving.mode",
            "SageMaker async endpoints cannot be screened by the guard gateway, and the "
            "owasp-llm pack requires one",
            "use serving.mode: realtime, or drop owasp-llm from compliance.frameworks for this "
            "stack",
        )
    if spec.serving.image is None:
        require_digest(
            spec,
            "serving.image",
            image,
            "mirror the image into your ECR and set serving.image to "
            "<registry>/<repository>@sha256:<digest>, as docs/targets/sagemaker.md "
            '"Pin the serving image" shows',
            shown=f"not set, and the catalog's {spec.serving.runtime} image ({image})",
            environments=OWASP_SERVING_DIGESTS,
        )
    packs = [name for name in ("hipaa", "gdpr") if name in frameworks]
    if packs and source.kind == "hf":
        raise SpecError(
            "model.source",
            f"a Hub download needs the internet, and the {' and '.join(packs)} "
            f"pack{'s require' if len(packs) > 1 else ' requires'} the model network-isolated",
            "stage the weights in S3 at a pinned revision and set model.source: "
            's3://<bucket>/<prefix>/, as docs/targets/sagemaker.md "Model weights and the '
            'Hugging Face token" shows',
        )


def _check_guard(spec: DeploymentSpec) -> None:
    guard = spec.security.guard
    if guard.provider not in ("auto", "bedrock", "none"):
        raise SpecError(
            "security.guard.provider",
            f"'{guard.provider}' does not run on SageMaker: its gateway calls a Bedrock guardrail",
            "use auto or bedrock",
        )
    if guard.provider == "none" and guard.enabled:
        raise SpecError(
            "security.guard.provider",
            "none screens nothing, but input or output screening is on",
            "use auto (a Bedrock guardrail), or set security.guard.input: false and output: off",
        )
    if spec.serving.mode == "async" and guard.enabled:
        raise SpecError(
            "security.guard",
            "SageMaker async endpoints read prompts from S3, where no gateway can screen them",
            "use serving.mode: realtime, or set security.guard.input: false and output: off",
        )


def _check_tracing(spec: DeploymentSpec) -> None:
    tracing = spec.observability.tracing
    if tracing is None:
        return
    if tracing.capture_content:
        raise SpecError(
            "observability.tracing.capture_content",
            "the SageMaker gateway exports metadata only; it has no encrypted, retained content "
            "capture to keep prompts and completions in",
            "set capture_content: false; compliance.data_capture records requests, encrypted and "
            "with its own retention",
        )
    if spec.serving.mode == "async":
        raise SpecError(
            "observability.tracing",
            "SageMaker async endpoints have no gateway, and the gateway is what exports traces",
            "use serving.mode: realtime, or remove observability.tracing",
        )
    if tracing.runtime_spans:
        raise SpecError(
            "observability.tracing.runtime_spans",
            "the SageMaker serving container gets no OTLP settings (with weights in S3 it is "
            "network-isolated and could reach no collector)",
            "set runtime_spans: false; the gateway's spans cover each request",
        )
    network = spec.security.network
    # The stack makes the gateway's group (HTTPS out only) unless you give the groups.
    makes_group = not network.security_group_ids
    port = export_port(tracing.endpoint)
    if makes_group and port != HTTPS_PORT:
        raise SpecError(
            "observability.tracing.endpoint",
            f"uses port {port}, but the gateway's security group sends only HTTPS (443)",
            "serve the OTLP endpoint over https:// on port 443 (an internal load balancer in "
            "front of the collector or Langfuse), or give security.network.security_group_ids",
        )


def _check_image_region(image: str, region: str) -> None:
    image_region = image.split(".dkr.ecr", 1)[1].split(".")[1]
    if image_region != region:
        raise SpecError(
            "serving.image",
            f"the image is in {image_region}, but SageMaker pulls only from ECR in {region}",
            f"replicate the repository to {region} and use that URI",
        )


def _token_secret(spec: DeploymentSpec, source: ModelSource) -> str | None:
    secret = spec.model.hf_token_secret
    if secret is None or source.kind == "s3":
        # Weights in S3 were downloaded when they were staged; the endpoint needs no token.
        return None
    if spec.serving.image is None:
        raise SpecError(
            "model.hf_token_secret",
            f"the SageMaker {spec.serving.runtime} image reads the Hub token only from a "
            "plain-text environment variable, which DescribeModel shows to anyone who may read it",
            "stage the weights in S3 and set model.source: s3://<bucket>/<prefix>/ (the endpoint "
            "then runs network-isolated), or set serving.image to an image whose entrypoint "
            "reads the secret named by INFERSTACK_HF_TOKEN_SECRET_ID",
        )
    return secret.name


def _check_network(spec: DeploymentSpec) -> None:
    network = spec.security.network
    if (network.vpc_id or network.security_group_ids) and not network.subnet_ids:
        raise SpecError(
            "security.network.subnet_ids",
            "is required with vpc_id or security_group_ids: the endpoint runs in the private "
            "subnets you list",
            "list two or more private subnets of the VPC in different availability zones",
        )
    if network.subnet_ids and not network.vpc_id and not network.security_group_ids:
        raise SpecError(
            "security.network.vpc_id",
            "is required with subnet_ids to create the endpoint's security group",
            "set vpc_id, or list the security_group_ids to use",
        )
    if len(network.subnet_ids) > 16 or len(network.security_group_ids) > 5:
        raise SpecError(
            "security.network.subnet_ids",
            "SageMaker takes at most 16 subnets and 5 security groups",
            "list fewer",
        )


def _check_key(spec: DeploymentSpec) -> None:
    key = spec.security.encryption.kms_key
    if key != "create" and not names.is_kms_key_reference(key):
        raise SpecError(
            "security.encryption.kms_key",
            f"'{key}' is not a KMS key ARN or key id (aliases cannot scope IAM policies)",
            "give the key ARN (arn:aws:kms:<region>:<account>:key/<id>) or 'create'",
        )


def _scaling_metric(spec: DeploymentSpec) -> ScalingMetric:
    metric = spec.scaling.target.metric
    if spec.serving.mode == "async":
        if metric in ("queue_depth", "concurrency"):
            return BACKLOG_METRIC
        raise SpecError(
            "scaling.target.metric",
            f"'{metric}' does not describe an async endpoint's load, and does not exist while "
            "it has no instance",
            "use queue_depth (requests waiting per instance)",
        )
    if metric == "queue_depth":
        raise SpecError(
            "scaling.target.metric",
            "queue_depth is the backlog of an async endpoint; a real-time endpoint has none",
            "use concurrency, or set serving.mode: async",
        )
    return REALTIME_METRICS[metric]

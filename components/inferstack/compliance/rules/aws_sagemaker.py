"""Amazon SageMaker: endpoint configuration encryption, captured data, model isolation and images.

SageMaker refuses a ``KmsKeyId`` on endpoint configurations whose instances have local NVMe
instance storage (ml.g5, ml.g6, ml.p4d, ... : most GPU types), because those volumes are always
encrypted by the instance's hardware module. The CMK rule therefore requires ``kmsKeyArn`` only
when some production variant runs on EBS-backed storage.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from inferstack.catalog import sagemaker_has_instance_storage
from inferstack.compliance.model import (
    Enforcement,
    Report,
    Resource,
    Rule,
    RuleConfig,
    Scope,
    Severity,
    StackResource,
)
from inferstack.compliance.props import MISSING, UNKNOWN, as_bool, as_number, elements, get
from inferstack.compliance.rules._common import (
    GDPR_BY_DESIGN,
    GDPR_CONFIDENTIALITY,
    GDPR_MINIMISATION,
    GDPR_SECURITY,
    GDPR_STORAGE_LIMITATION,
    HIPAA_ACCESS,
    HIPAA_ENCRYPTION,
    HIPAA_TRANSMISSION,
    OWASP_DISCLOSURE,
    OWASP_POISONING,
    OWASP_SUPPLY_CHAIN,
    number_setting,
    unverifiable,
)
from inferstack.compliance.rules._images import parse_image
from inferstack.compliance.rules._s3 import (
    BUCKET_TYPES,
    LIFECYCLE_TYPES,
    bucket_names,
    companions_of,
)
from inferstack.compliance.rules._serving import sagemaker_container_reads, sagemaker_containers
from inferstack.compliance.rules._stack import of_type

ENDPOINT_CONFIG: Final = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
MODEL: Final = "aws:sagemaker/model:Model"
ENDPOINT: Final = "aws:sagemaker/endpoint:Endpoint"


def _check_endpoint_config_kms(res: Resource, report: Report, cfg: RuleConfig) -> None:
    if get(res.props, "kmsKeyArn") not in (MISSING, None, ""):
        return
    variants = elements(res.props, "productionVariants") + elements(
        res.props, "shadowProductionVariants"
    )
    ebs_backed: list[str] = []
    for index, variant in enumerate(variants):
        instance_type = get(variant, "instanceType")
        if variant is UNKNOWN or instance_type is UNKNOWN:
            report(unverifiable(f"productionVariants[{index}].instanceType"))
            return
        if not isinstance(instance_type, str) or not sagemaker_has_instance_storage(instance_type):
            ebs_backed.append(str(get(variant, "variantName") or index))
    if ebs_backed or not variants:
        report(
            "the endpoint's storage volumes are not encrypted with a customer-managed key "
            f"(kmsKeyArn unset; EBS-backed variants: {', '.join(ebs_backed) or 'none declared'})"
        )


def _capture_enabled(props: Any) -> Any:
    """True/False, or UNKNOWN; a data capture block without enableCapture is enabled."""
    if get(props, "dataCaptureConfig") in (MISSING, None):
        return False
    flag = get(props, "dataCaptureConfig", "enableCapture")
    if flag is UNKNOWN or get(props, "dataCaptureConfig") is UNKNOWN:
        return UNKNOWN
    return flag is MISSING or flag is None or as_bool(flag) is True


def _check_output_kms(res: Resource, report: Report, cfg: RuleConfig) -> None:
    enabled = _capture_enabled(res.props)
    if enabled is UNKNOWN:
        report(unverifiable("dataCaptureConfig.enableCapture"))
    elif enabled and get(res.props, "dataCaptureConfig", "kmsKeyId") in (MISSING, None, ""):
        report("captured prompts and responses are written to S3 without a customer-managed key")
    if get(res.props, "asyncInferenceConfig") is UNKNOWN:
        report(unverifiable("asyncInferenceConfig"))
    elif get(res.props, "asyncInferenceConfig") not in (MISSING, None) and get(
        res.props, "asyncInferenceConfig", "outputConfig", "kmsKeyId"
    ) in (MISSING, None, ""):
        report("asynchronous inference results are written to S3 without a customer-managed key")


def _check_network_isolation(res: Resource, report: Report, cfg: RuleConfig) -> None:
    value = get(res.props, "enableNetworkIsolation")
    if value is UNKNOWN:
        report(unverifiable("enableNetworkIsolation"))
    elif as_bool(value) is not True:
        report("the model container can reach the internet (enableNetworkIsolation is not true)")


def _check_vpc(res: Resource, report: Report, cfg: RuleConfig) -> None:
    vpc = get(res.props, "vpcConfig")
    if vpc is UNKNOWN:
        report(unverifiable("vpcConfig", "the VPC placement is known only after deploy"))
        return
    # Subnet and security group ids are references: another resource's output counts as set.
    subnets = get(vpc, "subnets")
    groups = get(vpc, "securityGroupIds")
    has_subnets = subnets is UNKNOWN or bool(elements(vpc, "subnets"))
    has_groups = groups is UNKNOWN or bool(elements(vpc, "securityGroupIds"))
    if vpc in (MISSING, None) or not (has_subnets and has_groups):
        report("the model runs outside a VPC (vpcConfig with subnets and security groups)")


def _check_model_latest(res: Resource, report: Report, cfg: RuleConfig) -> None:
    # Every container is listed first: an unknown pipeline ends the check before any finding.
    for label, container in list(sagemaker_containers(res.props)):
        image = get(container, "image")
        if container is UNKNOWN or image is UNKNOWN:
            report(unverifiable(f"{label}.image"))
        elif isinstance(image, str) and image and parse_image(image).floating:
            report(f"{label} image '{image}' floats on the latest tag")


def _capture_buckets(
    config: StackResource, buckets: Sequence[StackResource]
) -> list[StackResource] | None:
    """The stack's buckets the capture destination points at; None if that cannot be known."""
    deps = {dep.urn for dep in config.property_dependencies.get("dataCaptureConfig", ())}
    found = [bucket for bucket in buckets if bucket.urn in deps]
    if found:
        return found
    uri = get(config.props, "dataCaptureConfig", "destinationS3Uri")
    if uri is UNKNOWN:
        return None
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        return []
    name = uri.removeprefix("s3://").split("/", 1)[0]
    return [bucket for bucket in buckets if name in bucket_names(bucket)]


def _expiration_days(resource: StackResource, key: str) -> list[float]:
    """Days after which the enabled expiration rules under ``key`` delete objects.

    ``rules`` of a lifecycle configuration say ``status: Enabled``; a bucket's inline
    ``lifecycleRules`` say ``enabled: true``.
    """
    found = []
    for rule in elements(resource.props, key):
        days = as_number(get(rule, "expiration", "days"))
        if key == "rules":
            enabled = get(rule, "status") == "Enabled"
        else:
            enabled = as_bool(get(rule, "enabled")) is True
        if enabled and days is not None and days > 0:
            found.append(days)
    return found


def _check_capture_expiration(
    resources: Sequence[StackResource], report: Report, cfg: RuleConfig
) -> None:
    buckets = of_type(resources, *BUCKET_TYPES)
    max_days = cfg.number("maxRetentionDays")
    limit = f"within {int(max_days)} days" if max_days is not None else "at all"
    for config in of_type(resources, ENDPOINT_CONFIG):
        enabled = _capture_enabled(config.props)
        if enabled is UNKNOWN:
            report(unverifiable("dataCaptureConfig.enableCapture"), config.urn)
            continue
        if not enabled:
            continue
        targets = _capture_buckets(config, buckets)
        if targets is None:
            report(unverifiable("dataCaptureConfig.destinationS3Uri"), config.urn)
        elif not targets:
            report(
                "the data capture bucket is not managed in this stack, so the retention of "
                "captured prompts cannot be verified",
                config.urn,
            )
        for bucket in targets or ():
            lifecycles = companions_of(resources, bucket, LIFECYCLE_TYPES)
            days = [d for item in lifecycles for d in _expiration_days(item, "rules")]
            days += _expiration_days(bucket, "lifecycleRules")
            if not days:
                report(
                    f"captured prompts in bucket '{bucket.name}' do not expire {limit} "
                    "(no enabled lifecycle expiration rule)",
                    config.urn,
                )
            elif max_days is not None and min(days) > max_days:
                report(
                    f"captured prompts in bucket '{bucket.name}' expire after {min(days):g} "
                    f"days, over the {max_days:g}-day limit (maxRetentionDays)",
                    config.urn,
                )


_CMK = (HIPAA_ENCRYPTION, GDPR_SECURITY, GDPR_CONFIDENTIALITY, OWASP_DISCLOSURE)

RULES: Final = (
    Rule(
        name="aws-sagemaker-endpointconfig-require-kms",
        description="Endpoint storage volumes are encrypted with a customer-managed KMS key "
        "(instance types with local NVMe storage are hardware-encrypted and exempt).",
        severity=Severity.HIGH,
        resource_types=(ENDPOINT_CONFIG,),
        controls=_CMK,
        frameworks=frozenset({"baseline"}),
        remediation="Set security.encryption.kms_key (default: create); on the resource: "
        "kmsKeyArn, or an instance type with local instance storage, which SageMaker encrypts.",
        check=_check_endpoint_config_kms,
        reads=(
            "productionVariants",
            "productionVariants[*]",
            "productionVariants[*].instanceType",
            "shadowProductionVariants",
            "shadowProductionVariants[*]",
            "shadowProductionVariants[*].instanceType",
        ),
        references=(
            "kmsKeyArn",
            "productionVariants[*].variantName",
            "shadowProductionVariants[*].variantName",
        ),
        peers=("CKV_AWS_98", "cdk-nag:SageMakerEndpointConfigurationKMSKeyConfigured"),
    ),
    Rule(
        name="aws-sagemaker-endpointconfig-require-output-kms",
        description="Captured prompts/responses and async results in S3 are encrypted with a "
        "customer-managed KMS key.",
        severity=Severity.HIGH,
        resource_types=(ENDPOINT_CONFIG,),
        controls=_CMK,
        frameworks=frozenset({"baseline"}),
        remediation="Set dataCaptureConfig.kmsKeyId and "
        "asyncInferenceConfig.outputConfig.kmsKeyId.",
        check=_check_output_kms,
        reads=("dataCaptureConfig", "dataCaptureConfig.enableCapture", "asyncInferenceConfig"),
        references=(
            "dataCaptureConfig.kmsKeyId",
            "asyncInferenceConfig.outputConfig",
            "asyncInferenceConfig.outputConfig.kmsKeyId",
        ),
    ),
    Rule(
        name="aws-sagemaker-endpointconfig-require-capture-expiration",
        description="Captured prompts and responses expire: the capture bucket has a lifecycle "
        "expiration within the allowed retention.",
        severity=Severity.HIGH,
        resource_types=(ENDPOINT_CONFIG, *BUCKET_TYPES, *LIFECYCLE_TYPES),
        controls=(GDPR_STORAGE_LIMITATION, GDPR_MINIMISATION),
        frameworks=frozenset({"gdpr"}),
        remediation="Add a BucketLifecycleConfiguration with an enabled expiration rule "
        "(compliance.data_capture.retention_days) to the capture bucket.",
        check=_check_capture_expiration,
        reads=(
            "dataCaptureConfig",
            "dataCaptureConfig.enableCapture",
            "rules",
            "rules[*]",
            "rules[*].expiration.days",
            "rules[*].status",
            "lifecycleRules",
            "lifecycleRules[*]",
            "lifecycleRules[*].expiration.days",
            "lifecycleRules[*].enabled",
        ),
        references=("dataCaptureConfig.destinationS3Uri", "bucket", "id"),
        scope=Scope.STACK,
        settings=(
            number_setting(
                "maxRetentionDays", "Longest allowed expiration of captured data, in days.", 90
            ),
        ),
    ),
    Rule(
        name="aws-sagemaker-model-require-network-isolation",
        description="Model containers run with network isolation (no outbound internet).",
        severity=Severity.HIGH,
        resource_types=(MODEL,),
        controls=(HIPAA_ACCESS, HIPAA_TRANSMISSION, GDPR_BY_DESIGN, GDPR_SECURITY, OWASP_POISONING),
        frameworks=frozenset({"hipaa", "gdpr"}),
        remediation="Stage the weights in S3 (model.source: s3://bucket/prefix/): the model "
        "then runs isolated, as an isolated container cannot download from the Hub; on the "
        "resource: enableNetworkIsolation: true.",
        check=_check_network_isolation,
        reads=("enableNetworkIsolation",),
        peers=("CKV_AWS_370",),
    ),
    Rule(
        name="aws-sagemaker-model-require-vpc",
        description="Models run inside a VPC with subnets and security groups.",
        severity=Severity.MEDIUM,
        resource_types=(MODEL,),
        controls=(HIPAA_ACCESS, HIPAA_TRANSMISSION, GDPR_BY_DESIGN),
        frameworks=frozenset({"hipaa", "gdpr"}),
        remediation="Set security.network.subnet_ids and security_group_ids (or let the "
        "component create the VPC); on the resource: vpcConfig.subnets and securityGroupIds.",
        check=_check_vpc,
        reads=("vpcConfig",),
        references=(
            "vpcConfig.subnets",
            "vpcConfig.subnets[*]",
            "vpcConfig.securityGroupIds",
            "vpcConfig.securityGroupIds[*]",
        ),
    ),
    Rule(
        name="aws-sagemaker-model-disallow-latest-tag",
        description="Model container images never float on the latest tag.",
        severity=Severity.MEDIUM,
        resource_types=(MODEL,),
        controls=(OWASP_SUPPLY_CHAIN, GDPR_SECURITY),
        frameworks=frozenset({"baseline"}),
        remediation="Use a versioned image tag or a digest for primaryContainer.image.",
        check=_check_model_latest,
        reads=sagemaker_container_reads("image"),
        enforcement=Enforcement.MANDATORY,
    ),
)

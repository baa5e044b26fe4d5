"""Required tags: every taggable resource carries the configured tag (label) keys.

Tags feed the records of processing (who owns which system, for which purpose) and cost
allocation. AWS tags may come from the provider's ``defaultTags``; GCP uses ``labels``;
Kubernetes uses ``metadata.labels``. No keys are required unless the pack config lists them.
"""

from __future__ import annotations

import json
from typing import Any, Final

from inferstack.compliance.model import Report, Resource, Rule, RuleConfig, Severity
from inferstack.compliance.props import UNKNOWN, get, keys
from inferstack.compliance.rules._common import GDPR_RECORDS, strings_setting, unverifiable

_AWS: Final = (
    "aws:sagemaker/model:Model",
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
    "aws:sagemaker/endpoint:Endpoint",
    "aws:kms/key:Key",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:iam/role:Role",
    "aws:iam/policy:Policy",
    "aws:sns/topic:Topic",
    "aws:apigateway/stage:Stage",
    "aws:apigatewayv2/stage:Stage",
    "aws:wafv2/webAcl:WebAcl",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:secretsmanager/secret:Secret",
    "aws:appautoscaling/target:Target",
    "aws:budgets/budget:Budget",
)
_AZURE: Final = (
    "azure-native:machinelearningservices:Workspace",
    "azure-native:machinelearningservices:OnlineEndpoint",
    "azure-native:machinelearningservices:OnlineDeployment",
    "azure-native:keyvault:Vault",
    "azure-native:storage:StorageAccount",
    "azure-native:operationalinsights:Workspace",
    "azure-native:resources:ResourceGroup",
    "azure-native:network:PrivateEndpoint",
)
_GCP: Final = (
    "gcp:vertex/aiEndpoint:AiEndpoint",
    "gcp:vertex/aiDataset:AiDataset",
    "gcp:storage/bucket:Bucket",
    "gcp:kms/cryptoKey:CryptoKey",
)
_KUBERNETES: Final = (
    "kubernetes:core/v1:Namespace",
    "kubernetes:core/v1:Service",
    "kubernetes:core/v1:ServiceAccount",
    "kubernetes:core/v1:ConfigMap",
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:apps/v1:DaemonSet",
    "kubernetes:batch/v1:Job",
    "kubernetes:batch/v1:CronJob",
    "kubernetes:networking.k8s.io/v1:Ingress",
    "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    "kubernetes:policy/v1:PodDisruptionBudget",
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
)
TAG_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    **dict.fromkeys(_AWS, ("tags",)),
    **dict.fromkeys(_AZURE, ("tags",)),
    **dict.fromkeys(_GCP, ("labels",)),
    **dict.fromkeys(_KUBERNETES, ("metadata", "labels")),
}


def _provider_default_tags(res: Resource) -> set[str]:
    provider = res.provider
    if provider is None or provider.resource_type != "pulumi:providers:aws":
        return set()
    default_tags: Any = get(provider.props, "defaultTags")
    # Provider inputs of object type reach the engine as JSON text.
    if isinstance(default_tags, str) and default_tags is not UNKNOWN:
        try:
            default_tags = json.loads(default_tags)
        except json.JSONDecodeError:
            return set()
    return set(keys(default_tags, "tags"))


def _check_tags(res: Resource, report: Report, cfg: RuleConfig) -> None:
    required = cfg.strings("requiredTags")
    field = TAG_FIELDS.get(res.resource_type)
    if not required:
        res.not_applicable("requiredTags is empty in the pack config: no tag to require")
    if field is None:
        return
    if get(res.props, *field) is UNKNOWN:
        report(unverifiable(".".join(field)))
        return
    present = set(keys(res.props, *field)) | _provider_default_tags(res)
    missing = [key for key in required if key not in present]
    if missing:
        report(f"{'.'.join(field)} lacks the required keys {missing}")


RULES: Final = (
    Rule(
        name="all-tags-resource-require-tags",
        description="Taggable resources carry the required tag (label) keys.",
        severity=Severity.LOW,
        resource_types=tuple(TAG_FIELDS),
        controls=(GDPR_RECORDS,),
        frameworks=frozenset({"baseline"}),
        remediation="Add the keys to the deployment's tags (they are merged into every "
        "resource), or to the AWS provider's defaultTags.",
        check=_check_tags,
        reads=("tags", "tags.*", "labels", "labels.*", "metadata.labels", "metadata.labels.*"),
        references=("defaultTags", "defaultTags.*"),
        peers=("azure-policy:871b6d14-10aa-478d-b590-94f262ecfa99",),
        settings=(strings_setting("requiredTags", "Tag/label keys every resource needs.", ()),),
    ),
)

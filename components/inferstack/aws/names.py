"""Physical names and ARNs the component derives itself.

Names that other documents refer to (buckets, roles, the endpoint, its log group) are chosen
here rather than left to provider autonaming, so every policy document is complete at preview
time and the policy packs can read it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from inferstack.errors import SpecError

_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr(-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/"
    r"(?P<repository>[a-z0-9][a-z0-9._/-]*?)(:[\w.-]+)?(@sha256:[0-9a-f]{64})?$"
)


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def dns_suffix(region: str) -> str:
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


def _digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:8]


def bounded(base: str, suffix: str, limit: int, *unique: str) -> str:
    """``<base>-<suffix>[-<hash>]`` cut to ``limit`` characters, the hash keeping it unique."""
    tail = f"-{suffix}" + (f"-{_digest(*unique)}" if unique else "")
    return f"{base[: limit - len(tail)].rstrip('-')}{tail}"


def bucket_name(component: str, kind: str, account: str, region: str) -> str:
    # Bucket names are global: the hash of account and region keeps two stacks apart.
    base = re.sub(r"[^a-z0-9-]", "-", component.lower())
    return bounded(base, f"{kind}-{region}", 63, account, region, component)


def role_name(component: str, kind: str, region: str) -> str:
    # Role names are global to the account; the region keeps regional copies apart.
    return bounded(component, kind, 64, region, component)


def gateway_name(endpoint_name: str) -> str:
    """The guard gateway Lambda's function name."""
    return bounded(endpoint_name, "gateway", 64)


def red_team_name(endpoint_name: str, suffix: str = "") -> str:
    """The scan's cluster (no suffix), task families and schedules (``<tier>``): 64 at most."""
    return bounded(endpoint_name, "red-team" + (f"-{suffix}" if suffix else ""), 64)


def endpoint_name(component: str) -> str:
    name = re.sub(r"[^a-zA-Z0-9-]", "-", component).strip("-")[:63].rstrip("-")
    return name or "inferstack"


@dataclass(frozen=True)
class Arns:
    """ARN builders for one account and region."""

    account: str
    region: str

    @property
    def partition(self) -> str:
        return partition(self.region)

    @property
    def root(self) -> str:
        return f"arn:{self.partition}:iam::{self.account}:root"

    def role(self, name: str) -> str:
        return f"arn:{self.partition}:iam::{self.account}:role/{name}"

    def bucket(self, name: str) -> str:
        return f"arn:{self.partition}:s3:::{name}"

    def endpoint(self, name: str) -> str:
        # SageMaker lower-cases resource names inside ARNs.
        return (
            f"arn:{self.partition}:sagemaker:{self.region}:{self.account}:endpoint/{name.lower()}"
        )

    def function(self, name: str) -> str:
        return f"arn:{self.partition}:lambda:{self.region}:{self.account}:function:{name}"

    def ecs_cluster(self, name: str) -> str:
        return f"arn:{self.partition}:ecs:{self.region}:{self.account}:cluster/{name}"

    def task_definition(self, family: str, revision: str = "*") -> str:
        """Every revision of a task definition family (``:*``), or one revision."""
        return (
            f"arn:{self.partition}:ecs:{self.region}:{self.account}:"
            f"task-definition/{family}:{revision}"
        )

    def log_group(self, name: str) -> str:
        return f"arn:{self.partition}:logs:{self.region}:{self.account}:log-group:{name}"

    def secret(self, name_or_arn: str) -> str:
        if name_or_arn.startswith("arn:"):
            return name_or_arn
        # Secrets Manager appends six random characters to every secret's ARN.
        return (
            f"arn:{self.partition}:secretsmanager:{self.region}:{self.account}:"
            f"secret:{name_or_arn}-??????"
        )

    def topic(self, name: str) -> str:
        return f"arn:{self.partition}:sns:{self.region}:{self.account}:{name}"

    def execute_api(self, api_id: str, stage_path: str) -> str:
        """``execute-api:Invoke`` on one API's stage, method and path."""
        return (
            f"arn:{self.partition}:execute-api:{self.region}:{self.account}:{api_id}/{stage_path}"
        )

    def ec2(self) -> str:
        """The prefix of this account and region's EC2 resource ARNs."""
        return f"arn:{self.partition}:ec2:{self.region}:{self.account}"

    def vpc(self, vpc_id: str) -> str:
        return f"arn:{self.partition}:ec2:{self.region}:{self.account}:vpc/{vpc_id}"

    def subnet(self, subnet_id: str) -> str:
        return f"arn:{self.partition}:ec2:{self.region}:{self.account}:subnet/{subnet_id}"

    def security_group(self, group_id: str) -> str:
        return f"arn:{self.partition}:ec2:{self.region}:{self.account}:security-group/{group_id}"

    def kms_key(self, key: str) -> str:
        if key.startswith("arn:"):
            return key
        return f"arn:{self.partition}:kms:{self.region}:{self.account}:key/{key}"

    def service(self, name: str) -> str:
        return f"{name}.{self.region}.{dns_suffix(self.region)}"


def ecr_image_region(image: str) -> str | None:
    """The region of an ECR image URI; None for another registry."""
    match = _ECR_IMAGE.match(image)
    return match["region"] if match else None


def ecr_repository_arn(
    image: str,
    partition_name: str,
    *,
    field: str = "serving.image",
    puller: str = "SageMaker endpoints",
) -> str:
    """The ECR repository ARN of an image URI, for a pull grant on that repository only."""
    match = _ECR_IMAGE.match(image)
    if match is None:
        raise SpecError(
            field,
            f"'{image}' is not in Amazon ECR, the only registry {puller} pull from",
            "push it to ECR (<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>@sha256:...)",
        )
    return (
        f"arn:{partition_name}:ecr:{match['region']}:{match['account']}:"
        f"repository/{match['repository']}"
    )


def is_kms_key_reference(value: str) -> bool:
    """A key ARN or key id; aliases cannot scope IAM policies, so they are not accepted."""
    return bool(
        re.match(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[\w-]+$", value)
        or re.match(
            r"^(mrk-)?[0-9a-f]{8}(-?[0-9a-f]{4}){3}-?[0-9a-f]{12}$|^mrk-[0-9a-f]{32}$", value
        )
    )

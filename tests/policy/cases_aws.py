"""Fixtures for the AWS rules, with the property names of pulumi-aws v7."""

from __future__ import annotations

import json
from typing import Any, Final

from policy_cases import Case, bad, ok
from policy_harness import DELETE, Computed, Res, patched

ACCOUNT: Final = "123456789012"
KEY_ARN: Final = Computed(f"arn:aws:kms:eu-central-1:{ACCOUNT}:key/0f1e2d3c")
ROLE_ARN: Final = Computed(f"arn:aws:iam::{ACCOUNT}:role/llm-endpoint-5e1a")
ENDPOINT_CONFIG: Final = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
MODEL: Final = "aws:sagemaker/model:Model"
ENDPOINT: Final = "aws:sagemaker/endpoint:Endpoint"
BUCKET: Final = "aws:s3/bucket:Bucket"
S3: Final = "aws:s3/"

VARIANT: Final = {
    "variantName": "AllTraffic",
    "modelName": Computed("llm-model-3b9c"),
    "initialInstanceCount": 2,
    "instanceType": "ml.p3.2xlarge",
    "containerStartupHealthCheckTimeoutInSeconds": 1800,
}
CAPTURE: Final = {
    "enableCapture": True,
    "initialSamplingPercentage": 20,
    "destinationS3Uri": Computed("s3://llm-capture-7f3a/capture"),
    "kmsKeyId": KEY_ARN,
    "captureOptions": [{"captureMode": "Input"}, {"captureMode": "Output"}],
}
CONFIG_PROPS: Final = {
    "region": "eu-central-1",
    "kmsKeyArn": KEY_ARN,
    "productionVariants": [VARIANT],
    "dataCaptureConfig": CAPTURE,
    "tags": {"team": "ml-platform"},
}


def endpoint_config(*changes: tuple[tuple[str | int, ...], Any]) -> Res:
    return Res(ENDPOINT_CONFIG, "llm", patched(CONFIG_PROPS, *changes))


MODEL_PROPS: Final = {
    "executionRoleArn": ROLE_ARN,
    "enableNetworkIsolation": True,
    "vpcConfig": {
        "subnets": [Computed("subnet-0a1b"), Computed("subnet-0c2d")],
        "securityGroupIds": [Computed("sg-0e3f")],
    },
    "primaryContainer": {
        "image": "763104351884.dkr.ecr.eu-central-1.amazonaws.com/"
        "huggingface-pytorch-tgi-inference:2.4.0-tgi2.4.0-gpu-py311-cu124-ubuntu22.04",
        "modelDataSource": {
            "s3DataSources": [
                {
                    "s3Uri": Computed("s3://llm-models-1c2d/llama/"),
                    "s3DataType": "S3Prefix",
                    "compressionType": "None",
                }
            ]
        },
        "environment": {"HF_MODEL_ID": "/opt/ml/model", "SM_NUM_GPUS": "1"},
    },
}


def model(*changes: tuple[tuple[str | int, ...], Any]) -> Res:
    return Res(MODEL, "llm", patched(MODEL_PROPS, *changes))


def _sagemaker_cases() -> list[Case]:
    kms = "aws-sagemaker-endpointconfig-require-kms"
    out = "aws-sagemaker-endpointconfig-require-output-kms"
    iso = "aws-sagemaker-model-require-network-isolation"
    vpc = "aws-sagemaker-model-require-vpc"
    latest = "aws-sagemaker-model-disallow-latest-tag"
    g5 = ((("productionVariants", 0, "instanceType"), "ml.g5.2xlarge"),)
    return [
        ok(kms, "cmk", endpoint_config()),
        ok(kms, "nvme-instance-storage", endpoint_config((("kmsKeyArn",), DELETE), *g5)),
        bad(kms, "ebs-without-key", endpoint_config((("kmsKeyArn",), DELETE)), "AllTraffic"),
        bad(
            kms,
            "shadow-variant-on-ebs",
            endpoint_config(
                (("kmsKeyArn",), DELETE),
                *g5,
                (("shadowProductionVariants",), [{**VARIANT, "variantName": "Shadow"}]),
            ),
            "Shadow",
        ),
        ok(out, "capture-with-key", endpoint_config()),
        ok(
            out,
            "capture-off",
            endpoint_config(
                (("dataCaptureConfig", "enableCapture"), False),
                (("dataCaptureConfig", "kmsKeyId"), DELETE),
            ),
        ),
        ok(out, "no-capture", endpoint_config((("dataCaptureConfig",), DELETE))),
        bad(
            out,
            "capture-without-key",
            endpoint_config((("dataCaptureConfig", "kmsKeyId"), DELETE)),
            "captured prompts",
        ),
        bad(
            out,
            "capture-enabled-by-default",
            endpoint_config(
                (("dataCaptureConfig", "kmsKeyId"), DELETE),
                (("dataCaptureConfig", "enableCapture"), DELETE),
            ),
            "captured prompts",
        ),
        bad(
            out,
            "async-without-key",
            endpoint_config(
                (
                    ("asyncInferenceConfig",),
                    {"outputConfig": {"s3OutputPath": Computed("s3://llm-async-9a/out")}},
                )
            ),
            "asynchronous inference",
        ),
        ok(iso, "isolated", model()),
        bad(iso, "not-isolated", model((("enableNetworkIsolation",), False)), "internet"),
        bad(iso, "unset", model((("enableNetworkIsolation",), DELETE)), "internet"),
        ok(vpc, "in-vpc", model()),
        bad(vpc, "no-vpc", model((("vpcConfig",), DELETE)), "outside a VPC"),
        bad(vpc, "no-subnets", model((("vpcConfig", "subnets"), [])), "outside a VPC"),
        ok(latest, "versioned", model()),
        bad(
            latest,
            "latest",
            model(
                (
                    ("primaryContainer", "image"),
                    "ghcr.io/huggingface/text-generation-inference:latest",
                )
            ),
            "latest tag",
        ),
        bad(
            latest,
            "multi-container-untagged",
            model(
                (("primaryContainer",), DELETE),
                (("containers",), [{"image": "ghcr.io/acme/router"}]),
            ),
            "containers[0]",
        ),
    ]


def _capture_stack(
    *, lifecycle: dict[str, Any] | None, uri: Any = None, bucket_props: dict[str, Any] | None = None
) -> tuple[Res, ...]:
    config_props = patched(CONFIG_PROPS)
    deps: dict[str, list[str]] = {"dataCaptureConfig": ["capture"]}
    if uri is not None:
        config_props = patched(CONFIG_PROPS, (("dataCaptureConfig", "destinationS3Uri"), uri))
        deps = {}
    resources = [
        Res(ENDPOINT_CONFIG, "llm", config_props, deps=deps),
        Res(BUCKET, "capture", bucket_props or {"forceDestroy": False}),
    ]
    if lifecycle is not None:
        resources.append(
            Res(
                f"{S3}bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                "capture-expiry",
                {"bucket": Computed("llm-capture-7f3a"), "rules": [lifecycle]},
                deps={"bucket": ["capture"]},
            )
        )
    return tuple(resources)


EXPIRE_30: Final = {
    "id": "expire",
    "status": "Enabled",
    "expiration": {"days": 30},
    "filter": {"prefix": ""},
}


def _capture_cases() -> list[Case]:
    rule = "aws-sagemaker-endpointconfig-require-capture-expiration"
    gdpr: dict[str, Any] = {"framework": "gdpr"}
    return [
        ok(rule, "expires-in-30-days", _capture_stack(lifecycle=EXPIRE_30), **gdpr),
        ok(
            rule,
            "bucket-by-literal-name",
            _capture_stack(
                lifecycle=EXPIRE_30,
                uri="s3://llm-capture/captures",
                bucket_props={"bucket": "llm-capture"},
            ),
            **gdpr,
        ),
        ok(
            rule,
            "inline-lifecycle-rules",
            _capture_stack(
                lifecycle=None,
                bucket_props={"lifecycleRules": [{"enabled": True, "expiration": {"days": 30}}]},
            ),
            **gdpr,
        ),
        ok(
            rule,
            "capture-off",
            (endpoint_config((("dataCaptureConfig", "enableCapture"), False)),),
            **gdpr,
        ),
        bad(
            rule,
            "no-lifecycle",
            _capture_stack(lifecycle=None),
            "do not expire within 90 days (no enabled lifecycle expiration rule)",
            **gdpr,
        ),
        bad(
            rule,
            "expires-too-late",
            _capture_stack(lifecycle={**EXPIRE_30, "expiration": {"days": 400}}),
            "expire after 400 days, over the 90-day limit (maxRetentionDays)",
            **gdpr,
        ),
        ok(
            rule,
            "limit-raised-in-pack-config",
            _capture_stack(lifecycle={**EXPIRE_30, "expiration": {"days": 180}}),
            config={"maxRetentionDays": 365},
            **gdpr,
        ),
        bad(
            rule,
            "inline-rule-too-late",
            _capture_stack(
                lifecycle=None,
                bucket_props={"lifecycleRules": [{"enabled": True, "expiration": {"days": 180}}]},
            ),
            "expire after 180 days, over the 90-day limit (maxRetentionDays)",
            **gdpr,
        ),
        bad(
            rule,
            "rule-disabled",
            _capture_stack(lifecycle={**EXPIRE_30, "status": "Disabled"}),
            "do not expire within 90 days (no enabled lifecycle expiration rule)",
            **gdpr,
        ),
        bad(
            rule,
            "bucket-outside-stack",
            _capture_stack(lifecycle=EXPIRE_30, uri="s3://someone-elses-bucket/capture"),
            "not managed in this stack",
            **gdpr,
        ),
    ]


def _bucket(name: str = "models", **props: Any) -> Res:
    return Res(BUCKET, name, {"forceDestroy": False, "tags": {"team": "ml-platform"}, **props})


def _companion(kind: str, name: str, props: dict[str, Any], bucket: str = "models") -> Res:
    token = f"{S3}{kind[0].lower()}{kind[1:]}:{kind}"
    return Res(
        token, name, {"bucket": Computed(f"{bucket}-4c1d"), **props}, deps={"bucket": [bucket]}
    )


def _sse(algorithm: str = "aws:kms", key: Any = KEY_ARN, bucket: str = "models") -> Res:
    default: dict[str, Any] = {"sseAlgorithm": algorithm}
    if key is not None:
        default["kmsMasterKeyId"] = key
    return _companion(
        "BucketServerSideEncryptionConfiguration",
        f"{bucket}-sse",
        {"rules": [{"applyServerSideEncryptionByDefault": default, "bucketKeyEnabled": True}]},
        bucket,
    )


PAB_FLAGS: Final = {
    "blockPublicAcls": True,
    "blockPublicPolicy": True,
    "ignorePublicAcls": True,
    "restrictPublicBuckets": True,
}
TLS_ONLY: Final[dict[str, Any]] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [
                Computed("arn:aws:s3:::models-4c1d"),
                Computed("arn:aws:s3:::models-4c1d/*"),
            ],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ],
}


def _tls_variant(bucket: Any = None, **statement: Any) -> Res:
    """The TLS-only bucket policy with some of its statement's keys replaced."""
    document = {**TLS_ONLY, "Statement": [{**TLS_ONLY["Statement"][0], **statement}]}
    props: dict[str, Any] = {"policy": document}
    if bucket is not None:
        return Res(f"{S3}bucketPolicy:BucketPolicy", "models-policy", {"bucket": bucket, **props})
    return _companion("BucketPolicy", "models-policy", props)


def _s3_cases() -> list[Case]:
    kms = "aws-s3-bucket-require-kms-encryption"
    pab = "aws-s3-bucket-require-public-access-block"
    tls = "aws-s3-bucket-require-tls-policy"
    ver = "aws-s3-bucket-require-versioning"
    log = "aws-s3-bucket-require-access-logging"
    models = _bucket()
    literal = _bucket(bucket="acme-llm-models")
    literal_sse = Res(
        f"{S3}bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "models-sse",
        {"bucket": "acme-llm-models", "rules": _sse().props["rules"]},
    )
    inline = _bucket(
        serverSideEncryptionConfiguration={
            "rule": {
                "applyServerSideEncryptionByDefault": {
                    "sseAlgorithm": "aws:kms",
                    "kmsMasterKeyId": KEY_ARN,
                }
            }
        }
    )
    policy = _companion("BucketPolicy", "models-policy", {"policy": TLS_ONLY})
    allow_only = _companion(
        "BucketPolicy",
        "models-policy",
        {
            "policy": {
                "Version": "2012-10-17",
                "Statement": [{**TLS_ONLY["Statement"][0], "Effect": "Allow", "Condition": {}}],
            }
        },
    )
    json_text = Res(
        f"{S3}bucketPolicy:BucketPolicy",
        "models-policy",
        {
            "bucket": "acme-llm-models",
            "policy": json.dumps(
                {
                    **TLS_ONLY,
                    "Statement": [
                        {
                            **TLS_ONLY["Statement"][0],
                            "Resource": [
                                "arn:aws:s3:::acme-llm-models",
                                "arn:aws:s3:::acme-llm-models/*",
                            ],
                        }
                    ],
                }
            ),
        },
    )
    logs = _bucket("access-logs")
    logging = Res(
        f"{S3}bucketLogging:BucketLogging",
        "models-logging",
        {
            "bucket": Computed("models-4c1d"),
            "targetBucket": Computed("access-logs-9e8f"),
            "targetPrefix": "models/",
        },
        deps={"bucket": ["models"], "targetBucket": ["access-logs"]},
    )
    return [
        ok(kms, "sse-kms-cmk", (models, _sse())),
        ok(kms, "literal-bucket-name", (literal, literal_sse)),
        ok(kms, "inline-configuration", (inline,)),
        bad(kms, "no-configuration", (models,), "no BucketServerSideEncryptionConfiguration"),
        bad(kms, "aes256", (models, _sse("AES256", None)), "not SSE-KMS"),
        bad(kms, "aws-managed-key", (models, _sse(key=None)), "AWS-managed"),
        bad(
            kms,
            "configuration-of-another-bucket",
            (models, _bucket("other"), _sse(bucket="other")),
            "bucket 'models'",
        ),
        ok(
            pab,
            "all-blocked",
            (models, _companion("BucketPublicAccessBlock", "models-pab", PAB_FLAGS)),
        ),
        bad(pab, "missing", (models,), "no BucketPublicAccessBlock"),
        bad(
            pab,
            "policy-not-blocked",
            (
                models,
                _companion(
                    "BucketPublicAccessBlock",
                    "models-pab",
                    {**PAB_FLAGS, "blockPublicPolicy": False},
                ),
            ),
            "blockPublicPolicy",
        ),
        ok(tls, "deny-insecure-transport", (models, policy)),
        ok(tls, "json-text-policy", (literal, json_text)),
        bad(tls, "no-policy", (models,), "accepts plain HTTP"),
        bad(tls, "allow-only", (models, allow_only), "accepts plain HTTP"),
        bad(
            tls,
            "tls-version-deny-only",
            (models, _tls_variant(Condition={"NumericLessThan": {"s3:TlsVersion": "1.2"}})),
            "accepts plain HTTP",
        ),
        bad(
            tls,
            "deny-for-one-account-only",
            (models, _tls_variant(Principal={"AWS": "arn:aws:iam::111122223333:root"})),
            "accepts plain HTTP",
        ),
        ok(tls, "aws-star-principal", (models, _tls_variant(Principal={"AWS": "*"}))),
        bad(
            tls,
            "deny-put-only",
            (models, _tls_variant(Action="s3:PutObject")),
            "accepts plain HTTP",
        ),
        bad(
            tls,
            "objects-of-another-bucket",
            (literal, _tls_variant(bucket="acme-llm-models", Resource="arn:aws:s3:::other/*")),
            "accepts plain HTTP",
        ),
        ok(
            ver,
            "enabled",
            (
                models,
                _companion(
                    "BucketVersioning",
                    "models-versioning",
                    {"versioningConfiguration": {"status": "Enabled"}},
                ),
            ),
            framework="hipaa",
        ),
        ok(ver, "inline", (_bucket(versioning={"enabled": True}),), framework="hipaa"),
        bad(ver, "missing", (models,), "no BucketVersioning", framework="hipaa"),
        bad(
            ver,
            "suspended",
            (
                models,
                _companion(
                    "BucketVersioning",
                    "models-versioning",
                    {"versioningConfiguration": {"status": "Suspended"}},
                ),
            ),
            "no BucketVersioning",
            framework="hipaa",
        ),
        ok(log, "logged-and-log-bucket-exempt", (models, logs, logging), framework="hipaa"),
        bad(log, "missing", (models,), "no server access logging", framework="hipaa"),
        bad(
            log,
            "only-log-bucket-exempt",
            (models, logs, logging, _bucket("datasets")),
            "bucket 'datasets'",
            framework="hipaa",
        ),
    ]


LOG_GROUP: Final = "aws:cloudwatch/logGroup:LogGroup"


def log_group(**props: Any) -> Res:
    base: dict[str, Any] = {
        "name": "/aws/sagemaker/Endpoints/llm",
        "kmsKeyId": KEY_ARN,
        "retentionInDays": 365,
    }
    base.update(props)
    return Res(LOG_GROUP, "endpoint-logs", {k: v for k, v in base.items() if v is not DELETE})


def _logs_cases() -> list[Case]:
    kms = "aws-cloudwatch-loggroup-require-kms"
    low = "aws-cloudwatch-loggroup-require-min-retention"
    high = "aws-cloudwatch-loggroup-limit-max-retention"
    hipaa: dict[str, Any] = {"framework": "hipaa"}
    gdpr: dict[str, Any] = {"framework": "gdpr"}
    return [
        ok(kms, "cmk", log_group()),
        bad(kms, "no-key", log_group(kmsKeyId=DELETE), "kmsKeyId unset"),
        ok(low, "one-year", log_group(), **hipaa),
        ok(low, "never-expires", log_group(retentionInDays=DELETE), **hipaa),
        ok(low, "zero-means-never", log_group(retentionInDays=0), **hipaa),
        ok(low, "baseline-has-no-minimum", log_group(retentionInDays=7)),
        bad(
            low, "thirty-days", log_group(retentionInDays=30), "below the 365 day minimum", **hipaa
        ),
        ok(high, "one-year", log_group(), **gdpr),
        ok(high, "six-years", log_group(retentionInDays=2192), **gdpr),
        bad(high, "never-expires", log_group(retentionInDays=DELETE), "never expire", **gdpr),
        bad(high, "zero", log_group(retentionInDays=0), "never expire", **gdpr),
        bad(
            high, "ten-years", log_group(retentionInDays=3653), "above the 2192 day maximum", **gdpr
        ),
        bad(
            high,
            "configured-maximum",
            log_group(),
            "above the 90 day maximum",
            config={"maxRetentionDays": 90},
            **gdpr,
        ),
    ]


def _document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


READ_MODEL: Final = {
    "Effect": "Allow",
    "Action": ["s3:GetObject", "s3:ListBucket"],
    "Resource": [
        Computed("arn:aws:s3:::llm-models-1c2d"),
        Computed("arn:aws:s3:::llm-models-1c2d/*"),
    ],
}
ECR_TOKEN: Final = {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}
ROLE_POLICY: Final = "aws:iam/rolePolicy:RolePolicy"


def role_policy(*statements: dict[str, Any]) -> Res:
    return Res(
        ROLE_POLICY,
        "llm-endpoint",
        {"role": Computed("llm-endpoint-5e1a"), "policy": _document(*statements)},
    )


def _iam_cases() -> list[Case]:
    actions = "aws-iam-policy-disallow-wildcard-actions"
    resources = "aws-iam-policy-restrict-wildcard-resources"
    managed = "aws-iam-role-disallow-broad-managed-policies"
    kms_wildcard = {"Effect": "Allow", "Action": "kms:*", "Resource": [KEY_ARN]}
    role = Res(
        "aws:iam/role:Role",
        "llm-endpoint",
        {
            "assumeRolePolicy": json.dumps(
                _document(
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "sagemaker.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                )
            ),
            "inlinePolicies": [
                {
                    "name": "read",
                    "policy": json.dumps(
                        _document({**READ_MODEL, "Resource": "arn:aws:s3:::acme/*"})
                    ),
                }
            ],
            "tags": {"team": "ml-platform"},
        },
    )
    attachment = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
    return [
        ok(actions, "scoped", role_policy(READ_MODEL, ECR_TOKEN)),
        ok(actions, "role-inline-json", role),
        ok(
            actions,
            "deny-star-is-fine",
            role_policy(
                READ_MODEL,
                {
                    "Effect": "Deny",
                    "Action": "*",
                    "Resource": "*",
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ),
        ),
        bad(actions, "service-wildcard", role_policy(READ_MODEL, kms_wildcard), "kms:*"),
        bad(
            actions,
            "star",
            role_policy({"Effect": "Allow", "Action": "*", "Resource": "*"}),
            "wildcard actions",
        ),
        bad(
            actions,
            "sagemaker-star-in-managed-policy",
            Res(
                "aws:iam/policy:Policy",
                "llm",
                {
                    "policy": _document(
                        {
                            "Effect": "Allow",
                            "Action": ["sagemaker:*"],
                            "Resource": [Computed("arn:aws:sagemaker:eu-central-1:1:endpoint/llm")],
                        }
                    )
                },
            ),
            "sagemaker:*",
        ),
        bad(
            actions,
            "not-action",
            role_policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}),
            "NotAction",
        ),
        bad(
            actions,
            "role-inline-json-s3-star",
            Res(
                "aws:iam/role:Role",
                "llm-endpoint",
                patched(
                    role.props,
                    (
                        ("inlinePolicies", 0, "policy"),
                        json.dumps(
                            _document(
                                {**READ_MODEL, "Action": "s3:*", "Resource": "arn:aws:s3:::acme/*"}
                            )
                        ),
                    ),
                ),
            ),
            "s3:*",
        ),
        ok(resources, "scoped-and-unscopable", role_policy(READ_MODEL, ECR_TOKEN)),
        ok(
            resources,
            "vpc-eni-actions",
            role_policy(
                {
                    "Effect": "Allow",
                    "Action": ["ec2:DescribeNetworkInterfaces", "ec2:CreateNetworkInterface"],
                    "Resource": "*",
                }
            ),
        ),
        bad(
            resources,
            "get-object-everywhere",
            role_policy({**READ_MODEL, "Resource": "*"}),
            "s3:GetObject",
        ),
        bad(
            resources,
            "not-resource",
            role_policy(
                {
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "NotResource": "arn:aws:s3:::secret/*",
                }
            ),
            "NotResource",
        ),
        ok(
            managed,
            "customer-policy",
            Res(
                attachment,
                "llm-read",
                {
                    "role": Computed("llm-endpoint-5e1a"),
                    "policyArn": Computed(f"arn:aws:iam::{ACCOUNT}:policy/llm-read"),
                },
            ),
        ),
        ok(
            managed,
            "narrow-aws-policy",
            Res(
                attachment,
                "ecr-read",
                {
                    "role": Computed("llm-endpoint-5e1a"),
                    "policyArn": "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
                },
            ),
        ),
        bad(
            managed,
            "sagemaker-full-access",
            Res(
                attachment,
                "full",
                {
                    "role": Computed("llm-endpoint-5e1a"),
                    "policyArn": "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess",
                },
            ),
            "AmazonSageMakerFullAccess",
        ),
        bad(
            managed,
            "admin-on-role",
            Res(
                "aws:iam/role:Role",
                "llm-endpoint",
                {
                    **role.props,
                    "managedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"],
                },
            ),
            "AdministratorAccess",
        ),
    ]


def _misc_cases() -> list[Case]:
    rotation = "aws-kms-key-require-rotation"
    sns = "aws-sns-topic-require-kms"
    key = "aws:kms/key:Key"
    base_key = {
        "description": "llm",
        "enableKeyRotation": True,
        "deletionWindowInDays": 30,
        "policy": Computed('{"Version": "2012-10-17", "Statement": []}'),
    }
    topic = "aws:sns/topic:Topic"
    return [
        ok(rotation, "rotating", Res(key, "llm", base_key)),
        ok(rotation, "ninety-days", Res(key, "llm", {**base_key, "rotationPeriodInDays": 90})),
        ok(
            rotation,
            "asymmetric-cannot-rotate",
            Res(key, "signing", {"customerMasterKeySpec": "RSA_2048", "keyUsage": "SIGN_VERIFY"}),
        ),
        bad(rotation, "unset", Res(key, "llm", {"description": "llm"}), "rotation is off"),
        bad(
            rotation,
            "off",
            Res(key, "llm", {**base_key, "enableKeyRotation": False}),
            "rotation is off",
        ),
        bad(
            rotation,
            "too-slow",
            Res(key, "llm", {**base_key, "rotationPeriodInDays": 730}),
            "longer than 365",
        ),
        ok(sns, "cmk", Res(topic, "alarms", {"kmsMasterKeyId": KEY_ARN})),
        bad(sns, "plain", Res(topic, "alarms", {"displayName": "alarms"}), "kmsMasterKeyId unset"),
    ]


def _front_door_cases() -> list[Case]:
    rule = "aws-apigateway-stage-require-throttling"
    waf = "aws-wafv2-webacl-require-request-limits"
    stage = Res(
        "aws:apigateway/stage:Stage",
        "prod",
        {"stageName": "prod", "restApi": Computed("a1b2c3"), "deployment": Computed("d4e5f6")},
    )
    settings = Res(
        "aws:apigateway/methodSettings:MethodSettings",
        "prod-throttle",
        {
            "restApi": Computed("a1b2c3"),
            "stageName": Computed("prod"),
            "methodPath": "*/*",
            "settings": {
                "throttlingRateLimit": 20,
                "throttlingBurstLimit": 40,
                "metricsEnabled": True,
            },
        },
        deps={"stageName": ["prod"]},
    )
    plan = Res(
        "aws:apigateway/usagePlan:UsagePlan",
        "clients",
        {
            "apiStages": [{"apiId": Computed("a1b2c3"), "stage": Computed("prod")}],
            "throttleSettings": {"rateLimit": 20, "burstLimit": 40},
        },
        deps={"apiStages": ["prod"]},
    )
    http_stage = Res(
        "aws:apigatewayv2/stage:Stage",
        "default",
        {
            "apiId": Computed("h1t2"),
            "name": "$default",
            "autoDeploy": True,
            "defaultRouteSettings": {"throttlingRateLimit": 20, "throttlingBurstLimit": 40},
        },
    )
    rate_rule = {
        "name": "rate",
        "priority": 1,
        "action": {"block": {}},
        "statement": {"rateBasedStatement": {"limit": 1200, "aggregateKeyType": "IP"}},
        "visibilityConfig": {
            "cloudwatchMetricsEnabled": True,
            "metricName": "rate",
            "sampledRequestsEnabled": True,
        },
    }
    size_rule = {
        "name": "body-size",
        "priority": 2,
        "action": {"block": {}},
        "statement": {
            "sizeConstraintStatement": {
                "comparisonOperator": "GT",
                "size": 65536,
                "fieldToMatch": {"body": {"oversizeHandling": "MATCH"}},
                "textTransformations": [{"priority": 0, "type": "NONE"}],
            }
        },
        "visibilityConfig": {
            "cloudwatchMetricsEnabled": True,
            "metricName": "size",
            "sampledRequestsEnabled": True,
        },
    }
    allow_list = {
        "name": "partners",
        "priority": 0,
        "action": {"allow": {}},
        "statement": {
            "ipSetReferenceStatement": {
                "arn": Computed("arn:aws:wafv2:eu-central-1:1:regional/ipset/p/1")
            }
        },
        "visibilityConfig": {
            "cloudwatchMetricsEnabled": True,
            "metricName": "partners",
            "sampledRequestsEnabled": True,
        },
    }
    acl_base = {
        "scope": "REGIONAL",
        "defaultAction": {"allow": {}},
        "visibilityConfig": {
            "cloudwatchMetricsEnabled": True,
            "metricName": "llm",
            "sampledRequestsEnabled": True,
        },
    }
    acl = "aws:wafv2/webAcl:WebAcl"

    def pascal(value: Any) -> Any:
        if isinstance(value, dict):
            return {k[:1].upper() + k[1:]: pascal(v) for k, v in value.items()}
        if isinstance(value, list):
            return [pascal(v) for v in value]
        return value

    return [
        ok(rule, "method-settings", (stage, settings)),
        ok(rule, "usage-plan", (stage, plan)),
        ok(rule, "http-api", (http_stage,)),
        bad(rule, "rest-unthrottled", (stage,), "stage 'prod' has no throttling"),
        bad(
            rule,
            "rate-zero",
            (
                stage,
                Res(
                    settings.type,
                    settings.name,
                    patched(settings.props, (("settings", "throttlingRateLimit"), 0)),
                    deps=settings.deps,
                ),
            ),
            "has no throttling",
        ),
        bad(
            rule,
            "http-api-unthrottled",
            (
                Res(
                    http_stage.type,
                    "default",
                    patched(http_stage.props, (("defaultRouteSettings",), DELETE)),
                ),
            ),
            "defaultRouteSettings",
        ),
        ok(
            waf,
            "rate-and-size",
            Res(acl, "llm", {**acl_base, "rules": [allow_list, rate_rule, size_rule]}),
        ),
        ok(
            waf,
            "rule-json",
            Res(acl, "llm", {**acl_base, "ruleJson": json.dumps(pascal([rate_rule, size_rule]))}),
        ),
        bad(
            waf,
            "no-rate",
            Res(acl, "llm", {**acl_base, "rules": [allow_list, size_rule]}),
            "rate-based",
        ),
        bad(
            waf,
            "rate-only-counted",
            Res(
                acl,
                "llm",
                {**acl_base, "rules": [{**rate_rule, "action": {"count": {}}}, size_rule]},
            ),
            "rate-based",
        ),
        bad(waf, "no-size", Res(acl, "llm", {**acl_base, "rules": [rate_rule]}), "size constraint"),
        bad(
            waf,
            "size-limit-only-under-not-statement",
            Res(
                acl,
                "llm",
                {
                    **acl_base,
                    "rules": [
                        rate_rule,
                        {
                            **size_rule,
                            "statement": {"notStatement": {"statement": size_rule["statement"]}},
                        },
                    ],
                },
            ),
            "size constraint",
        ),
        bad(
            waf,
            "rate-limit-only-under-not-statement",
            Res(
                acl,
                "llm",
                {
                    **acl_base,
                    "rules": [
                        {
                            **rate_rule,
                            "statement": {"notStatement": {"statement": rate_rule["statement"]}},
                        },
                        size_rule,
                    ],
                },
            ),
            "rate-based",
        ),
    ]


CASES: Final = [
    *_sagemaker_cases(),
    *_capture_cases(),
    *_s3_cases(),
    *_logs_cases(),
    *_iam_cases(),
    *_misc_cases(),
    *_front_door_cases(),
]

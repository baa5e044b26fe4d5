"""S3 buckets holding model artifacts and captured data.

In pulumi-aws v7 encryption, versioning, public access block, logging and lifecycle are separate
resources that name the bucket, so these are stack rules: each bucket must have its companion.
The deprecated inline bucket arguments are accepted too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fnmatch import fnmatchcase
from typing import Any, Final

from inferstack.compliance.model import Report, Rule, RuleConfig, Scope, Severity, StackResource
from inferstack.compliance.props import (
    MISSING,
    UNKNOWN,
    as_bool,
    as_document,
    elements,
    get,
    has_unknown,
)
from inferstack.compliance.rules._common import (
    GDPR_BY_DESIGN,
    GDPR_CONFIDENTIALITY,
    GDPR_SECURITY,
    HIPAA_ACCESS,
    HIPAA_AUDIT,
    HIPAA_CONTINGENCY,
    HIPAA_ENCRYPTION,
    HIPAA_INTEGRITY,
    HIPAA_TRANSMISSION,
    HIPAA_TRANSMISSION_ENCRYPTION,
    OWASP_DISCLOSURE,
    OWASP_POISONING,
    unverifiable,
)
from inferstack.compliance.rules._s3 import (
    BUCKET_TYPES,
    ENCRYPTION_TYPES,
    LOGGING_TYPES,
    POLICY_TYPES,
    PUBLIC_ACCESS_BLOCK_TYPES,
    VERSIONING_TYPES,
    bucket_names,
    companions_of,
)
from inferstack.compliance.rules._stack import of_type, refers_to

KMS_ALGORITHMS: Final = ("aws:kms", "aws:kms:dsse")
PUBLIC_ACCESS_FLAGS: Final = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)

# How companions find their bucket: its name (or id), or a dependency on it.
BUCKET_REFERENCES: Final = ("bucket", "id")

# A verdict for one bucket: None if compliant, else the problem (unverifiable ones included).
BucketCheck = Callable[[Sequence[StackResource], StackResource], str | None]


def _for_each_bucket(check: BucketCheck) -> Callable[..., None]:
    def run(resources: Sequence[StackResource], report: Report, cfg: RuleConfig) -> None:
        for bucket in of_type(resources, *BUCKET_TYPES):
            problem = check(resources, bucket)
            if problem:
                report(problem, bucket.urn)

    return run


def _sse_rule_verdict(rule: Any, where: str) -> str | None:
    default = get(rule, "applyServerSideEncryptionByDefault")
    algorithm = get(default, "sseAlgorithm")
    if default is UNKNOWN or algorithm is UNKNOWN:
        return unverifiable(f"{where}.applyServerSideEncryptionByDefault.sseAlgorithm")
    if algorithm not in KMS_ALGORITHMS:
        return f"bucket encryption uses {algorithm!r}, not SSE-KMS"
    if get(default, "kmsMasterKeyId") in (MISSING, None, ""):
        return "bucket encryption uses the AWS-managed aws/s3 key, not a customer-managed key"
    return None


def bucket_encryption(resources: Sequence[StackResource], bucket: StackResource) -> str | None:
    """None if the bucket is encrypted with SSE-KMS under a customer-managed key, else why not."""
    configs = companions_of(resources, bucket, ENCRYPTION_TYPES)
    verdicts: list[str | None] = []
    for config in configs:
        if get(config.props, "rules") is UNKNOWN:
            verdicts.append(unverifiable("rules"))
            continue
        for index, rule in enumerate(elements(config.props, "rules")):
            verdicts.append(_sse_rule_verdict(rule, f"rules[{index}]"))
    inline = get(bucket.props, "serverSideEncryptionConfiguration", "rule")
    if inline not in (MISSING, None):
        verdicts.append(_sse_rule_verdict(inline, "serverSideEncryptionConfiguration.rule"))
    if any(verdict is None for verdict in verdicts):
        return None
    if verdicts:
        return next(v for v in verdicts if v)
    return (
        f"bucket '{bucket.name}' has no BucketServerSideEncryptionConfiguration with SSE-KMS "
        "and a customer-managed key"
    )


def _public_access(resources: Sequence[StackResource], bucket: StackResource) -> str | None:
    blocks = companions_of(resources, bucket, PUBLIC_ACCESS_BLOCK_TYPES)
    if not blocks:
        return f"bucket '{bucket.name}' has no BucketPublicAccessBlock"
    for block in blocks:
        values = {flag: get(block.props, flag) for flag in PUBLIC_ACCESS_FLAGS}
        unknown = [flag for flag, value in values.items() if value is UNKNOWN]
        if unknown:
            return unverifiable(unknown[0])
        off = [flag for flag, value in values.items() if as_bool(value) is not True]
        if not off:
            return None
    return f"bucket '{bucket.name}' public access block leaves {', '.join(off)} off"


def _versioning(resources: Sequence[StackResource], bucket: StackResource) -> str | None:
    for config in companions_of(resources, bucket, VERSIONING_TYPES):
        status = get(config.props, "versioningConfiguration", "status")
        if status is UNKNOWN:
            return unverifiable("versioningConfiguration.status")
        if status == "Enabled":
            return None
    if as_bool(get(bucket.props, "versioning", "enabled")) is True:
        return None
    return f"bucket '{bucket.name}' has no BucketVersioning with status Enabled"


def _log_targets(resources: Sequence[StackResource], bucket: StackResource) -> bool:
    """Whether the bucket receives other buckets' access logs (a log bucket does not log itself)."""
    names = bucket_names(bucket)
    return any(
        refers_to(logging, "targetBucket", bucket, names)
        for logging in of_type(resources, *LOGGING_TYPES)
    ) or any(
        get(other.props, "logging", "targetBucket") in names
        for other in of_type(resources, *BUCKET_TYPES)
    )


def _access_logging(resources: Sequence[StackResource], bucket: StackResource) -> str | None:
    if _log_targets(resources, bucket):
        return None
    for logging in companions_of(resources, bucket, LOGGING_TYPES):
        if get(logging.props, "targetBucket") not in (MISSING, None, ""):
            return None
    if get(bucket.props, "logging", "targetBucket") not in (MISSING, None, ""):
        return None
    return f"bucket '{bucket.name}' has no server access logging (BucketLogging)"


TLS_ACTIONS: Final = ("s3:GetObject", "s3:PutObject", "s3:ListBucket")


def _listed(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    return [] if value in (MISSING, None) else [value]


def _everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, dict) and "*" in _listed(principal.get("AWS"))


def _covers_actions(actions: list[Any]) -> bool:
    patterns = [str(action).lower() for action in actions]
    return all(any(fnmatchcase(a.lower(), p) for p in patterns) for a in TLS_ACTIONS)


def _covers_bucket(resources: list[Any], names: frozenset[str]) -> bool:
    """The bucket and its objects; an ARN computed from the bucket counts as the bucket's."""
    if UNKNOWN in resources:
        return True
    arns = [str(item) for item in resources]
    if not names:
        return any(arn == "*" or arn.startswith("arn:aws:s3:::") for arn in arns)
    return all(
        any(fnmatchcase(target, arn) for arn in arns)
        for name in names
        for target in (f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/x")
    )


def _denies_insecure_transport(statement: Any, names: frozenset[str]) -> bool | None:
    """Whether the statement denies everyone plain HTTP on the bucket; None if unknown.

    Only ``Bool``/``BoolIfExists`` ``aws:SecureTransport`` "false" matches a plain HTTP request;
    a ``NumericLessThan s3:TlsVersion`` condition never does, so it does not count.
    """
    if has_unknown(statement):
        # Resource ARNs computed from the bucket are references; anything else must be known.
        known = {key: value for key, value in statement.items() if key != "Resource"}
        if has_unknown(known):
            return None
    if statement.get("Effect") != "Deny":
        return False
    if any(key in statement for key in ("NotPrincipal", "NotAction", "NotResource")):
        return False
    condition = statement.get("Condition")
    secure = [
        value
        for operator in ("Bool", "BoolIfExists")
        for value in _listed(get(condition, operator, "aws:SecureTransport"))
    ]
    return (
        any(as_bool(value) is False for value in secure)
        and _everyone(statement.get("Principal"))
        and _covers_actions(_listed(statement.get("Action")))
        and _covers_bucket(_listed(statement.get("Resource")), names)
    )


def _statements(document: Any) -> list[Any] | None:
    if document is UNKNOWN or document is MISSING:
        return None
    statements = get(document, "Statement")
    if statements is UNKNOWN:
        return None
    if isinstance(statements, dict):
        return [statements]
    return list(elements(document, "Statement"))


def _tls_policy(resources: Sequence[StackResource], bucket: StackResource) -> str | None:
    documents = [
        as_document(get(policy.props, "policy"))
        for policy in companions_of(resources, bucket, POLICY_TYPES)
    ]
    if get(bucket.props, "policy") not in (MISSING, None):
        documents.append(as_document(get(bucket.props, "policy")))
    names = bucket_names(bucket)
    unknown = False
    for document in documents:
        statements = _statements(document)
        verdicts = (
            [None]
            if statements is None
            else [
                _denies_insecure_transport(s, names) if isinstance(s, dict) else None
                for s in statements
            ]
        )
        if True in verdicts:
            return None
        unknown = unknown or None in verdicts
    if unknown:
        return unverifiable(
            "policy.Statement",
            "the bucket policy is known only after deploy; pass the document as an object "
            "built from known values (the bucket ARN may be an output)",
        )
    return (
        f"bucket '{bucket.name}' accepts plain HTTP: no bucket policy statement denies "
        "Principal * the bucket's actions when aws:SecureTransport is false"
    )


def _bucket_rule(
    name: str,
    description: str,
    severity: Severity,
    controls: tuple[str, ...],
    frameworks: frozenset[Any],
    remediation: str,
    check: BucketCheck,
    companion_types: tuple[str, ...],
    peers: tuple[str, ...],
    reads: tuple[str, ...],
    references: tuple[str, ...],
) -> Rule:
    return Rule(
        name=name,
        description=description,
        severity=severity,
        resource_types=(*BUCKET_TYPES, *companion_types),
        controls=controls,
        frameworks=frameworks,
        remediation=remediation,
        check=_for_each_bucket(check),
        scope=Scope.STACK,
        peers=peers,
        reads=reads,
        references=(*BUCKET_REFERENCES, *references),
    )


RULES: Final = (
    _bucket_rule(
        "aws-s3-bucket-require-kms-encryption",
        "Buckets are encrypted with SSE-KMS under a customer-managed key.",
        Severity.HIGH,
        (HIPAA_ENCRYPTION, GDPR_SECURITY, GDPR_CONFIDENTIALITY, OWASP_DISCLOSURE),
        frozenset({"baseline"}),
        "Add a BucketServerSideEncryptionConfiguration with sseAlgorithm aws:kms and "
        "kmsMasterKeyId set to the deployment's KMS key, with bucketKeyEnabled.",
        bucket_encryption,
        ENCRYPTION_TYPES,
        ("CKV_AWS_145", "cdk-nag:S3DefaultEncryptionKMS"),
        (
            "rules",
            "rules[*]",
            "rules[*].applyServerSideEncryptionByDefault.sseAlgorithm",
            "serverSideEncryptionConfiguration.rule.applyServerSideEncryptionByDefault"
            ".sseAlgorithm",
        ),
        (
            "rules[*].applyServerSideEncryptionByDefault.kmsMasterKeyId",
            "serverSideEncryptionConfiguration.rule.applyServerSideEncryptionByDefault"
            ".kmsMasterKeyId",
        ),
    ),
    _bucket_rule(
        "aws-s3-bucket-require-public-access-block",
        "Buckets block every form of public access.",
        Severity.CRITICAL,
        (HIPAA_ACCESS, GDPR_BY_DESIGN, GDPR_SECURITY, OWASP_DISCLOSURE),
        frozenset({"baseline"}),
        "Add a BucketPublicAccessBlock with all four flags true.",
        _public_access,
        PUBLIC_ACCESS_BLOCK_TYPES,
        ("CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56"),
        PUBLIC_ACCESS_FLAGS,
        (),
    ),
    _bucket_rule(
        "aws-s3-bucket-require-tls-policy",
        "Bucket policies deny everyone every bucket action over plain HTTP "
        "(aws:SecureTransport false).",
        Severity.MEDIUM,
        (HIPAA_TRANSMISSION, HIPAA_TRANSMISSION_ENCRYPTION, GDPR_SECURITY),
        frozenset({"baseline"}),
        "Add a BucketPolicy statement: Effect Deny, Principal * (or {AWS: *}), Action s3:*, "
        "Resource the bucket ARN and ARN/*, Condition Bool aws:SecureTransport false (an "
        "s3:TlsVersion condition does not deny plain HTTP). Pass the document as an object so its "
        "statements are known at preview.",
        _tls_policy,
        POLICY_TYPES,
        ("cdk-nag:S3BucketSSLRequestsOnly",),
        ("policy", "policy.*"),
        (),
    ),
    _bucket_rule(
        "aws-s3-bucket-require-versioning",
        "Buckets keep object versions, so artifacts and evidence can be restored.",
        Severity.MEDIUM,
        (HIPAA_INTEGRITY, HIPAA_CONTINGENCY, OWASP_POISONING),
        frozenset({"hipaa"}),
        "Add a BucketVersioning with versioningConfiguration.status Enabled.",
        _versioning,
        VERSIONING_TYPES,
        ("CKV_AWS_21",),
        ("versioningConfiguration.status", "versioning.enabled"),
        (),
    ),
    _bucket_rule(
        "aws-s3-bucket-require-access-logging",
        "Buckets record server access logs (log buckets themselves are exempt).",
        Severity.MEDIUM,
        (HIPAA_AUDIT,),
        frozenset({"hipaa"}),
        "Add a BucketLogging that sends access logs to a dedicated log bucket.",
        _access_logging,
        LOGGING_TYPES,
        ("CKV_AWS_18", "cdk-nag:S3BucketLoggingEnabled"),
        (),
        ("targetBucket", "logging", "logging.targetBucket"),
    ),
)

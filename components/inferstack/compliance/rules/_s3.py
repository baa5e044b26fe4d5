"""S3 buckets and their companions (pulumi-aws v7 splits bucket settings into resources)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from inferstack.compliance.model import StackResource
from inferstack.compliance.props import get
from inferstack.compliance.rules._stack import companions, known_strings

BUCKET_TYPES: Final = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
ENCRYPTION_TYPES: Final = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
VERSIONING_TYPES: Final = (
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketVersioningV2:BucketVersioningV2",
)
LOGGING_TYPES: Final = (
    "aws:s3/bucketLogging:BucketLogging",
    "aws:s3/bucketLoggingV2:BucketLoggingV2",
)
LIFECYCLE_TYPES: Final = (
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
)
PUBLIC_ACCESS_BLOCK_TYPES: Final = ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",)
POLICY_TYPES: Final = ("aws:s3/bucketPolicy:BucketPolicy",)


def bucket_names(bucket: StackResource) -> frozenset[str]:
    """The bucket's physical name when the program set it (``bucket`` input) or it is known."""
    return known_strings(get(bucket.props, "bucket"), get(bucket.props, "id"))


def companions_of(
    resources: Sequence[StackResource],
    bucket: StackResource,
    types: tuple[str, ...],
    prop: str = "bucket",
) -> list[StackResource]:
    return companions(resources, bucket, types, prop, bucket_names(bucket))

"""Fixtures for the GCP rules, with pulumi-gcp type tokens and property names."""

from __future__ import annotations

from typing import Any, Final

from policy_cases import Case, bad, ok
from policy_harness import DELETE, Computed, Res, patched

PROJECT: Final = "acme-llm"
KEY: Final = Computed(f"projects/{PROJECT}/locations/europe-west4/keyRings/llm/cryptoKeys/cmk")

ENDPOINT_PROPS: Final = {
    "name": "llm",
    "displayName": "llm",
    "location": "europe-west4",
    "region": "europe-west4",
    "project": PROJECT,
    "encryptionSpec": {"kmsKeyName": KEY},
    "privateServiceConnectConfig": {
        "enablePrivateServiceConnect": True,
        "projectAllowlists": [PROJECT],
    },
    "labels": {"team": "ml-platform"},
}


def endpoint(*changes: tuple[tuple[str | int, ...], Any]) -> Res:
    return Res("gcp:vertex/aiEndpoint:AiEndpoint", "llm", patched(ENDPOINT_PROPS, *changes))


BUCKET_PROPS: Final = {
    "name": "acme-llm-models",
    "location": "EU",
    "project": PROJECT,
    "uniformBucketLevelAccess": True,
    "publicAccessPrevention": "enforced",
    "encryption": {"defaultKmsKeyName": KEY},
    "versioning": {"enabled": True},
    "logging": {"logBucket": Computed("acme-llm-access-logs")},
    "labels": {"team": "ml-platform"},
}


def bucket(*changes: tuple[tuple[str | int, ...], Any]) -> Res:
    return Res("gcp:storage/bucket:Bucket", "models", patched(BUCKET_PROPS, *changes))


LOG_BUCKET_PROPS: Final = {
    "project": PROJECT,
    "location": "europe-west4",
    "bucketId": "inference",
    "retentionDays": 365,
    "cmekSettings": {"kmsKeyName": KEY},
}


def log_bucket(*changes: tuple[tuple[str | int, ...], Any]) -> Res:
    return Res(
        "gcp:logging/projectBucketConfig:ProjectBucketConfig",
        "inference-logs",
        patched(LOG_BUCKET_PROPS, *changes),
    )


def _cases() -> list[Case]:
    cmek = "gcp-vertex-endpoint-require-cmek"
    private = "gcp-vertex-endpoint-require-private-access"
    rotation = "gcp-kms-cryptokey-require-rotation"
    uniform = "gcp-storage-bucket-require-uniform-access"
    public = "gcp-storage-bucket-disallow-public-access"
    bucket_cmek = "gcp-storage-bucket-require-cmek"
    versioning = "gcp-storage-bucket-require-versioning"
    logging = "gcp-storage-bucket-require-access-logging"
    log_cmek = "gcp-logging-bucket-require-cmek"
    low = "gcp-logging-bucket-require-min-retention"
    high = "gcp-logging-bucket-limit-max-retention"
    key = "gcp:kms/cryptoKey:CryptoKey"
    ring = Computed(f"projects/{PROJECT}/locations/europe-west4/keyRings/llm")
    dataset = Res(
        "gcp:vertex/aiDataset:AiDataset",
        "prompts",
        {
            "displayName": "prompts",
            "region": "europe-west4",
            "metadataSchemaUri": "gs://google-cloud-aiplatform/schema/dataset/metadata/text_1.0.0.yaml",
            "encryptionSpec": {"kmsKeyName": KEY},
        },
    )
    hipaa: dict[str, Any] = {"framework": "hipaa"}
    gdpr: dict[str, Any] = {"framework": "gdpr"}
    return [
        ok(cmek, "cmek", endpoint()),
        ok(cmek, "dataset", dataset),
        bad(cmek, "google-managed", endpoint((("encryptionSpec",), DELETE)), "kmsKeyName unset"),
        bad(
            cmek,
            "dataset-google-managed",
            Res(dataset.type, dataset.name, patched(dataset.props, (("encryptionSpec",), DELETE))),
            "kmsKeyName unset",
        ),
        ok(private, "psc", endpoint()),
        ok(
            private,
            "vpc-peering",
            endpoint(
                (("privateServiceConnectConfig",), DELETE),
                (("network",), Computed("projects/123456/global/networks/llm")),
            ),
        ),
        bad(
            private,
            "public",
            endpoint((("privateServiceConnectConfig",), DELETE)),
            "public address",
        ),
        bad(
            private,
            "psc-off",
            endpoint((("privateServiceConnectConfig", "enablePrivateServiceConnect"), False)),
            "public address",
        ),
        ok(
            rotation,
            "ninety-days",
            Res(key, "cmk", {"keyRing": ring, "rotationPeriod": "7776000s"}),
        ),
        ok(
            rotation,
            "signing-key",
            Res(
                key,
                "signer",
                {
                    "keyRing": ring,
                    "purpose": "ASYMMETRIC_SIGN",
                    "versionTemplate": {"algorithm": "EC_SIGN_P256_SHA256"},
                },
            ),
        ),
        bad(rotation, "never", Res(key, "cmk", {"keyRing": ring}), "never rotates"),
        bad(
            rotation,
            "yearly",
            Res(key, "cmk", {"keyRing": ring, "rotationPeriod": "31536000s"}),
            "365 days",
        ),
        ok(uniform, "uniform", bucket()),
        bad(uniform, "acls", bucket((("uniformBucketLevelAccess",), False)), "object ACLs"),
        ok(public, "enforced", bucket()),
        bad(
            public, "inherited", bucket((("publicAccessPrevention",), "inherited")), "not enforced"
        ),
        bad(public, "unset", bucket((("publicAccessPrevention",), DELETE)), "not enforced"),
        ok(bucket_cmek, "cmek", bucket()),
        bad(bucket_cmek, "google-managed", bucket((("encryption",), DELETE)), "Google-managed"),
        ok(versioning, "on", bucket(), **hipaa),
        bad(versioning, "off", bucket((("versioning",), DELETE)), "versioning is off", **hipaa),
        ok(logging, "on", bucket(), **hipaa),
        bad(logging, "off", bucket((("logging",), DELETE)), "logBucket unset", **hipaa),
        ok(log_cmek, "cmek", log_bucket()),
        bad(
            log_cmek, "google-managed", log_bucket((("cmekSettings",), DELETE)), "kmsKeyName unset"
        ),
        ok(low, "one-year", log_bucket(), **hipaa),
        bad(
            low,
            "default",
            log_bucket((("retentionDays",), DELETE)),
            "platform's short default",
            **hipaa,
        ),
        bad(low, "short", log_bucket((("retentionDays",), 30)), "below the 365", **hipaa),
        ok(high, "one-year", log_bucket(), **gdpr),
        bad(high, "unset", log_bucket((("retentionDays",), DELETE)), "not set", **gdpr),
        bad(high, "ten-years", log_bucket((("retentionDays",), 3650)), "above the 2192", **gdpr),
    ]


CASES: Final = _cases()

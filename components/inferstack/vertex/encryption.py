"""The deployment's Cloud KMS key, and who may use it.

Vertex AI, Cloud Storage, Artifact Registry, BigQuery, Cloud Logging and Cloud Run encrypt
with the key through their own service agents, so each agent gets encrypter/decrypter on this
one key and nothing else. An existing key (``security.encryption.kms_key``) gets the same
grants, which are no-ops where they already exist.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from inferstack.vertex.context import Context

ROTATION_SECONDS = 90 * 86_400
ENCRYPTER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
# Service agents (IAM member prefix, domain) of the services that encrypt with the key.
AGENTS = {
    "vertex": ("service-", "gcp-sa-aiplatform"),
    "storage": ("service-", "gs-project-accounts"),
    "registry": ("service-", "gcp-sa-artifactregistry"),
    "logging": ("service-", "gcp-sa-logging"),
    "bigquery": ("bq-", "bigquery-encryption"),
    # Cloud Run encrypts the gateway's image copy and revisions with the key (CMEK).
    "run": ("service-", "serverless-robot-prod"),
}


@dataclass(frozen=True)
class Key:
    name: pulumi.Output[str]
    """The key's resource name: projects/<p>/locations/<r>/keyRings/<ring>/cryptoKeys/<key>."""
    grants: list[pulumi.Resource]
    """The service agents' grants; CMEK resources depend on them."""


def deployment_key(ctx: Context, *, bigquery: bool) -> Key:
    plan = ctx.plan
    if plan.kms_key is not None:
        name: pulumi.Output[str] = pulumi.Output.from_input(plan.kms_key)
        key_id: pulumi.Input[str] = plan.kms_key
    else:
        ring = gcp.kms.KeyRing(
            ctx.child("keyring"),
            name=plan.names.key_ring,
            location=plan.region,
            project=plan.project,
            opts=ctx.opts(),
        )
        key = gcp.kms.CryptoKey(
            ctx.child("key"),
            name=plan.names.key,
            key_ring=ring.id,
            purpose="ENCRYPT_DECRYPT",
            rotation_period=f"{ROTATION_SECONDS}s",
            labels=ctx.labels(),
            # Destroying a key destroys every model, bucket object and log it encrypted.
            opts=ctx.opts(protect=ctx.spec.environment == "prod"),
        )
        name = key.id
        key_id = key.id
    grants: list[pulumi.Resource] = []
    for service, (prefix, domain) in AGENTS.items():
        if service == "bigquery" and not bigquery:
            continue
        grants.append(
            gcp.kms.CryptoKeyIAMMember(
                ctx.child(f"key-{service}"),
                crypto_key_id=key_id,
                role=ENCRYPTER,
                member=ctx.service_agent(domain, prefix),
                opts=ctx.opts(),
            )
        )
    return Key(name, grants)

"""Google Vertex AI: endpoints and datasets use CMEK; endpoints are reachable only privately."""

from __future__ import annotations

from typing import Final

from inferstack.compliance.model import Report, Resource, Rule, RuleConfig, Severity
from inferstack.compliance.props import UNKNOWN, as_bool, get, present
from inferstack.compliance.rules._common import (
    GDPR_BY_DESIGN,
    GDPR_CONFIDENTIALITY,
    GDPR_SECURITY,
    HIPAA_ACCESS,
    HIPAA_ENCRYPTION,
    HIPAA_TRANSMISSION,
    OWASP_DISCLOSURE,
    require_present,
    unverifiable,
)

ENDPOINT: Final = "gcp:vertex/aiEndpoint:AiEndpoint"
DATASET: Final = "gcp:vertex/aiDataset:AiDataset"


def _check_cmek(res: Resource, report: Report, cfg: RuleConfig) -> None:
    require_present(
        report,
        res.props,
        ("encryptionSpec", "kmsKeyName"),
        "data is encrypted with a Google-managed key (encryptionSpec.kmsKeyName unset)",
    )


def _check_private(res: Resource, report: Report, cfg: RuleConfig) -> None:
    if present(res.props, "network"):
        return
    psc = get(res.props, "privateServiceConnectConfig", "enablePrivateServiceConnect")
    if psc is UNKNOWN:
        report(unverifiable("privateServiceConnectConfig.enablePrivateServiceConnect"))
    elif as_bool(psc) is not True:
        report(
            "the endpoint is served on a public address: peer it to a VPC (network) or enable "
            "Private Service Connect"
        )


RULES: Final = (
    Rule(
        name="gcp-vertex-endpoint-require-cmek",
        description="Vertex AI endpoints and datasets are encrypted with a customer-managed key.",
        severity=Severity.HIGH,
        resource_types=(ENDPOINT, DATASET),
        controls=(HIPAA_ENCRYPTION, GDPR_SECURITY, GDPR_CONFIDENTIALITY, OWASP_DISCLOSURE),
        frameworks=frozenset({"baseline"}),
        remediation="Set security.encryption.kms_key (default: create); on the resource: "
        "encryptionSpec.kmsKeyName, a Cloud KMS key in the same region on which the Vertex AI "
        "service account (gcp-sa-aiplatform) is encrypter/decrypter.",
        check=_check_cmek,
        reads=(),
        references=("encryptionSpec.kmsKeyName",),
        peers=("CKV_GCP_92", "CKV2_GCP_24"),
    ),
    Rule(
        name="gcp-vertex-endpoint-require-private-access",
        description="Vertex AI endpoints are reachable only through VPC peering or Private "
        "Service Connect.",
        severity=Severity.HIGH,
        resource_types=(ENDPOINT,),
        controls=(HIPAA_ACCESS, HIPAA_TRANSMISSION, GDPR_BY_DESIGN, GDPR_SECURITY),
        frameworks=frozenset({"baseline"}),
        remediation="Set network (projects/<number>/global/networks/<name>) or "
        "privateServiceConnectConfig.enablePrivateServiceConnect: true with projectAllowlists.",
        check=_check_private,
        reads=("privateServiceConnectConfig.enablePrivateServiceConnect",),
        references=("network",),
    ),
)

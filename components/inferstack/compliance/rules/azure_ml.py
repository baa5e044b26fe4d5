"""Azure Machine Learning: workspace encryption and isolation, online endpoints and deployments.

Customer-managed keys, high business impact mode and public network access are workspace
settings; endpoints add their own public access switch and authentication mode.
"""

from __future__ import annotations

from typing import Final

from inferstack.compliance.model import Report, Resource, Rule, RuleConfig, Severity
from inferstack.compliance.props import get
from inferstack.compliance.rules._common import (
    GDPR_BY_DESIGN,
    GDPR_CONFIDENTIALITY,
    GDPR_SECURITY,
    HIPAA_ACCESS,
    HIPAA_AUTHENTICATION,
    HIPAA_ENCRYPTION,
    HIPAA_TRANSMISSION,
    HIPAA_UNIQUE_USER,
    OWASP_DISCLOSURE,
    OWASP_POISONING,
    equals,
    is_true,
    not_true,
    require_present,
    require_setting,
    strings_setting,
)

WORKSPACE: Final = "azure-native:machinelearningservices:Workspace"
ONLINE_ENDPOINT: Final = "azure-native:machinelearningservices:OnlineEndpoint"
ONLINE_DEPLOYMENT: Final = "azure-native:machinelearningservices:OnlineDeployment"
DISABLED: Final = "Disabled"


def _check_workspace_cmk(res: Resource, report: Report, cfg: RuleConfig) -> None:
    require_setting(
        report,
        res.props,
        ("encryption", "status"),
        equals("Enabled"),
        "the workspace is not encrypted with a customer-managed key (encryption.status)",
    )
    for field in ("keyVaultArmId", "keyIdentifier"):
        require_present(
            report,
            res.props,
            ("encryption", "keyVaultProperties", field),
            f"encryption.keyVaultProperties.{field} is not set",
        )


def _check_workspace_public(res: Resource, report: Report, cfg: RuleConfig) -> None:
    require_setting(
        report,
        res.props,
        ("publicNetworkAccess",),
        equals(DISABLED),
        "the workspace accepts traffic from public networks (publicNetworkAccess is not Disabled)",
    )
    require_setting(
        report,
        res.props,
        ("allowPublicAccessWhenBehindVnet",),
        not_true,
        "allowPublicAccessWhenBehindVnet re-opens the workspace to public networks",
    )


def _check_workspace_hbi(res: Resource, report: Report, cfg: RuleConfig) -> None:
    require_setting(
        report,
        res.props,
        ("hbiWorkspace",),
        is_true,
        "the workspace is not in high business impact mode (hbiWorkspace), which limits the "
        "diagnostic data Microsoft collects",
    )


def _check_endpoint_auth(res: Resource, report: Report, cfg: RuleConfig) -> None:
    allowed = cfg.strings("allowedAuthModes")
    mode = get(res.props, "properties", "authMode")
    require_setting(
        report,
        res.props,
        ("properties", "authMode"),
        equals(*allowed),
        f"authMode {mode!r} is not one of {list(allowed)}; static keys cannot be tied to a "
        "person and do not expire",
    )


def _check_endpoint_public(res: Resource, report: Report, cfg: RuleConfig) -> None:
    require_setting(
        report,
        res.props,
        ("properties", "publicNetworkAccess"),
        equals(DISABLED),
        "the endpoint is reachable from public networks (properties.publicNetworkAccess is "
        "not Disabled)",
    )


def _check_deployment_egress(res: Resource, report: Report, cfg: RuleConfig) -> None:
    require_setting(
        report,
        res.props,
        ("properties", "egressPublicNetworkAccess"),
        equals(DISABLED),
        "the deployment's containers can reach the internet "
        "(properties.egressPublicNetworkAccess is not Disabled)",
    )


_PRIVATE = (HIPAA_ACCESS, HIPAA_TRANSMISSION, GDPR_BY_DESIGN, GDPR_SECURITY)

RULES: Final = (
    Rule(
        name="azure-ml-workspace-require-cmk",
        description="Machine Learning workspaces encrypt data with a customer-managed key.",
        severity=Severity.HIGH,
        resource_types=(WORKSPACE,),
        controls=(HIPAA_ENCRYPTION, GDPR_SECURITY, GDPR_CONFIDENTIALITY, OWASP_DISCLOSURE),
        frameworks=frozenset({"baseline"}),
        remediation="Set security.encryption.kms_key (default: create); on the resource: "
        "encryption.status Enabled with keyVaultProperties.keyVaultArmId and keyIdentifier.",
        check=_check_workspace_cmk,
        reads=("encryption.status",),
        references=(
            "encryption.keyVaultProperties.keyIdentifier",
            "encryption.keyVaultProperties.keyVaultArmId",
        ),
        peers=("azure-policy:ba769a63-b8cc-4b2d-abf6-ac33c7204be8",),
    ),
    Rule(
        name="azure-ml-workspace-disallow-public-network",
        description="Machine Learning workspaces are reachable only through private endpoints.",
        severity=Severity.HIGH,
        resource_types=(WORKSPACE,),
        controls=_PRIVATE,
        frameworks=frozenset({"baseline"}),
        remediation="Set publicNetworkAccess: Disabled and add a private endpoint.",
        check=_check_workspace_public,
        reads=("publicNetworkAccess", "allowPublicAccessWhenBehindVnet"),
        peers=("CKV_AZURE_144", "CKV2_AZURE_49"),
    ),
    Rule(
        name="azure-ml-workspace-require-hbi",
        description="Workspaces that process PHI run in high business impact mode.",
        severity=Severity.MEDIUM,
        resource_types=(WORKSPACE,),
        controls=(HIPAA_ENCRYPTION, HIPAA_ACCESS),
        frameworks=frozenset({"hipaa"}),
        remediation="Set compliance.phi: true; on the resource: hbiWorkspace: true, which "
        "can only be set when the workspace is created.",
        check=_check_workspace_hbi,
        reads=("hbiWorkspace",),
    ),
    Rule(
        name="azure-ml-onlineendpoint-restrict-auth-mode",
        description="Online endpoints use Microsoft Entra (AADToken) or expiring AML tokens, "
        "not static keys.",
        severity=Severity.HIGH,
        resource_types=(ONLINE_ENDPOINT,),
        controls=(HIPAA_AUTHENTICATION, HIPAA_UNIQUE_USER, HIPAA_ACCESS, GDPR_SECURITY),
        frameworks=frozenset({"baseline"}),
        remediation="Set security.auth: entra; on the resource: properties.authMode: AADToken.",
        check=_check_endpoint_auth,
        reads=("properties.authMode",),
        settings=(
            strings_setting(
                "allowedAuthModes", "Allowed authMode values.", ("AADToken", "AMLToken")
            ),
        ),
    ),
    Rule(
        name="azure-ml-onlineendpoint-disallow-public-network",
        description="Online endpoints are not reachable from public networks.",
        severity=Severity.HIGH,
        resource_types=(ONLINE_ENDPOINT,),
        controls=_PRIVATE,
        frameworks=frozenset({"baseline"}),
        remediation="Set properties.publicNetworkAccess: Disabled and call the endpoint through "
        "the workspace's private endpoint.",
        check=_check_endpoint_public,
        reads=("properties.publicNetworkAccess",),
    ),
    Rule(
        name="azure-ml-onlinedeployment-disallow-public-egress",
        description="Online deployments cannot send data to the internet.",
        severity=Severity.HIGH,
        resource_types=(ONLINE_DEPLOYMENT,),
        controls=(*_PRIVATE, OWASP_POISONING),
        frameworks=frozenset({"hipaa", "gdpr"}),
        remediation="Set properties.egressPublicNetworkAccess: Disabled and register the model "
        "in the workspace or a registry instead of downloading it at start.",
        check=_check_deployment_egress,
        reads=("properties.egressPublicNetworkAccess",),
    ),
)

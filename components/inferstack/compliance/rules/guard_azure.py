"""Azure ML's guard (OWASP prompt injection): the endpoint behind a screening gateway, no bypass.

An online endpoint is guarded when an API Management backend points at it and an API policy that
routes to that backend screens prompts with ``llm-content-safety`` and Prompt Shields on. It is
not bypassable when every role assignment granting its score data action is held by an API
Management identity. The screening services themselves must not accept keys or public traffic,
or anyone could call them around the gateway's identity.
"""

from __future__ import annotations

import fnmatch
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any, Final

from inferstack.compliance.model import (
    Report,
    Resource,
    Rule,
    RuleConfig,
    Scope,
    Severity,
    StackResource,
)
from inferstack.compliance.props import UNKNOWN, elements, get
from inferstack.compliance.rules._common import (
    OWASP_AGENCY,
    OWASP_DISCLOSURE,
    OWASP_INJECTION,
    equals,
    is_true,
    require_setting,
    unverifiable,
)
from inferstack.compliance.rules._stack import depends_via, of_type
from inferstack.compliance.rules.azure_ml import ONLINE_ENDPOINT

APIM: Final = "azure-native:apimanagement:ApiManagementService"
BACKEND: Final = "azure-native:apimanagement:Backend"
API_POLICY: Final = "azure-native:apimanagement:ApiPolicy"
ROLE_ASSIGNMENT: Final = "azure-native:authorization:RoleAssignment"
ROLE_DEFINITION: Final = "azure-native:authorization:RoleDefinition"
COGNITIVE_ACCOUNT: Final = "azure-native:cognitiveservices:Account"
SCORE_ACTION: Final = "microsoft.machinelearningservices/workspaces/onlineendpoints/score/action"
# Built-in roles whose data actions include scoring online endpoints.
SCORING_BUILTINS: Final = {
    "f6c7c914-8db3-469d-8ca1-694a8f32e121": "AzureML Data Scientist",
}


def _screening_routes(policy: StackResource) -> Any:
    """Backend ids the policy routes to after llm-content-safety with Prompt Shields on; UNKNOWN
    when the policy text is known only after deploy."""
    value = get(policy.props, "value")
    if value is UNKNOWN:
        return UNKNOWN
    if not isinstance(value, str):
        return set()
    try:
        root = ET.fromstring(value)
    except ET.ParseError:
        return set()
    inbound = root.find("inbound")
    if inbound is None:
        return set()
    shielded = any(
        element.get("shield-prompt", "").strip().lower() == "true"
        for element in inbound.iter("llm-content-safety")
    )
    if not shielded:
        return set()
    return {
        element.get("backend-id", "")
        for element in inbound.iter("set-backend-service")
        if element.get("backend-id")
    }


def _check_gateway(resources: Sequence[StackResource], report: Report, cfg: RuleConfig) -> None:
    backends = of_type(resources, BACKEND)
    policies = of_type(resources, API_POLICY)
    routes: set[str] = set()
    unknown = False
    for policy in policies:
        found = _screening_routes(policy)
        if found is UNKNOWN:
            unknown = True
        else:
            routes |= found
    for endpoint in of_type(resources, ONLINE_ENDPOINT):
        name = get(endpoint.props, "endpointName")
        if name is UNKNOWN:
            report(unverifiable("endpointName"), endpoint.urn)
            continue
        urls = [(backend, get(backend.props, "url")) for backend in backends]
        fronting = [b for b, url in urls if isinstance(url, str) and f"//{name}." in url]
        if not fronting and any(url is UNKNOWN for _, url in urls):
            report(
                unverifiable("url", "a gateway backend's URL is known only after deploy"),
                endpoint.urn,
            )
            continue
        if not fronting:
            report(
                f"online endpoint '{name}' has no API Management backend in front of it, so "
                "nothing screens its prompts",
                endpoint.urn,
            )
            continue
        ids = {get(b.props, "backendId") for b in fronting}
        if ids & routes:
            continue
        if unknown:
            report(
                unverifiable("value", "the gateway policy is known only after deploy"),
                endpoint.urn,
            )
        else:
            report(
                f"no API Management policy routes to online endpoint '{name}' after "
                'llm-content-safety with shield-prompt="true" (security.guard.input)',
                endpoint.urn,
            )


def _grants_score(assignment: StackResource, definitions: Sequence[StackResource]) -> Any:
    for definition in definitions:
        if depends_via(assignment, "roleDefinitionId", definition):
            if get(definition.props, "permissions") is UNKNOWN:
                return UNKNOWN
            for permission in elements(definition.props, "permissions"):
                if permission is UNKNOWN or get(permission, "dataActions") is UNKNOWN:
                    return UNKNOWN
                for action in elements(permission, "dataActions"):
                    if action is UNKNOWN:
                        return UNKNOWN
                    if isinstance(action, str) and fnmatch.fnmatch(SCORE_ACTION, action.lower()):
                        return True
            return False
    role = get(assignment.props, "roleDefinitionId")
    if isinstance(role, str):
        return role.rsplit("/", 1)[-1].lower() in SCORING_BUILTINS
    return False


def _check_score_access(
    resources: Sequence[StackResource], report: Report, cfg: RuleConfig
) -> None:
    definitions = of_type(resources, ROLE_DEFINITION)
    gateways = of_type(resources, APIM)
    for assignment in of_type(resources, ROLE_ASSIGNMENT):
        grants = _grants_score(assignment, definitions)
        if grants is UNKNOWN:
            report(
                unverifiable("permissions", "the role's data actions are known only after deploy"),
                assignment.urn,
            )
            continue
        if not grants:
            continue
        if any(depends_via(assignment, "principalId", gateway) for gateway in gateways):
            continue
        report(
            f"role assignment '{assignment.name}' lets a principal other than the API "
            "Management gateway score the online endpoint, bypassing the guard",
            assignment.urn,
        )


def _check_local_auth(res: Resource, report: Report, cfg: RuleConfig) -> None:
    require_setting(
        report,
        res.props,
        ("properties", "disableLocalAuth"),
        is_true,
        "the account accepts API keys (properties.disableLocalAuth is not true), which any "
        "holder can use around the gateway's identity",
    )


def _check_public(res: Resource, report: Report, cfg: RuleConfig) -> None:
    require_setting(
        report,
        res.props,
        ("properties", "publicNetworkAccess"),
        equals("Disabled"),
        "the account is reachable from public networks (properties.publicNetworkAccess is "
        "not Disabled)",
    )


RULES: Final = (
    Rule(
        name="azure-ml-onlineendpoint-require-content-safety-gateway",
        description="Online endpoints are called through API Management, whose policy screens "
        "prompts with llm-content-safety and Prompt Shields before routing to the endpoint.",
        severity=Severity.HIGH,
        resource_types=(ONLINE_ENDPOINT, BACKEND, API_POLICY),
        controls=(OWASP_INJECTION,),
        frameworks=frozenset({"owasp-llm"}),
        remediation="Keep security.guard.input: true (the default): the component puts API "
        "Management with llm-content-safety (shield-prompt) in front of the endpoint.",
        check=_check_gateway,
        scope=Scope.STACK,
        reads=("endpointName", "url", "value"),
        references=("backendId",),
    ),
    Rule(
        name="azure-ml-onlineendpoint-restrict-score-access",
        description="Only the API Management gateway's identity holds a role that scores "
        "online endpoints, so no caller can bypass the guard.",
        severity=Severity.HIGH,
        resource_types=(ROLE_ASSIGNMENT, ROLE_DEFINITION, APIM),
        controls=(OWASP_INJECTION, OWASP_AGENCY),
        frameworks=frozenset({"owasp-llm"}),
        remediation="Grant callers access to the gateway (its Entra audience) instead of a "
        "scoring role on the endpoint or its workspace.",
        check=_check_score_access,
        scope=Scope.STACK,
        reads=(
            "permissions",
            "permissions[*]",
            "permissions[*].dataActions",
            "permissions[*].dataActions[*]",
        ),
        references=("roleDefinitionId", "principalId"),
    ),
    Rule(
        name="azure-cognitiveservices-account-disallow-local-auth",
        description="Content Safety and other Cognitive Services accounts accept only Entra "
        "identities, not API keys.",
        severity=Severity.HIGH,
        resource_types=(COGNITIVE_ACCOUNT,),
        controls=(OWASP_INJECTION, OWASP_DISCLOSURE),
        frameworks=frozenset({"owasp-llm"}),
        remediation="Set properties.disableLocalAuth: true and grant the gateway's identity "
        "Cognitive Services User.",
        check=_check_local_auth,
        reads=("properties.disableLocalAuth",),
        peers=("CKV_AZURE_236",),
    ),
    Rule(
        name="azure-cognitiveservices-account-disallow-public-network",
        description="Content Safety and other Cognitive Services accounts are reachable only "
        "through private endpoints.",
        severity=Severity.HIGH,
        resource_types=(COGNITIVE_ACCOUNT,),
        controls=(OWASP_INJECTION, OWASP_DISCLOSURE),
        frameworks=frozenset({"owasp-llm"}),
        remediation="Set properties.publicNetworkAccess: Disabled and add a private endpoint.",
        check=_check_public,
        reads=("properties.publicNetworkAccess",),
        peers=("CKV_AZURE_134",),
    ),
)

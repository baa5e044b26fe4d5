"""Fixtures for Azure ML's guard rules: the gateway in front, no bypass, hardened screeners."""

from __future__ import annotations

from typing import Any, Final

from policy_cases import Case, bad, ok
from policy_harness import DELETE, Computed, Res, patched

from inferstack.azureml.args import AzureMLArgs
from inferstack.azureml.gateway_plan import gateway_plan
from inferstack.azureml.gateway_policy import ENDPOINT_BACKEND, Endpoints, render
from inferstack.deployment import parse_deployment

SUB: Final = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/llm"
OWASP: Final[dict[str, Any]] = {"framework": "owasp-llm"}
SCORE: Final = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/score/action"
DATA_SCIENTIST: Final = "f6c7c914-8db3-469d-8ca1-694a8f32e121"
CRYPTO_USER: Final = "e147488a-f6f5-4113-8e2d-b22465e65bf6"


def _policy_xml(guard: dict[str, Any] | None = None) -> str:
    spec = parse_deployment(
        {
            "name": "llm",
            "model": {"id": "meta-llama/Llama-3.1-8B-Instruct"},
            **({"security": {"guard": guard}} if guard is not None else {}),
        }
    )
    plan = gateway_plan(spec, AzureMLArgs(), name="llm", token="abc123")
    urls = Endpoints("tenant", "https://cs.example", "https://lang.example")
    return render(plan, urls)


ENDPOINT: Final = Res(
    "azure-native:machinelearningservices:OnlineEndpoint",
    "llm",
    {
        "endpointName": "llm-ep",
        "resourceGroupName": Computed("llm-rg"),
        "workspaceName": Computed("llm-ws"),
        "properties": {"authMode": "AADToken", "publicNetworkAccess": "Disabled"},
    },
)
BACKEND: Final = Res(
    "azure-native:apimanagement:Backend",
    "llm-backend",
    {
        "backendId": ENDPOINT_BACKEND,
        "serviceName": Computed("apim-llm"),
        "protocol": "http",
        "url": "https://llm-ep.westeurope.inference.ml.azure.com/v1",
    },
)


def _api_policy(value: Any) -> Res:
    return Res(
        "azure-native:apimanagement:ApiPolicy",
        "llm-policy",
        {
            "apiId": Computed("llm"),
            "serviceName": Computed("apim-llm"),
            "format": "xml",
            "value": value,
        },
    )


def _gateway_cases() -> list[Case]:
    rule = "azure-ml-onlineendpoint-require-content-safety-gateway"
    guarded = _api_policy(_policy_xml())
    other = Res(BACKEND.type, BACKEND.name, patched(BACKEND.props, (("url",), "https://other.x")))
    return [
        ok(rule, "behind-content-safety", (ENDPOINT, BACKEND, guarded), **OWASP),
        bad(rule, "no-gateway", (ENDPOINT,), "no API Management backend", **OWASP),
        bad(rule, "gateway-elsewhere", (ENDPOINT, other, guarded), "no API Management", **OWASP),
        bad(
            rule,
            "input-screening-off",
            (ENDPOINT, BACKEND, _api_policy(_policy_xml({"input": False}))),
            'shield-prompt="true"',
            **OWASP,
        ),
        bad(
            rule,
            "prompt-shields-off",
            (
                ENDPOINT,
                BACKEND,
                _api_policy(_policy_xml().replace('shield-prompt="true"', 'shield-prompt="false"')),
            ),
            "no API Management policy routes",
            **OWASP,
        ),
        bad(
            rule,
            "policy-unparsable",
            (ENDPOINT, BACKEND, _api_policy("<policies>")),
            "llm-content-safety",
            **OWASP,
        ),
    ]


GATEWAY: Final = Res(
    "azure-native:apimanagement:ApiManagementService",
    "gw",
    {
        "serviceName": "apim-llm",
        "sku": {"name": "Premium", "capacity": 1},
        "identity": {"type": "SystemAssigned"},
    },
)
SCORER: Final = Res(
    "azure-native:authorization:RoleDefinition",
    "scorer",
    {
        "roleName": "llm endpoint scorer",
        "scope": Computed(SUB),
        "assignableScopes": [Computed(SUB)],
        "permissions": [{"actions": [], "dataActions": [SCORE]}],
    },
)
ENDPOINT_ID: Final = Computed(
    f"{SUB}/providers/Microsoft.MachineLearningServices/workspaces/ws/onlineEndpoints/llm-ep"
)


def _assignment(principal: Any, role: Any, deps: dict[str, list[str]], name: str = "ra") -> Res:
    return Res(
        "azure-native:authorization:RoleAssignment",
        name,
        {
            "principalId": principal,
            "principalType": "ServicePrincipal",
            "roleDefinitionId": role,
            "scope": ENDPOINT_ID,
        },
        deps={**deps, "scope": ["llm"]},
    )


def _score_cases() -> list[Case]:
    rule = "azure-ml-onlineendpoint-restrict-score-access"
    custom = Computed(f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/1234")
    via_gateway = _assignment(
        Computed("gw-principal"), custom, {"principalId": ["gw"], "roleDefinitionId": ["scorer"]}
    )
    user = "11111111-2222-3333-4444-555555555555"
    builtin = f"/subscriptions/0/providers/Microsoft.Authorization/roleDefinitions/{DATA_SCIENTIST}"
    crypto = f"/subscriptions/0/providers/Microsoft.Authorization/roleDefinitions/{CRYPTO_USER}"

    def scorer(*changes: tuple[tuple[str | int, ...], Any]) -> Res:
        return Res(SCORER.type, SCORER.name, patched(SCORER.props, *changes))

    return [
        ok(rule, "gateway-only", (ENDPOINT, GATEWAY, SCORER, via_gateway), **OWASP),
        ok(
            rule,
            "other-roles-to-others",
            (ENDPOINT, GATEWAY, SCORER, via_gateway, _assignment(user, crypto, {}, "ra-key")),
            **OWASP,
        ),
        bad(
            rule,
            "custom-role-to-a-user",
            (
                ENDPOINT,
                GATEWAY,
                SCORER,
                _assignment(user, custom, {"roleDefinitionId": ["scorer"]}),
            ),
            "other than the API Management gateway",
            **OWASP,
        ),
        bad(
            rule,
            "data-scientist-to-a-user",
            (ENDPOINT, GATEWAY, SCORER, via_gateway, _assignment(user, builtin, {}, "ra-ds")),
            "'ra-ds'",
            **OWASP,
        ),
        bad(
            rule,
            "wildcard-role-to-a-user",
            (
                ENDPOINT,
                GATEWAY,
                scorer(
                    (
                        ("permissions", 0, "dataActions"),
                        ["Microsoft.MachineLearningServices/workspaces/*/action"],
                    )
                ),
                _assignment(user, custom, {"roleDefinitionId": ["scorer"]}),
            ),
            "bypassing the guard",
            **OWASP,
        ),
    ]


ACCOUNT: Final = {
    "resourceGroupName": Computed("llm-rg"),
    "location": "westeurope",
    "kind": "ContentSafety",
    "sku": {"name": "S0"},
    "properties": {
        "customSubDomainName": "cs-llm",
        "disableLocalAuth": True,
        "publicNetworkAccess": "Disabled",
        "networkAcls": {"defaultAction": "Deny"},
    },
}


def _account(*changes: tuple[tuple[str | int, ...], Any]) -> Res:
    return Res("azure-native:cognitiveservices:Account", "cs", patched(ACCOUNT, *changes))


def _account_cases() -> list[Case]:
    local = "azure-cognitiveservices-account-disallow-local-auth"
    public = "azure-cognitiveservices-account-disallow-public-network"
    return [
        ok(local, "entra-only", _account(), **OWASP),
        bad(
            local,
            "keys",
            _account((("properties", "disableLocalAuth"), False)),
            "API keys",
            **OWASP,
        ),
        bad(
            local,
            "default",
            _account((("properties", "disableLocalAuth"), DELETE)),
            "API keys",
            **OWASP,
        ),
        ok(public, "private", _account(), **OWASP),
        bad(
            public,
            "enabled",
            _account((("properties", "publicNetworkAccess"), "Enabled")),
            "public networks",
            **OWASP,
        ),
        bad(
            public,
            "default",
            _account((("properties", "publicNetworkAccess"), DELETE)),
            "public networks",
            **OWASP,
        ),
    ]


CASES: Final = [*_gateway_cases(), *_score_cases(), *_account_cases()]

"""Fixtures for the owasp-llm rules of the Vertex AI gateway (Model Armor, Cloud Run, IAM)."""

from __future__ import annotations

import json
from typing import Any, Final

from policy_cases import Case, bad, ok
from policy_harness import DELETE, Computed, Res, patched

PROJECT: Final = "acme-llm"
REGION: Final = "europe-west4"
ENDPOINT_ID: Final = "1234567890"
ENDPOINT_NAME: Final = f"projects/{PROJECT}/locations/{REGION}/endpoints/{ENDPOINT_ID}"
GATEWAY_SA: Final = f"bot-gateway@{PROJECT}.iam.gserviceaccount.com"
KEY: Final = Computed(f"projects/{PROJECT}/locations/{REGION}/keyRings/llm/cryptoKeys/cmk")
OWASP: Final[dict[str, Any]] = {"framework": "owasp-llm"}


def config(*, modes: list[str] | None = None, default_on: bool = True, guard: bool = True) -> str:
    """A gateway config of the shape inferstack.vertex.gateway_config renders."""
    document: dict[str, Any] = {
        "model_list": [
            {
                "model_name": "meta-llama/Llama-3.1-8B-Instruct",
                "litellm_params": {"model": f"vertex_ai/openai/{ENDPOINT_ID}"},
            }
        ]
    }
    if guard:
        document["guardrails"] = [
            {
                "guardrail_name": "model-armor",
                "litellm_params": {
                    "guardrail": "model_armor",
                    "mode": ["pre_call", "post_call"] if modes is None else modes,
                    "default_on": default_on,
                    "template_id": "bot-guard",
                },
            }
        ]
    return json.dumps(document)


def service(name: str = "gateway", *changes: tuple[tuple[str | int, ...], Any]) -> Res:
    props = {
        "name": name,
        "location": REGION,
        "ingress": "INGRESS_TRAFFIC_INTERNAL_ONLY",
        "template": {
            "serviceAccount": GATEWAY_SA,
            "encryptionKey": KEY,
            "containers": [{"envs": [{"name": "LITELLM_CONFIG_JSON", "value": config()}]}],
        },
    }
    return Res("gcp:cloudrunv2/service:Service", name, patched(props, *changes))


def with_config(text: str, name: str = "gateway") -> Res:
    return service(name, (("template", "containers", 0, "envs", 0, "value"), text))


ENDPOINT: Final = Res(
    "gcp:vertex/aiEndpoint:AiEndpoint",
    "llm",
    {
        "name": ENDPOINT_ID,
        "location": REGION,
        "encryptionSpec": {"kmsKeyName": KEY},
        "privateServiceConnectConfig": {"enablePrivateServiceConnect": True},
    },
)


def template(enforcement: str = "ENABLED") -> Res:
    return Res(
        "gcp:modelarmor/template:Template",
        "guard",
        {
            "templateId": "bot-guard",
            "location": REGION,
            "filterConfig": {
                "piAndJailbreakFilterSettings": {
                    "filterEnforcement": enforcement,
                    "confidenceLevel": "MEDIUM_AND_ABOVE",
                }
            },
        },
    )


def endpoint_member(member: str, role: str = "roles/aiplatform.user") -> Res:
    return Res(
        "gcp:vertex/aiEndpointIamMember:AiEndpointIamMember",
        "predict",
        {"endpoint": ENDPOINT_NAME, "role": role, "member": member},
    )


def project_member(member: str, role: str) -> Res:
    return Res(
        "gcp:projects/iAMMember:IAMMember",
        "project-grant",
        {"project": PROJECT, "role": role, "member": member},
    )


def binding(members: list[str]) -> Res:
    return Res(
        "gcp:vertex/aiEndpointIamBinding:AiEndpointIamBinding",
        "predictors",
        {"endpoint": ENDPOINT_NAME, "role": "roles/aiplatform.user", "members": members},
    )


def policy(members: list[str]) -> Res:
    document = {"bindings": [{"role": "roles/aiplatform.user", "members": members}]}
    return Res(
        "gcp:vertex/aiEndpointIamPolicy:AiEndpointIamPolicy",
        "policy",
        {"endpoint": ENDPOINT_NAME, "policyData": json.dumps(document)},
    )


def _cases() -> list[Case]:
    guarded = "gcp-vertex-endpoint-require-guarded-gateway"
    predict = "gcp-vertex-endpoint-restrict-predict-to-gateway"
    ingress = "gcp-cloudrun-service-restrict-ingress"
    cmek = "gcp-cloudrun-service-require-cmek"
    gateway = f"serviceAccount:{GATEWAY_SA}"
    return [
        ok(guarded, "model-armor-gateway", (ENDPOINT, service(), template()), **OWASP),
        ok(
            guarded,
            "input-only",
            (ENDPOINT, with_config(config(modes=["pre_call"])), template()),
            **OWASP,
        ),
        bad(guarded, "no-gateway", (ENDPOINT, template()), "has no gateway", **OWASP),
        bad(
            guarded,
            "input-screening-off",
            (ENDPOINT, with_config(config(modes=["post_call"])), template()),
            "does not screen prompts",
            **OWASP,
        ),
        bad(
            guarded,
            "guardrail-not-default-on",
            (ENDPOINT, with_config(config(default_on=False)), template()),
            "does not screen prompts",
            **OWASP,
        ),
        bad(
            guarded,
            "no-guardrail",
            (ENDPOINT, with_config(config(guard=False)), template()),
            "does not screen prompts",
            **OWASP,
        ),
        bad(
            guarded,
            "template-not-declared",
            (ENDPOINT, service()),
            "does not declare",
            **OWASP,
        ),
        bad(
            guarded,
            "injection-filter-off",
            (ENDPOINT, service(), template("DISABLED")),
            "filter is off",
            **OWASP,
        ),
        bad(
            guarded,
            "a-second-gateway-without-guard",
            (ENDPOINT, service(), with_config(config(guard=False), "bypass"), template()),
            "gateway 'bypass' does not screen prompts",
            **OWASP,
        ),
        ok(predict, "gateway-only", (service(), endpoint_member(gateway)), **OWASP),
        ok(predict, "gateway-binding", (service(), binding([gateway])), **OWASP),
        ok(predict, "gateway-policy", (service(), policy([gateway])), **OWASP),
        ok(
            predict,
            "unrelated-project-role",
            (service(), project_member("group:ml@example.com", "roles/logging.viewer")),
            **OWASP,
        ),
        ok(
            predict,
            "endpoint-viewer",
            (service(), endpoint_member("user:ana@example.com", "roles/aiplatform.viewer")),
            **OWASP,
        ),
        bad(
            predict,
            "caller-on-the-endpoint",
            (service(), endpoint_member("user:ana@example.com")),
            "user:ana@example.com predict on the endpoint",
            **OWASP,
        ),
        bad(
            predict,
            "project-wide-vertex-user",
            (service(), project_member("group:ml@example.com", "roles/aiplatform.user")),
            "group:ml@example.com predict",
            **OWASP,
        ),
        bad(
            predict,
            "no-gateway-at-all",
            (endpoint_member(gateway),),
            "around the gateway",
            **OWASP,
        ),
        bad(
            predict,
            "binding-with-a-second-member",
            (service(), binding([gateway, "user:bo@example.com"])),
            "user:bo@example.com predict",
            **OWASP,
        ),
        bad(
            predict,
            "endpoint-policy",
            (service(), policy([gateway, "serviceAccount:x@p.iam.gserviceaccount.com"])),
            "serviceAccount:x@p.iam.gserviceaccount.com predict",
            **OWASP,
        ),
        ok(ingress, "internal", service(), **OWASP),
        bad(
            ingress,
            "all-traffic",
            service("gateway", (("ingress",), "INGRESS_TRAFFIC_ALL")),
            "INGRESS_TRAFFIC_ALL",
            **OWASP,
        ),
        bad(
            ingress,
            "unset",
            service("gateway", (("ingress",), DELETE)),
            "unset (all traffic)",
            **OWASP,
        ),
        ok(cmek, "key", service(), **OWASP),
        bad(
            cmek,
            "google-managed",
            service("gateway", (("template", "encryptionKey"), DELETE)),
            "Google-managed key",
            **OWASP,
        ),
    ]


CASES: Final = _cases()

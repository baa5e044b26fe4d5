"""Google Cloud (owasp-llm): the Vertex AI endpoint is reachable only through a Model Armor gateway.

Model Armor screens nothing by itself: a gateway in the request path must call it, and the
endpoint must admit no other caller. So these rules read the gateway's own config (the LiteLLM
proxy config the Cloud Run service carries in its environment), the Model Armor template it
names, every IAM grant that could let someone predict on the endpoint, and the Cloud Run
service's ingress and key.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
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
from inferstack.compliance.props import UNKNOWN, as_document, elements, get, is_missing, present
from inferstack.compliance.rules._common import (
    OWASP_DISCLOSURE,
    OWASP_INJECTION,
    strings_setting,
    unverifiable,
)
from inferstack.compliance.rules._stack import of_type

ENDPOINT: Final = "gcp:vertex/aiEndpoint:AiEndpoint"
SERVICE: Final = "gcp:cloudrunv2/service:Service"
TEMPLATE: Final = "gcp:modelarmor/template:Template"
ENDPOINT_MEMBER: Final = "gcp:vertex/aiEndpointIamMember:AiEndpointIamMember"
ENDPOINT_BINDING: Final = "gcp:vertex/aiEndpointIamBinding:AiEndpointIamBinding"
ENDPOINT_POLICY: Final = "gcp:vertex/aiEndpointIamPolicy:AiEndpointIamPolicy"
PROJECT_MEMBER: Final = "gcp:projects/iAMMember:IAMMember"
PROJECT_BINDING: Final = "gcp:projects/iAMBinding:IAMBinding"
PROJECT_POLICY: Final = "gcp:projects/iAMPolicy:IAMPolicy"
ENDPOINT_GRANTS: Final = (ENDPOINT_MEMBER, ENDPOINT_BINDING, ENDPOINT_POLICY)
GRANTS: Final = (*ENDPOINT_GRANTS, PROJECT_MEMBER, PROJECT_BINDING, PROJECT_POLICY)
"""Every IAM resource that can grant predict on the endpoint: on it, or on its project."""
CONFIG_ENV: Final = "LITELLM_CONFIG_JSON"
"""Where the gateway's LiteLLM config is (inferstack.vertex.gateway_config.CONFIG_ENV)."""
ROUTE_PREFIX: Final = "vertex_ai/"
# Project roles that include aiplatform.endpoints.predict on every endpoint of the project.
PREDICT_ROLES: Final = (
    "roles/owner",
    "roles/editor",
    "roles/aiplatform.admin",
    "roles/aiplatform.user",
)
# Roles on an endpoint that do not include predict; any other role there is taken to.
READ_ONLY_ROLES: Final = ("roles/viewer", "roles/aiplatform.viewer")
INTERNAL_INGRESS: Final = (
    "INGRESS_TRAFFIC_INTERNAL_ONLY",
    "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER",
)
ENV_PATHS: Final = (
    "template.containers",
    "template.containers[*].envs",
    "template.containers[*].envs[*].name",
    "template.containers[*].envs[*].value",
)


def gateway_config(service: StackResource | Resource) -> Any:
    """The LiteLLM config a Cloud Run service runs: a dict, UNKNOWN, or None if it has none."""
    for container in elements(service.props, "template", "containers"):
        if container is UNKNOWN:
            return UNKNOWN
        for env in elements(container, "envs"):
            name = get(env, "name")
            if name is UNKNOWN:
                return UNKNOWN
            if name != CONFIG_ENV:
                continue
            value = get(env, "value")
            if value is UNKNOWN:
                return UNKNOWN
            try:
                config = json.loads(value) if isinstance(value, str) else None
            except json.JSONDecodeError:
                return None
            return config if isinstance(config, Mapping) else None
    return None


def routes(config: Mapping[str, Any]) -> set[str]:
    """The Vertex AI endpoint ids a LiteLLM config sends requests to."""
    found = set()
    for entry in config.get("model_list") or []:
        model = str((entry.get("litellm_params") or {}).get("model") or "")
        if model.startswith(ROUTE_PREFIX):
            found.add(model.rsplit("/", 1)[-1])
    return found


def _screening_template(config: Mapping[str, Any]) -> str | None:
    """The Model Armor template a config screens every prompt with, if it does."""
    for guardrail in config.get("guardrails") or []:
        params = guardrail.get("litellm_params") or {}
        mode = params.get("mode")
        modes = [mode] if isinstance(mode, str) else list(mode or [])
        if (
            params.get("guardrail") == "model_armor"
            and params.get("default_on") is True
            and ("pre_call" in modes or "during_call" in modes)
            and params.get("template_id")
        ):
            return str(params["template_id"])
    return None


def _templates(resources: Sequence[StackResource]) -> dict[str, Any]:
    """Model Armor templates of the stack by id: whether the injection filter is on."""
    found: dict[str, Any] = {}
    for template in of_type(resources, TEMPLATE):
        template_id = get(template.props, "templateId")
        enforcement = get(
            template.props, "filterConfig", "piAndJailbreakFilterSettings", "filterEnforcement"
        )
        if isinstance(template_id, str):
            found[template_id] = UNKNOWN if enforcement is UNKNOWN else enforcement == "ENABLED"
    return found


def _check_guarded(resources: Sequence[StackResource], report: Report, cfg: RuleConfig) -> None:
    gateways = [(s, gateway_config(s)) for s in of_type(resources, SERVICE)]
    templates = _templates(resources)
    for endpoint in of_type(resources, ENDPOINT):
        endpoint_id = get(endpoint.props, "name")
        if not isinstance(endpoint_id, str):
            report(unverifiable("name"), endpoint.urn)
            continue
        if any(config is UNKNOWN for _, config in gateways):
            report(unverifiable(f"template.containers[*].envs[{CONFIG_ENV}]"), endpoint.urn)
            continue
        routing = [(s, c) for s, c in gateways if c is not None and endpoint_id in routes(c)]
        if not routing:
            report(
                f"endpoint '{endpoint_id}' has no gateway: no Cloud Run service routes to it "
                "through a Model Armor guardrail",
                endpoint.urn,
            )
        for service, config in routing:
            problem = _unguarded(config, templates)
            if problem:
                report(f"gateway '{service.name}' {problem}", service.urn)


def _unguarded(config: Mapping[str, Any], templates: Mapping[str, Any]) -> str | None:
    template_id = _screening_template(config)
    if template_id is None:
        return (
            "does not screen prompts: no model_armor guardrail with default_on and "
            "mode pre_call (security.guard.input)"
        )
    enabled = templates.get(template_id)
    if enabled is None:
        return f"calls Model Armor template '{template_id}', which the stack does not declare"
    if enabled is UNKNOWN:
        return unverifiable("filterConfig.piAndJailbreakFilterSettings.filterEnforcement")
    if enabled is not True:
        return (
            f"calls Model Armor template '{template_id}', whose prompt injection and "
            "jailbreak filter is off (security.guard.checks.prompt_injection)"
        )
    return None


def _gateway_members(resources: Sequence[StackResource]) -> frozenset[str] | Any:
    members = set()
    for service in of_type(resources, SERVICE):
        config = gateway_config(service)
        if config is UNKNOWN:
            return UNKNOWN
        if config is None or not routes(config):
            continue
        account = get(service.props, "template", "serviceAccount")
        if account is UNKNOWN:
            return UNKNOWN
        if isinstance(account, str):
            members.add(f"serviceAccount:{account}")
    return frozenset(members)


def _members(resource: StackResource) -> Iterator[tuple[str, Any, Callable[[], Any]]]:
    """(path, member, role) of every member the resource grants a role to; the role is read
    only when asked, since the gateway's own grant is fine whatever its role."""
    kind = resource.resource_type
    props = resource.props
    if kind in (ENDPOINT_MEMBER, PROJECT_MEMBER):
        yield "member", get(props, "member"), lambda: get(props, "role")
    elif kind in (ENDPOINT_BINDING, PROJECT_BINDING):
        for member in elements(props, "members"):
            yield "members[*]", member, lambda: get(props, "role")
    else:
        policy = as_document(get(props, "policyData"))
        if policy is UNKNOWN or is_missing(policy) or not isinstance(policy, Mapping):
            yield "policyData", UNKNOWN, lambda: UNKNOWN
            return
        for binding in policy.get("bindings") or []:
            for member in binding.get("members") or []:
                yield "policyData", member, _constant(binding.get("role"))


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


def _check_predict(resources: Sequence[StackResource], report: Report, cfg: RuleConfig) -> None:
    roles = cfg.strings("predictRoles")
    allowed: list[Any] = []  # the gateways' members, looked up on first need

    def gateways() -> Any:
        if not allowed:
            allowed.append(_gateway_members(resources))
        return allowed[0]

    for grant in of_type(resources, *GRANTS):
        on_endpoint = grant.resource_type in ENDPOINT_GRANTS
        for path, member, role_of in _members(grant):
            if member is UNKNOWN:
                report(unverifiable(path), grant.urn)
                continue
            # Only a service account can be a gateway's identity.
            maybe_gateway = isinstance(member, str) and member.startswith("serviceAccount:")
            known = gateways() if maybe_gateway else frozenset()
            if known is not UNKNOWN and member in known:
                continue
            role = role_of()
            if role is UNKNOWN:
                report(unverifiable("role" if path != "policyData" else path), grant.urn)
            elif (role not in READ_ONLY_ROLES) if on_endpoint else (role in roles):
                if known is UNKNOWN:
                    report(unverifiable("template.serviceAccount"), grant.urn)
                else:
                    report(
                        f"'{grant.name}' lets {member} predict on the endpoint, around the gateway",
                        grant.urn,
                    )


def _check_ingress(res: Resource, report: Report, cfg: RuleConfig) -> None:
    ingress = get(res.props, "ingress")
    if ingress is UNKNOWN:
        report(unverifiable("ingress"))
    elif ingress not in INTERNAL_INGRESS:
        shown = "unset (all traffic)" if is_missing(ingress) else ingress
        report(f"ingress is {shown}: callers from the internet reach the service")


def _check_cmek(res: Resource, report: Report, cfg: RuleConfig) -> None:
    if not present(res.props, "template", "encryptionKey"):
        report("revisions and the image copy use a Google-managed key (template.encryptionKey)")


RULES: Final = (
    Rule(
        name="gcp-vertex-endpoint-require-guarded-gateway",
        description="Every Vertex AI endpoint is served through a gateway that screens each "
        "prompt with a Model Armor template (prompt injection and jailbreak filter on).",
        severity=Severity.HIGH,
        resource_types=(ENDPOINT, SERVICE, TEMPLATE),
        controls=(OWASP_INJECTION, OWASP_DISCLOSURE),
        frameworks=frozenset({"owasp-llm"}),
        remediation="Keep security.guard.input true and provider model-armor (auto): the "
        "component deploys the Cloud Run gateway whose LiteLLM model_armor guardrail "
        "(mode pre_call, default_on) calls the template before the endpoint.",
        check=_check_guarded,
        scope=Scope.STACK,
        reads=(
            "name",
            *ENV_PATHS,
            "templateId",
            "filterConfig.piAndJailbreakFilterSettings.filterEnforcement",
        ),
    ),
    Rule(
        name="gcp-vertex-endpoint-restrict-predict-to-gateway",
        description="Only the gateway's service account may predict on the Vertex AI "
        "endpoint: no other IAM grant carries aiplatform.endpoints.predict.",
        severity=Severity.HIGH,
        resource_types=(*GRANTS, SERVICE),
        controls=(OWASP_INJECTION, OWASP_DISCLOSURE),
        frameworks=frozenset({"owasp-llm"}),
        remediation="Grant predict (roles/aiplatform.user on the endpoint) to the gateway's "
        "service account only; callers get roles/run.invoker on the gateway service instead.",
        check=_check_predict,
        scope=Scope.STACK,
        reads=(
            "role",
            "member",
            "members",
            "members[*]",
            "policyData",
            "template.serviceAccount",
            *ENV_PATHS,
        ),
        settings=(
            strings_setting(
                "predictRoles",
                "Project roles that carry aiplatform.endpoints.predict.",
                PREDICT_ROLES,
            ),
        ),
    ),
    Rule(
        name="gcp-cloudrun-service-restrict-ingress",
        description="Cloud Run services (the model's gateway) accept internal traffic only.",
        severity=Severity.HIGH,
        resource_types=(SERVICE,),
        controls=(OWASP_INJECTION, OWASP_DISCLOSURE),
        frameworks=frozenset({"owasp-llm"}),
        remediation="Set ingress to INGRESS_TRAFFIC_INTERNAL_ONLY (or "
        "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER behind an internal load balancer).",
        check=_check_ingress,
        reads=("ingress",),
    ),
    Rule(
        name="gcp-cloudrun-service-require-cmek",
        description="Cloud Run services (the model's gateway) are encrypted with a "
        "customer-managed key.",
        severity=Severity.MEDIUM,
        resource_types=(SERVICE,),
        controls=(OWASP_DISCLOSURE,),
        frameworks=frozenset({"owasp-llm"}),
        remediation="Set template.encryptionKey to the deployment's Cloud KMS key and grant the "
        "Cloud Run service agent (serverless-robot-prod) encrypter/decrypter on it.",
        check=_check_cmek,
        references=("template.encryptionKey",),
    ),
)

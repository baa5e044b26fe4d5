"""The API Management policy document of the gateway API (pure: plan and names in, XML out).

Built with ElementTree, so the document is well-formed and every policy expression (C# with
generics such as ``As<JObject>``) is escaped the way API Management's ``xml`` format expects.
Elements follow the documented order of each policy statement. Every failure is closed: a
screening call that errors ends the request with an error, never passes it to the model.

Inbound: Entra token validation, per-caller rate limit, body and prompt size limits, the
``llm-token-limit`` token budget, the ``max_tokens`` cap, ``llm-content-safety`` (Prompt Shields
and harm categories, the denied-topics blocklist), Azure AI Language PII and credential screening,
then the endpoint called with API Management's own identity. Outbound: the completion screened
by Content Safety and Language (on non-streaming responses, or all when output is ``on``).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from inferstack.azureml.gateway_plan import (
    COGNITIVE_AUDIENCE,
    CONTENT_SAFETY_API,
    HARM_CATEGORIES,
    HARM_THRESHOLD,
    LANGUAGE_API,
    ML_AUDIENCE,
    GatewayPlan,
)

ENDPOINT_BACKEND = "ml-endpoint"
CONTENT_SAFETY_BACKEND = "content-safety"

_PROMPT = """@{
    var body = context.Request.Body.As<JObject>(preserveContent: true);
    var parts = new List<string>();
    foreach (var message in (body["messages"] as JArray) ?? new JArray()) {
        parts.Add(message["content"]?.ToString() ?? "");
    }
    if (body["prompt"] != null) { parts.Add(body["prompt"].ToString()); }
    return string.Join("\\n", parts);
}"""
_STREAMING = """@{
    var body = context.Request.Body.As<JObject>(preserveContent: true);
    return body["stream"] != null && body["stream"].Type == JTokenType.Boolean
        && (bool)body["stream"];
}"""
_COMPLETION = """@{
    var body = context.Response.Body.As<JObject>(preserveContent: true);
    var parts = new List<string>();
    foreach (var choice in (body["choices"] as JArray) ?? new JArray()) {
        parts.Add((choice["message"]?["content"] ?? choice["text"])?.ToString() ?? "");
    }
    return string.Join("\\n", parts);
}"""


@dataclass(frozen=True)
class Endpoints:
    """Names known only at deploy time, passed in resolved."""

    tenant_id: str
    content_safety_url: str
    """https://<custom subdomain>.cognitiveservices.azure.com"""
    language_url: str
    scanner_client_ids: tuple[str, ...] = ()
    """Client ids of the red-team scans' identities: admitted beside ``client_application_ids``
    when those are set (without them any application of the tenant is)."""


def render(plan: GatewayPlan, endpoints: Endpoints) -> str:
    policies = ET.Element("policies")
    _inbound(ET.SubElement(policies, "inbound"), plan, endpoints)
    ET.SubElement(policies, "backend").append(ET.Element("base"))
    _outbound(ET.SubElement(policies, "outbound"), plan, endpoints)
    ET.SubElement(policies, "on-error").append(ET.Element("base"))
    ET.indent(policies)
    return ET.tostring(policies, encoding="unicode")


def _inbound(inbound: ET.Element, plan: GatewayPlan, endpoints: Endpoints) -> None:
    ET.SubElement(inbound, "base")
    token = ET.SubElement(
        inbound,
        "validate-azure-ad-token",
        {
            "tenant-id": endpoints.tenant_id,
            "header-name": "Authorization",
            "failed-validation-httpcode": "401",
            "failed-validation-error-message": "A valid Microsoft Entra token is required.",
            "output-token-variable-name": "jwt",
        },
    )
    if plan.client_application_ids:
        ids = ET.SubElement(token, "client-application-ids")
        for client in (*plan.client_application_ids, *endpoints.scanner_client_ids):
            ET.SubElement(ids, "application-id").text = client
    ET.SubElement(ET.SubElement(token, "audiences"), "audience").text = plan.audience
    caller = '@(((Jwt)context.Variables["jwt"]).Claims.GetValueOrDefault("oid", "unknown"))'
    window = max(1, -(-plan.burst // plan.requests_per_second))
    ET.SubElement(
        inbound,
        "rate-limit-by-key",
        {"calls": str(plan.burst), "renewal-period": str(window), "counter-key": caller},
    )
    _refuse_when(
        inbound,
        f"@(context.Request.Body == null || context.Request.Body.As<string>(preserveContent: "
        f"true).Length > {plan.max_request_bytes})",
        413,
        f"The request body is empty or larger than {plan.max_request_bytes} bytes.",
    )
    ET.SubElement(inbound, "set-variable", {"name": "prompt", "value": _PROMPT})
    ET.SubElement(inbound, "set-variable", {"name": "streaming", "value": _STREAMING})
    if plan.max_input_chars is not None:
        _refuse_when(
            inbound,
            f'@(((string)context.Variables["prompt"]).Length > {plan.max_input_chars})',
            413,
            "The prompt is longer than this deployment admits.",
        )
    ET.SubElement(
        inbound,
        "llm-token-limit",
        {
            "counter-key": caller,
            "tokens-per-minute": str(plan.tokens_per_minute),
            "estimate-prompt-tokens": "true",
            "remaining-tokens-header-name": "x-ratelimit-remaining-tokens",
        },
    )
    ET.SubElement(inbound, "set-body").text = _capped_body(plan)
    if plan.input_screening:
        _content_safety(inbound, plan)
        if plan.pii != "off":
            _language(inbound, plan, endpoints, source="prompt", request=True)
    # Replaces the caller's Authorization header: the endpoint sees only the gateway's token.
    ET.SubElement(inbound, "authentication-managed-identity", {"resource": ML_AUDIENCE})
    ET.SubElement(inbound, "set-backend-service", {"backend-id": ENDPOINT_BACKEND})


def _capped_body(plan: GatewayPlan) -> str:
    lines = [
        "@{",
        "    var body = context.Request.Body.As<JObject>(preserveContent: true);",
        f"    var cap = {plan.max_output_tokens};",
        '    foreach (var field in new[] { "max_tokens", "max_completion_tokens" }) {',
        "        var asked = body[field];",
        "        if (asked == null || asked.Type != JTokenType.Integer || (int)asked > cap) {",
        "            body[field] = cap;",
        "        }",
        "    }",
    ]
    if not plan.tool_calling:
        # serving.tool_calling is off: the model never sees a tool it could call.
        lines.append(
            '    foreach (var field in new[] { "tools", "tool_choice", "functions", '
            '"function_call" }) { body.Remove(field); }'
        )
    if plan.output_screening == "on":
        # Buffered: a streamed response would reach the caller before it is screened.
        lines.append('    body["stream"] = false;')
    lines += ["    return body.ToString();", "}"]
    return "\n".join(lines)


def _content_safety(inbound: ET.Element, plan: GatewayPlan) -> None:
    safety = ET.SubElement(
        inbound,
        "llm-content-safety",
        {
            "backend-id": CONTENT_SAFETY_BACKEND,
            "shield-prompt": "true" if plan.shield_prompt else "false",
        },
    )
    categories = ET.SubElement(safety, "categories", {"output-type": "FourSeverityLevels"})
    for name in HARM_CATEGORIES:
        ET.SubElement(categories, "category", {"name": name, "threshold": str(HARM_THRESHOLD)})
    if plan.blocklist is not None:
        ET.SubElement(ET.SubElement(safety, "blocklists"), "id").text = plan.blocklist


def _language(
    parent: ET.Element, plan: GatewayPlan, endpoints: Endpoints, *, source: str, request: bool
) -> None:
    """Azure AI Language PII recognition of the prompt or completion: block or anonymize."""
    parameters: dict[str, object] = {"modelVersion": "latest"}
    if plan.pii_categories is not None:
        parameters["piiCategories"] = list(plan.pii_categories)
    template = json.dumps({"kind": "PiiEntityRecognition", "parameters": parameters})
    # The documents are the screened text in chunks of the synchronous API's 5,000 characters.
    body = (
        "@{\n"
        f'    var text = (string)context.Variables["{source}"];\n'
        "    var documents = new JArray();\n"
        "    for (var i = 0; i < text.Length; i += 5000) {\n"
        '        documents.Add(new JObject(new JProperty("id", (i / 5000).ToString()),\n'
        '            new JProperty("text", text.Substring(i, Math.Min(5000, text.Length - i)))));\n'
        "    }\n"
        f"    var request = JObject.Parse({json.dumps(template)});\n"
        '    request["analysisInput"] = new JObject(new JProperty("documents", documents));\n'
        "    return request.ToString();\n"
        "}"
    )
    variable = f"pii-{source}"
    _call(
        parent,
        variable,
        f"{endpoints.language_url}/language/:analyze-text?api-version={LANGUAGE_API}",
        body,
    )
    found = (
        f'@(((IResponse)context.Variables["{variable}"]).StatusCode != 200 || '
        f'((IResponse)context.Variables["{variable}"]).Body.As<JObject>(preserveContent: true)'
        '["results"]["documents"].Any(d => ((JArray)d["entities"]).Count > 0))'
    )
    if plan.pii == "anonymize":
        redacted = (
            "@{\n"
            f'    var result = ((IResponse)context.Variables["{variable}"]).Body.As<JObject>();\n'
            '    var text = string.Concat(result["results"]["documents"]'
            '.Select(d => (string)d["redactedText"]));\n'
            + (
                "    var body = context.Request.Body.As<JObject>(preserveContent: true);\n"
                '    body["messages"] = new JArray(new JObject(new JProperty("role", "user"), '
                'new JProperty("content", text)));\n'
                if request
                else "    var body = context.Response.Body.As<JObject>(preserveContent: true);\n"
                '    foreach (var choice in (JArray)body["choices"]) { '
                'choice["message"]["content"] = text; }\n'
            )
            + "    return body.ToString();\n}"
        )
        choose = ET.SubElement(parent, "choose")
        when = ET.SubElement(
            choose,
            "when",
            {"condition": f'@(((IResponse)context.Variables["{variable}"]).StatusCode != 200)'},
        )
        _blocked(when, 500, "Personal data screening failed.")
        ET.SubElement(ET.SubElement(choose, "otherwise"), "set-body").text = redacted
    else:
        _refuse_when(parent, found, 403, plan.blocked_message)


def _outbound(outbound: ET.Element, plan: GatewayPlan, endpoints: Endpoints) -> None:
    ET.SubElement(outbound, "base")
    if plan.output_screening == "off" or not plan.content_safety:
        return
    choose = ET.SubElement(outbound, "choose")
    condition = "@(context.Response.StatusCode == 200"
    if plan.output_screening == "non_streaming":
        condition += ' && !(bool)context.Variables["streaming"]'
    when = ET.SubElement(choose, "when", {"condition": condition + ")"})
    ET.SubElement(when, "set-variable", {"name": "completion", "value": _COMPLETION})
    analysis: dict[str, object] = {
        "categories": list(HARM_CATEGORIES),
        "outputType": "FourSeverityLevels",
        "haltOnBlocklistHit": True,
        "blocklistNames": [plan.blocklist] if plan.blocklist else [],
    }
    body = (
        "@{\n"
        f"    var request = JObject.Parse({json.dumps(json.dumps(analysis))});\n"
        '    var text = (string)context.Variables["completion"];\n'
        '    request["text"] = text.Length > 10000 ? text.Substring(0, 10000) : text;\n'
        "    return request.ToString();\n"
        "}"
    )
    _call(
        when,
        "safety-completion",
        f"{endpoints.content_safety_url}/contentsafety/text:analyze"
        f"?api-version={CONTENT_SAFETY_API}",
        body,
    )
    verdict = '((IResponse)context.Variables["safety-completion"])'
    _refuse_when(
        when,
        f"@({verdict}.StatusCode != 200 || {verdict}.Body.As<JObject>(preserveContent: true)"
        f'["categoriesAnalysis"].Any(c => (int)c["severity"] >= {HARM_THRESHOLD}) || '
        f'{verdict}.Body.As<JObject>(preserveContent: true)["blocklistsMatch"].Any())',
        403,
        plan.blocked_message,
    )
    if plan.pii != "off":
        _language(when, plan, endpoints, source="completion", request=False)


def _call(parent: ET.Element, variable: str, url: str, body: str) -> None:
    request = ET.SubElement(
        parent,
        "send-request",
        {
            "mode": "new",
            "response-variable-name": variable,
            "timeout": "20",
            "ignore-error": "false",
        },
    )
    ET.SubElement(request, "set-url").text = url
    ET.SubElement(request, "set-method").text = "POST"
    header = ET.SubElement(
        request, "set-header", {"name": "Content-Type", "exists-action": "override"}
    )
    ET.SubElement(header, "value").text = "application/json"
    ET.SubElement(request, "set-body").text = body
    ET.SubElement(request, "authentication-managed-identity", {"resource": COGNITIVE_AUDIENCE})


def _refuse_when(parent: ET.Element, condition: str, status: int, message: str) -> None:
    when = ET.SubElement(ET.SubElement(parent, "choose"), "when", {"condition": condition})
    _blocked(when, status, message)


def _blocked(parent: ET.Element, status: int, message: str) -> None:
    response = ET.SubElement(parent, "return-response")
    ET.SubElement(response, "set-status", {"code": str(status), "reason": "Blocked"})
    header = ET.SubElement(
        response, "set-header", {"name": "Content-Type", "exists-action": "override"}
    )
    ET.SubElement(header, "value").text = "application/json"
    ET.SubElement(response, "set-body").text = json.dumps(
        {"error": {"code": "content_blocked" if status == 403 else "rejected", "message": message}}
    )

"""The gateway in front of the online endpoint, decided from the spec alone (no Pulumi here).

API Management is the only caller the endpoint admits. It authenticates callers with Entra
tokens, applies the rate, body, token and ``max_tokens`` limits, screens prompts with Azure AI
Content Safety (``llm-content-safety``, Prompt Shields on) and screens personal data and
credentials with Azure AI Language, because Content Safety has no PII detection.

The SKU is classic virtual-network injection in internal mode: the gateway gets a private IP in
the deployment's VNet, reaches the endpoint through the workspace's private endpoint, and has no
public gateway endpoint. Of the tiers with inbound *and* outbound isolation, Developer (no SLA,
one unit) serves dev and staging and Premium (SLA, scale units) serves prod.
"""

from __future__ import annotations

from dataclasses import dataclass

from inferstack.azureml.args import AzureMLArgs
from inferstack.deployment import DeploymentSpec
from inferstack.errors import SpecError
from inferstack.targets import REGISTRY

# Monthly list price of one unit (USD, pay as you go, US regions, 2026): classic Developer and
# Premium; budgets and `inferstack fit` add it to the compute cost.
APIM_MONTHLY_USD = {"Developer": 50.0, "Premium": 2800.0}
# Content Safety and Language S tiers are billed per 1,000 text records; no fixed monthly fee.
CONTENT_SAFETY_SKU = "S0"
LANGUAGE_SKU = "S"
# Azure AI Language PII categories that are credentials (the secrets check); the rest of the
# PII categories serve checks.pii.
SECRET_CATEGORIES = (
    "AzureDocumentDBAuthKey",
    "AzureIAASDatabaseConnectionAndSQLString",
    "AzureIoTConnectionString",
    "AzurePublishSettingPassword",
    "AzureRedisCacheString",
    "AzureSAS",
    "AzureServiceBusString",
    "AzureStorageAccountGeneric",
    "AzureStorageAccountKey",
    "SQLServerConnectionString",
)
# Content Safety harm categories and the severity (0-7 scale reduced to 0, 2, 4, 6) that blocks.
HARM_CATEGORIES = ("Hate", "SelfHarm", "Sexual", "Violence")
HARM_THRESHOLD = 4
# Roughly four characters per token: the prompt bound the gateway can apply before the model.
CHARS_PER_TOKEN = 4
ML_AUDIENCE = "https://ml.azure.com"
COGNITIVE_AUDIENCE = "https://cognitiveservices.azure.com"
CONTENT_SAFETY_API = "2024-09-01"
LANGUAGE_API = "2023-04-01"


@dataclass(frozen=True)
class GatewayPlan:
    service_name: str
    sku: str
    """Developer or Premium (classic, internal virtual network)."""
    capacity: int
    monthly_usd: float
    publisher_email: str
    subnet_prefix: str | None
    """Prefix of the created gateway subnet; None with ``inferstack:azureml.gateway_subnet_id``."""
    subnet_id: str | None
    audience: str
    """The token audience callers present (validate-azure-ad-token)."""
    client_application_ids: tuple[str, ...]
    content_safety: bool
    """Screen prompts (and responses) with Content Safety: false only without a guard."""
    content_safety_name: str
    language: bool
    """Screen personal data and credentials with Azure AI Language."""
    language_name: str
    input_screening: bool
    output_screening: str
    """on (streams turned off so every response is screened), non_streaming, or off."""
    shield_prompt: bool
    pii: str
    pii_categories: tuple[str, ...] | None
    """None: every PII category Language knows; else only these (credentials alone)."""
    blocklist: str | None
    """Content Safety blocklist holding the denied topics' terms; None without denied topics."""
    denied_terms: tuple[str, ...]
    max_input_chars: int | None
    max_output_tokens: int
    max_request_bytes: int
    requests_per_second: int
    burst: int
    tokens_per_minute: int
    blocked_message: str
    tool_calling: bool
    """Pass tool definitions to the model; otherwise the gateway strips them."""


def gateway_plan(spec: DeploymentSpec, args: AzureMLArgs, *, name: str, token: str) -> GatewayPlan:
    guard = spec.security.guard
    provider = REGISTRY["azureml"].guard if guard.provider == "auto" else guard.provider
    if provider not in ("content-safety", "none"):
        raise SpecError(
            "security.guard.provider",
            f"'{provider}' is not available on Azure ML; its gateway is API Management calling "
            "Azure AI Content Safety",
            "use auto or content-safety",
        )
    screening = guard.input or guard.output != "off"
    if provider == "none" and screening:
        raise SpecError(
            "security.guard.provider",
            "'none' screens nothing, but input or output screening is on",
            "use auto, or set security.guard.input: false and output: off",
        )
    if args.subnet_id is not None and args.gateway_subnet_id is None:
        raise SpecError(
            "inferstack:azureml.gateway_subnet_id",
            "is required with subnet_id: API Management needs a subnet of its own in that VNet",
            "name a dedicated subnet (/27 or larger, with the NSG of docs/targets/azureml.md)",
        )
    checks = guard.checks
    pii = checks.pii if screening else "off"
    secrets = checks.secrets and screening
    sku = args.gateway_sku or ("Premium" if spec.environment == "prod" else "Developer")
    capacity = args.gateway_capacity if sku == "Premium" else 1
    return GatewayPlan(
        service_name=f"apim-{name[:35].rstrip('-')}-{token}",
        sku=sku,
        capacity=capacity,
        monthly_usd=APIM_MONTHLY_USD[sku] * capacity,
        publisher_email=args.publisher_email
        or spec.observability.alarms.email
        or "apim-notifications@example.com",
        subnet_prefix=None if args.gateway_subnet_id else args.gateway_prefix,
        subnet_id=args.gateway_subnet_id,
        audience=args.gateway_audience,
        client_application_ids=tuple(args.gateway_client_ids),
        content_safety=screening,
        content_safety_name=f"cs-{name[:40].rstrip('-')}-{token}",
        language=pii != "off" or secrets,
        language_name=f"lang-{name[:38].rstrip('-')}-{token}",
        input_screening=guard.input,
        output_screening=guard.output,
        shield_prompt=guard.input and checks.prompt_injection,
        pii=pii if pii != "off" else ("block" if secrets else "off"),
        pii_categories=None if pii != "off" else (SECRET_CATEGORIES if secrets else ()),
        blocklist="denied-topics" if checks.denied_topics and screening else None,
        denied_terms=tuple(checks.denied_topics),
        max_input_chars=(
            checks.max_input_tokens * CHARS_PER_TOKEN if checks.max_input_tokens else None
        ),
        max_output_tokens=guard.max_output_tokens,
        max_request_bytes=spec.security.max_request_bytes,
        requests_per_second=spec.security.rate_limit.requests_per_second,
        burst=spec.security.rate_limit.burst,
        tokens_per_minute=args.gateway_tokens_per_minute,
        blocked_message=guard.blocked_message,
        tool_calling=spec.serving.tool_calling,
    )


def check_budget(spec: DeploymentSpec, compute_usd: float | None, gateway: GatewayPlan) -> None:
    """The budget covers the smallest deployment: min_replicas instances and the gateway."""
    budget = spec.cost.monthly_budget_usd
    if budget is None or compute_usd is None:
        return
    total = compute_usd + gateway.monthly_usd
    if total > budget:
        raise SpecError(
            "cost.monthly_budget_usd",
            f"{spec.min_replicas} instance(s) (${compute_usd:,.0f}) and API Management "
            f"{gateway.sku} (${gateway.monthly_usd:,.0f}) cost about ${total:,.0f}/month at list "
            f"prices, over the ${budget:,.0f} budget",
            "raise the budget, lower scaling.min_replicas, or set inferstack:azureml."
            "gateway_sku: Developer outside prod",
        )

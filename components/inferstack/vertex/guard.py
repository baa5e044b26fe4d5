"""The Model Armor template the gateway screens prompts and responses with.

A regional template (Model Armor has no global one) with the prompt injection and jailbreak
filter, the malicious URI filter, the four responsible-AI filters and Sensitive Data
Protection: an inspect template for personal data and secrets (``checks.pii``,
``checks.secrets``) and, with ``pii: anonymize``, a de-identify template replacing each finding
by its info type. Model Armor runs those templates as its own service agent, which gets the
Sensitive Data Protection user and reader roles for it.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp

from inferstack.vertex.context import Context
from inferstack.vertex.gateway_config import CONFIDENCE, RAI_FILTERS, GuardPlan

# What Model Armor's service agent needs to run the project's SDP templates.
SDP_ROLES = ("roles/dlp.user", "roles/dlp.reader")


def guard_template(ctx: Context) -> gcp.modelarmor.Template | None:
    guard = ctx.plan.gateway.guard
    if guard is None:
        return None
    sdp, depends = _sdp(ctx, guard)
    enabled = "ENABLED" if guard.prompt_injection else "DISABLED"
    filters: gcp.modelarmor.TemplateFilterConfigArgsDict = {
        "pi_and_jailbreak_filter_settings": {
            "filter_enforcement": enabled,
            "confidence_level": CONFIDENCE,
        },
        "malicious_uri_filter_settings": {"filter_enforcement": "ENABLED"},
        "rai_settings": {
            "rai_filters": [
                {"filter_type": kind, "confidence_level": CONFIDENCE} for kind in RAI_FILTERS
            ]
        },
    }
    if sdp is not None:
        filters["sdp_settings"] = sdp
    return gcp.modelarmor.Template(
        ctx.child("guard"),
        template_id=guard.template_id,
        location=ctx.region,
        project=ctx.project,
        filter_config=filters,
        template_metadata={
            "enforcement_type": "INSPECT_AND_BLOCK",
            # Prompts and responses are not written to Cloud Logging; template changes are.
            "log_sanitize_operations": False,
            "log_template_operations": True,
            "custom_prompt_safety_error_message": guard.blocked_message,
            "custom_llm_response_safety_error_message": guard.blocked_message,
        },
        labels=ctx.labels(),
        opts=ctx.opts(depends_on=depends),
    )


def _sdp(
    ctx: Context, guard: GuardPlan
) -> tuple[gcp.modelarmor.TemplateFilterConfigSdpSettingsArgsDict | None, list[pulumi.Resource]]:
    info_types = guard.info_types
    if not info_types:
        return None, []
    parent = f"projects/{ctx.project}/locations/{ctx.region}"
    names = ctx.plan.names
    inspect = gcp.dataloss.PreventionInspectTemplate(
        ctx.child("guard-inspect"),
        parent=parent,
        template_id=names.inspect_template,
        display_name=f"{ctx.name} guard",
        description="Personal data and secrets the gateway's Model Armor template looks for",
        inspect_config={
            "info_types": [{"name": name} for name in info_types],
            "min_likelihood": "LIKELY",
        },
        opts=ctx.opts(),
    )
    depends: list[pulumi.Resource] = [inspect]
    advanced: gcp.modelarmor.TemplateFilterConfigSdpSettingsAdvancedConfigArgsDict = {
        "inspect_template": _template_name(parent, "inspect", names)
    }
    if guard.anonymize:
        deidentify = gcp.dataloss.PreventionDeidentifyTemplate(
            ctx.child("guard-deidentify"),
            parent=parent,
            template_id=names.deidentify_template,
            display_name=f"{ctx.name} guard",
            description="Replaces each finding of the guard by its info type",
            deidentify_config={
                "info_type_transformations": {
                    "transformations": [
                        {
                            "info_types": [{"name": name} for name in info_types],
                            "primitive_transformation": {"replace_with_info_type_config": True},
                        }
                    ]
                }
            },
            opts=ctx.opts(),
        )
        depends.append(deidentify)
        advanced["deidentify_template"] = _template_name(parent, "deidentify", names)
    for role in SDP_ROLES:
        depends.append(
            gcp.projects.IAMMember(
                ctx.child(f"guard-{role.split('.')[-1].lower()}"),
                project=ctx.project,
                role=role,
                member=ctx.service_agent("gcp-sa-modelarmor"),
                opts=ctx.opts(),
            )
        )
    return {"advanced_config": advanced}, depends


def _template_name(parent: str, kind: str, names: Any) -> str:
    template = names.inspect_template if kind == "inspect" else names.deidentify_template
    return f"{parent}/{kind}Templates/{template}"

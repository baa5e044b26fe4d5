"""Data residency: resources and providers stay in the allowed regions.

What a policy can see of a resource's region: its own ``region`` (every regional resource in
pulumi-aws v7) or ``location`` (azure-native, gcp) input; for AWS resources without one, the
region of the provider the engine passes with the resource; and the region of every explicit
provider resource. Empty ``allowedRegions`` (the baseline and HIPAA default) allows all regions;
the GDPR pack defaults to the EU/EEA regions of the three clouds. A regional resource whose
region the policy cannot see at all (no region input, no provider region) is *unverifiable at
preview*, never a pass: set the region on the resource or on an explicit provider.
"""

from __future__ import annotations

import re
from typing import Any, Final

from inferstack.compliance.model import Report, Resource, Rule, RuleConfig, Severity
from inferstack.compliance.props import MISSING, UNKNOWN, get
from inferstack.compliance.regions import eu_eea_regions
from inferstack.compliance.rules._common import GDPR_TRANSFERS, strings_setting, unverifiable

PROVIDER_FIELDS: Final = {
    "pulumi:providers:aws": ("region",),
    "pulumi:providers:azure-native": ("location",),
    "pulumi:providers:gcp": ("region",),
}
RESOURCE_FIELDS: Final = {
    "aws:": ("region",),
    "azure-native:": ("location",),
    "gcp:": ("region", "location"),
}
# Global AWS services: their resources have no region, so the provider's region says nothing.
AWS_GLOBAL_PREFIXES: Final = (
    "aws:iam/",
    "aws:budgets/",
    "aws:organizations/",
    "aws:route53/",
    "aws:cloudfront/",
    "aws:shield/",
    "aws:globalaccelerator/",
)
GCP_GLOBAL_PREFIXES: Final = (
    "gcp:serviceaccount/",
    "gcp:projects/",
    "gcp:organizations/",
    "gcp:folder/",
    "gcp:billing/",
)
AZURE_GLOBAL_PREFIXES: Final = ("azure-native:authorization:",)
PROVIDER_OF_CLOUD: Final = {
    "aws:": "pulumi:providers:aws",
    "azure-native:": "pulumi:providers:azure-native",
    "gcp:": "pulumi:providers:gcp",
}
# Azure resources whose only location is "global": DNS zones and alert rules, holding no
# customer data. A "global" location on any other type is still checked.
AZURE_GLOBAL_LOCATION_TYPES: Final = (
    "azure-native:privatedns:",
    "azure-native:monitor:ActionGroup",
    "azure-native:monitor:MetricAlert",
    "azure-native:monitor:ActivityLogAlert",
)
_ZONE: Final = re.compile(r"^([a-z]+-[a-z]+\d+)-[a-z]$")


def normalize(region: str) -> str:
    """Lower case without spaces ("West Europe" -> "westeurope"); GCP zones -> their region."""
    name = region.strip().lower().replace(" ", "")
    match = _ZONE.match(name)
    return match.group(1) if match else name


def _cloud_fields(resource_type: str) -> tuple[str, ...]:
    for prefix, fields in RESOURCE_FIELDS.items():
        if resource_type.startswith(prefix):
            return fields
    return ()


def _global(resource_type: str) -> bool:
    return resource_type.startswith(
        (*AWS_GLOBAL_PREFIXES, *GCP_GLOBAL_PREFIXES, *AZURE_GLOBAL_PREFIXES)
    )


def _locations(res: Resource) -> list[tuple[str, Any]]:
    """(where, value) pairs naming the places this resource's data will live."""
    if res.resource_type in PROVIDER_FIELDS:
        return [(field, get(res.props, field)) for field in PROVIDER_FIELDS[res.resource_type]]
    found = [
        (field, value)
        for field in _cloud_fields(res.resource_type)
        if (value := get(res.props, field)) not in (MISSING, None, "")
    ]
    if res.resource_type.startswith(AZURE_GLOBAL_LOCATION_TYPES):
        found = [(f, v) for f, v in found if not (isinstance(v, str) and normalize(v) == "global")]
        if not found:
            return []
    if found or _global(res.resource_type):
        return found
    cloud = next((p for p in PROVIDER_OF_CLOUD if res.resource_type.startswith(p)), None)
    provider = res.provider
    if cloud is None or provider is None or provider.resource_type != PROVIDER_OF_CLOUD[cloud]:
        return [("region", MISSING)]
    field = PROVIDER_FIELDS[provider.resource_type][0]
    region = get(provider.props, field)
    return [("the provider's region", MISSING if region in (None, "") else region)]


def _check_region(res: Resource, report: Report, cfg: RuleConfig) -> None:
    allowed = {normalize(name) for name in cfg.strings("allowedRegions")}
    if not allowed:
        return
    for where, value in _locations(res):
        if value is UNKNOWN:
            report(unverifiable(where))
        elif value is MISSING:
            report(
                unverifiable(
                    "region",
                    "no region is visible to the policy (no region or location input, no "
                    "provider region); set it on the resource or on an explicit provider",
                )
            )
        elif isinstance(value, str) and normalize(value) not in allowed:
            report(f"{where} '{value}' is outside the allowed regions {sorted(allowed)}")


RULES: Final = (
    Rule(
        name="all-residency-resource-restrict-region",
        description="Resources and providers are placed only in the allowed regions.",
        severity=Severity.HIGH,
        resource_types=("aws:*", "azure-native:*", "gcp:*", *PROVIDER_FIELDS),
        controls=(GDPR_TRANSFERS,),
        frameworks=frozenset({"baseline"}),
        remediation="Deploy to an allowed region (aws:region, azure-native:location, gcp:region; "
        "compliance.data_residency) or extend allowedRegions in the pack config.",
        check=_check_region,
        reads=("region", "location"),
        peers=("azure-policy:e56962a6-4747-49cd-b67b-bf8b01975c4c",),
        settings=(
            strings_setting(
                "allowedRegions",
                "Allowed region/location names of any cloud; empty allows all.",
                (),
                gdpr=eu_eea_regions(),
            ),
        ),
    ),
)

"""Physical names the component chooses itself, within Google Cloud's naming rules.

Names that other resources or documents refer to (the endpoint id, buckets, the service
account, the dataset) are chosen here rather than left to autonaming, so the policy packs can
read every reference at preview time and IAM conditions can name their resources.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

_LABEL = re.compile(r"[^a-z0-9_-]")


def _digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def bounded(base: str, suffix: str, limit: int) -> str:
    """``<base>-<suffix>`` cut to ``limit`` characters without a trailing dash."""
    tail = f"-{suffix}"
    return f"{base[: limit - len(tail)].rstrip('-')}{tail}"


def endpoint_id(component: str, project: str, region: str) -> str:
    """A stable numeric endpoint id: at most 10 digits, no leading zero, as Vertex AI wants."""
    return str(1_000_000_000 + int(_digest(project, region, component), 16) % 9_000_000_000)


def labels(tags: Mapping[str, str]) -> dict[str, str]:
    """Tags as GCP labels: lower-case keys and values of letters, digits, '_' and '-'."""
    result: dict[str, str] = {}
    for key, value in tags.items():
        label = _LABEL.sub("_", key.lower())[:63]
        if not label[:1].isalpha():
            label = f"k{label}"[:63]
        result[label] = _LABEL.sub("_", value.lower())[:63]
    return result


@dataclass(frozen=True)
class Names:
    endpoint_id: str
    display_name: str
    key_ring: str
    key: str
    bucket: str
    access_log_bucket: str
    repository: str
    service_account: str
    dataset: str
    log_bucket: str
    model: str
    gateway: str
    gateway_account: str
    gateway_repository: str
    guard_template: str
    inspect_template: str
    deidentify_template: str
    red_team_bucket: str
    red_team_account: str
    red_team_scheduler: str

    def red_team_job(self, tier: str) -> str:
        """The Cloud Run job (and its Cloud Scheduler job) of a scan tier."""
        # Cloud Run job names: at most 63 characters, like the service's own rules.
        return bounded(self.display_name, f"red-team-{tier}", 63)

    @classmethod
    def of(cls, component: str, project: str, region: str) -> Names:
        unique = _digest(project, region, component)[:8]
        return cls(
            endpoint_id=endpoint_id(component, project, region),
            display_name=component,
            key_ring=bounded(component, region, 63),
            key=component,
            # Bucket names are global: the hash of project and region keeps stacks apart.
            bucket=bounded(component, f"models-{unique}", 63),
            access_log_bucket=bounded(component, f"access-logs-{unique}", 63),
            repository=bounded(component, "images", 63),
            service_account=bounded(component, "serving", 30),
            dataset=re.sub(r"[^A-Za-z0-9_]", "_", f"{component}_predictions"),
            log_bucket=bounded(component, "logs", 100),
            model=bounded(component, "model", 63),
            # Cloud Run service names: at most 49 characters.
            gateway=bounded(component, "gateway", 49),
            gateway_account=bounded(component, "gateway", 30),
            gateway_repository=bounded(component, "gateway-images", 63),
            guard_template=bounded(component, "guard", 63),
            # Sensitive Data Protection template ids: letters, digits, '_' and '-'.
            inspect_template=bounded(component, "guard-inspect", 100),
            deidentify_template=bounded(component, "guard-deidentify", 100),
            red_team_bucket=bounded(component, f"red-team-reports-{unique}", 63),
            # Service account ids: 6 to 30 characters.
            red_team_account=bounded(component, "red-team", 30),
            red_team_scheduler=bounded(component, "red-team-sched", 30),
        )

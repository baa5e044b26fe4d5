"""The scans a deployment's ``security.red_team`` asks for, checked before anything registers."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from inferstack.deployment import DeploymentSpec
from inferstack.deployment.security import RedTeamSpec
from inferstack.deployment.types import RedTeamTarget
from inferstack.errors import SpecError
from inferstack.redteam.garak import Scan, proxy_uri
from inferstack.redteam.probes import GARAK_VERSION, Tier, probes_for, scanned_risks, selection

_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,\-?]+$")


@dataclass(frozen=True)
class Scheduled:
    tier: Tier
    schedule: str
    """Five-field cron, UTC."""
    scans: tuple[Scan, ...]
    """One per target, run one after the other in the same job."""


@dataclass(frozen=True)
class RedTeamPlan:
    image: str
    retention_days: int
    targets: tuple[RedTeamTarget, ...]
    runs: tuple[Scheduled, ...]

    @property
    def scans_model(self) -> bool:
        return "model" in self.targets


def red_team_plan(
    spec: DeploymentSpec,
    *,
    gateway_uri: str,
    model_uri: str | None,
    model_name: str,
    refuse_model: str | None = None,
) -> RedTeamPlan | None:
    """The plan of ``spec.security.red_team``; None when no scan is asked for.

    ``model_uri``: the model's API from inside its network. ``refuse_model``: why the target
    cannot scan the model directly (``targets: [model]`` is then refused).
    """
    red = spec.security.red_team
    if red is None:
        return None
    _check(red, refuse_model)
    uris: dict[RedTeamTarget, str | None] = {"gateway": gateway_uri, "model": model_uri}
    runs = []
    tiers: list[tuple[Tier, str]] = [("nightly", red.schedule)]
    if red.weekly_schedule is not None:
        tiers.append(("weekly", red.weekly_schedule))
    for tier, schedule in tiers:
        probes = selection(list(red.risks), list(red.probes), tier)
        scans = []
        for target in red.targets:
            uri = uris[target]
            if uri is None:
                raise SpecError(
                    "security.red_team.targets",
                    f"'{target}' has no address this target can scan",
                    "scan the gateway only",
                )
            scans.append(
                Scan(
                    tier=tier,
                    target=target,
                    uri=uri,
                    model=model_name,
                    probes=probes,
                    generations=red.generations,
                )
            )
        runs.append(Scheduled(tier=tier, schedule=schedule, scans=tuple(scans)))
    return RedTeamPlan(
        image=red.image,
        retention_days=red.report_retention_days,
        targets=tuple(red.targets),
        runs=tuple(runs),
    )


def _check(red: RedTeamSpec, refuse_model: str | None) -> None:
    if refuse_model is not None and "model" in red.targets:
        raise SpecError(
            "security.red_team.targets",
            f"cannot scan the model directly: {refuse_model}",
            "set targets: [gateway]",
        )
    scanned = scanned_risks()
    for index, risk in enumerate(red.risks):
        if risk not in scanned:
            raise SpecError(
                f"security.red_team.risks[{index}]",
                f"garak {GARAK_VERSION} has no probe for '{risk}' that runs offline",
                f"choose among {', '.join(scanned)}, or name probes in security.red_team.probes",
            )
    if not selection(list(red.risks), list(red.probes), "nightly"):
        raise SpecError(
            "security.red_team.risks",
            f"the nightly scan would run no probe ({', '.join(red.risks)} have weekly probes only)",
            "add prompt_injection or name probes in security.red_team.probes",
        )
    for field, value in (("schedule", red.schedule), ("weekly_schedule", red.weekly_schedule)):
        if value is not None:
            cron_fields(value, f"security.red_team.{field}")


def cron_fields(schedule: str, path: str) -> list[str]:
    """The five fields of a cron schedule, or a SpecError naming ``path``."""
    fields = schedule.split()
    if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
        raise SpecError(
            path,
            f"'{schedule}' is not a five-field cron schedule",
            "write minute hour day-of-month month day-of-week, e.g. '0 3 * * *' (UTC)",
        )
    return fields


def eventbridge_cron(schedule: str, path: str) -> str:
    """A five-field cron as EventBridge Scheduler's ``cron(min hour dom month dow year)``.

    EventBridge wants ``?`` in day-of-month or day-of-week and numbers days of the week
    1-7 from Sunday (cron: 0-6 from Sunday).
    """
    minute, hour, dom, month, dow = cron_fields(schedule, path)
    if dow == "*":
        dow = "?"
    elif dom == "*":
        dom = "?"
        dow = re.sub(r"\d+", lambda m: str(int(m.group()) % 7 + 1), dow)
    else:
        raise SpecError(
            path,
            f"'{schedule}' sets both day-of-month and day-of-week, which EventBridge refuses",
            "set one of them to *",
        )
    return f"cron({minute} {hour} {dom} {month} {dow} *)"


def proxied_plan(
    spec: DeploymentSpec,
    *,
    refuse_model: str,
    check_schedule: Callable[[str, str], object] = cron_fields,
) -> RedTeamPlan | None:
    """The plan of a cloud target's scans; None when no scan is asked for.

    On a cloud target garak scans the gateway only, through the runner's proxy on 127.0.0.1
    (the proxy signs or authenticates each call as the scan's identity); the model cannot be
    scanned directly, ``refuse_model`` says why. ``check_schedule`` reads each tier's schedule
    in the target scheduler's cron dialect, naming the field of the spec it came from.
    """
    scans = red_team_plan(
        spec,
        gateway_uri=proxy_uri(),
        model_uri=None,
        model_name=spec.model.id,
        refuse_model=refuse_model,
    )
    for run in scans.runs if scans is not None else ():
        check_schedule(run.schedule, schedule_path(run.tier))
    return scans


def schedule_path(tier: Tier) -> str:
    """The field of the deployment spec a tier's schedule comes from, for errors."""
    return "security.red_team." + ("schedule" if tier == "nightly" else "weekly_schedule")


__all__ = [
    "RedTeamPlan",
    "Scheduled",
    "eventbridge_cron",
    "probes_for",
    "proxied_plan",
    "red_team_plan",
    "schedule_path",
]

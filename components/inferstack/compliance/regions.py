"""Region lists used as residency defaults, shipped as data so they can be reviewed and extended."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def _data() -> dict[str, Any]:
    text = resources.files("inferstack.compliance").joinpath("data/regions.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def eu_eea_regions(cloud: str | None = None) -> tuple[str, ...]:
    """EU/EEA region names of one cloud (aws, azure, gcp), or of all three."""
    table: dict[str, list[str]] = _data()["eu_eea"]
    clouds = [cloud] if cloud else sorted(table)
    return tuple(region for name in clouds for region in table[name])

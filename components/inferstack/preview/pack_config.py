"""Policy pack configuration, resolved the way the Pulumi CLI resolves it.

Each policy starts from its own enforcement level and its config schema's defaults, then the
pack's initial config, then the ``--policy-pack-config`` file; ``all`` applies before a policy's
own entry at each step.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from pulumi.runtime.proto import analyzer_pb2

from inferstack.preview.packs import PackError

LEVELS = ("advisory", "mandatory", "remediate", "disabled")
LEVEL_NAMES = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.REMEDIATE: "remediate",
    analyzer_pb2.DISABLED: "disabled",
}
LEVEL_VALUES = {name: value for value, name in LEVEL_NAMES.items()}

PackConfig = Mapping[str, Any]


def load_pack_config(path: str | Path) -> dict[str, Any]:
    """Read a ``--policy-pack-config`` file: policy name (or ``all``) -> level or object."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PackError(f"policy pack config {path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise PackError(f"policy pack config {path} is not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise PackError(f"policy pack config {path} must be a JSON object of policy names")
    return data


def configs_per_pack(
    pack_config: PackConfig | Sequence[PackConfig] | None, count: int
) -> list[PackConfig]:
    if pack_config is None:
        return [{} for _ in range(count)]
    if isinstance(pack_config, Mapping):
        return [pack_config for _ in range(count)]
    configs = list(pack_config)
    if len(configs) == 1:
        return configs * count
    if len(configs) != count:
        raise PackError(
            f"{len(configs)} policy pack configs for {count} packs: give one, or one per pack"
        )
    return configs


def check_config_names(configs: Sequence[PackConfig], policy_names: set[str]) -> None:
    """A name no pack knows is a typo: the CLI would silently ignore it."""
    known = policy_names | {"all"}
    for config in configs:
        unknown = sorted(set(config) - known)
        if unknown:
            raise PackError(f"policy pack config names unknown policies: {', '.join(unknown)}")


def resolve_levels(info: Any, config: PackConfig) -> dict[str, str]:
    """Each policy's level: its own, then the pack's initial config, then the user's config."""
    initial = {
        key: LEVEL_NAMES[value.enforcementLevel] for key, value in info.initialConfig.items()
    }
    given = _user_levels(config)
    levels: dict[str, str] = {}
    for policy in info.policies:
        level = LEVEL_NAMES.get(policy.enforcementLevel, "advisory")
        for source in (initial, given):
            level = source.get("all") or level
            level = source.get(policy.name) or level
        levels[policy.name] = level
    return levels


def _user_levels(config: PackConfig) -> dict[str, str]:
    levels: dict[str, str] = {}
    for name, value in config.items():
        level = value.get("enforcementLevel") if isinstance(value, Mapping) else value
        if level is None:
            continue
        if level not in LEVELS:
            raise PackError(
                f"policy pack config: '{level}' for {name} is not an enforcement level "
                f"(use one of {', '.join(LEVELS)})"
            )
        levels[name] = str(level)
    return levels


def resolve_properties(policy: Any, info: Any, config: PackConfig) -> dict[str, Any]:
    """Config properties for one policy: schema defaults < pack initial config < user config."""
    schema = json_format.MessageToDict(policy.configSchema.properties)
    properties = {key: spec["default"] for key, spec in schema.items() if "default" in spec}
    if policy.name in info.initialConfig:
        properties.update(json_format.MessageToDict(info.initialConfig[policy.name].properties))
    given = config.get(policy.name)
    if isinstance(given, Mapping):
        properties.update({k: v for k, v in given.items() if k != "enforcementLevel"})
    missing = [key for key in policy.configSchema.required if key not in properties]
    if missing:
        raise PackError(f"policy {policy.name} needs config: {', '.join(missing)}")
    return properties

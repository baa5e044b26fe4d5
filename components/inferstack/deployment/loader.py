"""Turn stack configs and plain mappings into a validated DeploymentSpec, with one-line errors."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from inferstack import targets
from inferstack.deployment.base import _FieldError
from inferstack.deployment.models import DeploymentSpec
from inferstack.errors import SpecError


@dataclass(frozen=True)
class StackConfig:
    """One stack's settings: what ``Pulumi.<stack>.yaml`` holds, validated."""

    stack: str
    target: str
    region: str | None
    deployment: DeploymentSpec
    path: Path | None = None
    # Every config value as the Pulumi runtime sees it: objects JSON-encoded.
    config: dict[str, str] = field(default_factory=dict)


def parse_deployment(data: Any) -> DeploymentSpec:
    """Validate a plain mapping as a DeploymentSpec; raise SpecError naming the first bad field."""
    if isinstance(data, DeploymentSpec):
        return data
    if not isinstance(data, Mapping):
        raise SpecError("", "must be a mapping of the deployment's sections", "see docs/spec.md")
    try:
        return DeploymentSpec.model_validate(dict(data))
    except ValidationError as exc:
        raise _to_spec_error(exc) from None


def validate_target_name(target: Any) -> str:
    """``target`` if it names a registered target; else a SpecError with a did-you-mean."""
    return targets.get(target).name


def load_stack_config(path: str | Path, *, check_target: bool = True) -> StackConfig:
    """Read ``Pulumi.<stack>.yaml`` (or any file of that shape) and validate it fully."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise SpecError("inferstack:target", f"stack config {path} does not exist") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise SpecError(
            "inferstack:deployment", f"{path}{where} is not valid YAML", "fix the syntax"
        ) from None
    values = document.get("config") if isinstance(document, dict) else None
    if not isinstance(values, dict):
        raise SpecError("inferstack:target", f"{path} has no 'config:' mapping", "see stacks/")
    if "inferstack:target" not in values:
        raise SpecError("inferstack:target", f"missing in {path}", "add inferstack:target: onprem")
    target = validate_target_name(values["inferstack:target"])
    if "inferstack:deployment" not in values:
        raise SpecError("inferstack:deployment", f"missing in {path}", "see docs/spec.md")
    config, secret_keys = runtime_config(values)
    region_key = targets.get(target).region_key
    region = config.get(region_key) if region_key and region_key not in secret_keys else None
    deployment = parse_deployment(values["inferstack:deployment"])
    if check_target:
        from inferstack.deployment.targets import validate_for_target

        validate_for_target(deployment, target, region)
    stack = path.name.removeprefix("Pulumi.").removesuffix(".yaml").removesuffix(".yml")
    return StackConfig(
        stack=stack, target=target, region=region, deployment=deployment, path=path, config=config
    )


PROJECT = "inferstack"
# Offline there is no key to decrypt `secure:` config values; the program sees this instead.
SECRET_PLACEHOLDER = "[secret]"


def runtime_config(values: Mapping[Any, Any]) -> tuple[dict[str, str], tuple[str, ...]]:
    """Stack config values as the Pulumi runtime sees them, and the keys that are secret.

    Keys without a namespace belong to the project; ``{value: ...}`` is unwrapped; objects are
    JSON-encoded, as the CLI passes them; ``{secure: ...}`` cannot be decrypted offline and
    becomes a placeholder.
    """
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in values.items():
        name = str(key) if ":" in str(key) else f"{PROJECT}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            config[name] = SECRET_PLACEHOLDER
            secret_keys.append(name)
            continue
        if isinstance(value, dict) and set(value) == {"value"}:
            value = value["value"]
        config[name] = value if isinstance(value, str) else json.dumps(value)
    return config, tuple(secret_keys)


def _to_spec_error(exc: ValidationError) -> SpecError:
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    ctx = error.get("ctx") or {}
    original = ctx.get("error")
    if isinstance(original, _FieldError):
        return SpecError(original.path, original.problem, original.fix)
    path = ".".join(loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        parent, unknown = loc[:-1], loc[-1]
        known = _field_names(DeploymentSpec, parent)
        close = difflib.get_close_matches(unknown, known, n=1)
        fix = f"did you mean '{close[0]}'?" if close else f"known fields: {', '.join(known)}"
        return SpecError(path, "is not a known field", fix)
    if kind == "missing":
        return SpecError(path, "is required", "add it to the stack config")
    if kind == "literal_error":
        got = error.get("input")
        expected = ctx.get("expected", "")
        options = [o.strip().strip("'") for o in str(expected).replace(" or ", ",").split(",")]
        close = difflib.get_close_matches(str(got), options, n=1)
        fix = f"did you mean '{close[0]}'?" if close else f"use one of: {expected}"
        return SpecError(path, f"'{got}' is not allowed", fix)
    message = str(error["msg"]).removeprefix("Value error, ")
    got = error.get("input")
    if kind.endswith(("_parsing", "_type")) or kind.startswith(("greater", "less")):
        message = f"{message}, got {json.dumps(got, default=str)}"
    return SpecError(path, message)


def _field_names(model: type[BaseModel], loc: list[str]) -> list[str]:
    current: Any = model
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        annotation = fields[part].annotation
        current = _model_in(annotation)
        if current is None:
            return []
    return list(getattr(current, "model_fields", {}))


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None

"""Turn stack configs and plain mappings into a validated DeploymentSpec, with one-line errors."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from inferstack import targets
from inferstack.deployment.base import _FieldError
from inferstack.deployment.models import DeploymentSpec
from inferstack.errors import SpecError, fields_at, plain_message


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
    try:
        stack_file = read_stack_file(path)
    except StackConfigError as exc:
        raise SpecError("inferstack:target", str(exc), "see stacks/") from None
    config = stack_file.config
    if "inferstack:target" in config:  # a wrong target first: it decides what else is checked
        validate_target_name(config["inferstack:target"])
    check_config_keys(config, where=str(stack_file.path))
    target = validate_target_name(config["inferstack:target"])
    region_key = targets.get(target).region_key
    secret = region_key in stack_file.secret_keys
    region = config.get(region_key) if region_key and not secret else None
    deployment = parse_deployment(_decoded(config["inferstack:deployment"]))
    if check_target:
        from inferstack.deployment.targets import validate_for_target

        validate_for_target(deployment, target, region)
    return StackConfig(
        stack=stack_file.stack,
        target=target,
        region=region,
        deployment=deployment,
        path=stack_file.path,
        config=config,
    )


PROJECT = "inferstack"
REQUIRED_KEYS: tuple[str, ...] = ("inferstack:target", "inferstack:deployment")
_REQUIRED_FIX = {
    "inferstack:target": f"add inferstack:target: one of {', '.join(targets.NAMES)}",
    "inferstack:deployment": "add the spec under inferstack:deployment; see docs/spec.md",
}


def known_config_keys() -> list[str]:
    """The ``inferstack:*`` keys inferstack reads: target, deployment and each target's settings."""
    return sorted({*REQUIRED_KEYS, *(t.args_key for t in targets.REGISTRY.values())})


def check_config_keys(keys: Iterable[str], *, where: str = "", required: bool = True) -> None:
    """A SpecError for an ``inferstack:*`` key one typo away from a known one, or a missing one.

    Other project keys (secrets a spec names, such as a site's kubeconfig) are left alone unless
    they look like a misspelt known key; a missing section names the present key closest to it.
    """
    present = [str(key) for key in keys]
    known = known_config_keys()
    suffixes = {key.partition(":")[2]: key for key in known}
    for key in present:
        namespace, _, name = key.partition(":")
        if namespace != PROJECT or key in known:
            continue
        close = difflib.get_close_matches(name, list(suffixes), n=1, cutoff=0.75)
        if close:
            suffix = f" in {where}" if where else ""
            raise SpecError(
                key,
                f"is not a key inferstack reads{suffix}",
                f"did you mean '{suffixes[close[0]]}'?",
            )
    if not required:
        return
    for key in REQUIRED_KEYS:
        if key in present:
            continue
        others = [k for k in present if k.startswith(f"{PROJECT}:") and k not in known]
        close = difflib.get_close_matches(key, others, n=1, cutoff=0.5)
        fix = f"found '{close[0]}': did you mean '{key}'?" if close else _REQUIRED_FIX[key]
        raise SpecError(key, f"is missing{f' in {where}' if where else ''}", fix)


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


class StackConfigError(ValueError):
    """A stack config file that cannot be read (missing, not YAML, not a config mapping)."""


@dataclass(frozen=True)
class StackFile:
    """A ``Pulumi.<stack>.yaml`` as the Pulumi CLI hands it to a program."""

    path: Path
    stack: str
    config: dict[str, str]
    secret_keys: tuple[str, ...] = ()

    @property
    def target(self) -> str | None:
        return self.config.get("inferstack:target")


def read_stack_file(path: str | Path) -> StackFile:
    """Read a stack config: every value as the string the Pulumi runtime sees."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StackConfigError(f"stack config {path} does not exist") from None
    except IsADirectoryError:
        raise StackConfigError(f"stack config {path} is a directory, not a file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise StackConfigError(f"{path} is not valid YAML{where}") from None
    document = document or {}
    values = document.get("config", {}) if isinstance(document, dict) else None
    if not isinstance(values, dict):
        raise StackConfigError(f"{path} must hold a 'config:' mapping of Pulumi config keys")
    config, secret_keys = runtime_config(values)
    check_config_keys(config, where=str(path), required=False)
    stack = path.name.removeprefix("Pulumi.").removesuffix(".yaml").removesuffix(".yml")
    return StackFile(path=path, stack=stack, config=config, secret_keys=secret_keys)


def _decoded(text: str) -> Any:
    """A config value back from the runtime's string: objects were JSON-encoded."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _to_spec_error(exc: ValidationError) -> SpecError:
    errors = exc.errors()
    # An unknown key is most often the misspelling of the required one reported beside it.
    error = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = [str(part) for part in error["loc"]]
    ctx = error.get("ctx") or {}
    original = ctx.get("error")
    if isinstance(original, _FieldError):
        return SpecError(original.path, original.problem, original.fix)
    path = ".".join(loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        unknown = loc[-1]
        known = fields_at(DeploymentSpec, error["loc"][:-1])
        close = difflib.get_close_matches(unknown, known, n=1)
        fix = f"did you mean '{close[0]}'?" if close else f"known fields: {', '.join(known)}"
        return SpecError(path, "is not a known field", fix)
    if kind == "missing":
        return SpecError(path, "is required", "add it")
    if kind == "literal_error":
        got = error.get("input")
        expected = ctx.get("expected", "")
        options = [o.strip().strip("'") for o in str(expected).replace(" or ", ",").split(",")]
        close = difflib.get_close_matches(str(got), options, n=1)
        fix = f"did you mean '{close[0]}'?" if close else f"use one of: {expected}"
        return SpecError(path, f"'{got}' is not allowed", fix)
    message = plain_message(error)
    got = error.get("input")
    if kind.endswith(("_parsing", "_type")) or kind.startswith(("greater", "less")):
        message = f"{message}, got {json.dumps(got, default=str)}"
    return SpecError(path, message)

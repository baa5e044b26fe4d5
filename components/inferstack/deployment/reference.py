"""Render the spec reference (docs/spec.md) from the pydantic JSON schema."""

from __future__ import annotations

import json
from typing import Any

from inferstack.deployment.models import DeploymentSpec

HEADER = """# Deployment spec reference

Generated from the pydantic models by `python scripts/gen_spec_docs.py`; do not edit by hand.
A stack config holds the spec under `inferstack:deployment` and the target under
`inferstack:target` (`onprem | sagemaker | azureml | vertex | jetson`). Every section rejects
unknown keys; a bad value fails before any resource is registered with one line naming the key.
"""


def render_reference() -> str:
    schema = DeploymentSpec.model_json_schema()
    defs: dict[str, Any] = schema.get("$defs", {})
    lines = [HEADER]
    sections: list[tuple[str, dict[str, Any]]] = [("", schema)]
    while sections:
        prefix, node = sections.pop(0)
        rows: list[str] = []
        for name, prop in node.get("properties", {}).items():
            path = f"{prefix}{name}"
            ref = _ref(prop, defs)
            if ref is not None and "properties" in ref and name != "tolerations":
                sections.append((f"{path}.", ref))
            rows.append(
                f"| `{path}` | {_type(prop, defs)} | {_default(prop, name, node)} | "
                f"{_text(prop.get('description', ''))} |"
            )
        title = prefix.rstrip(".") or "top level"
        lines += [f"\n## `{title}`\n", "| key | type | default | meaning |", "|---|---|---|---|"]
        lines += rows
    return "\n".join(lines) + "\n"


def _ref(prop: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any] | None:
    refs = [prop, *prop.get("anyOf", [])]
    for option in refs:
        if "$ref" in option:
            found: dict[str, Any] = defs[option["$ref"].rsplit("/", 1)[1]]
            return found
    return None


def _type(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" for v in prop["enum"])
    if "anyOf" in prop:
        return " or ".join(_type(option, defs) for option in prop["anyOf"])
    if "$ref" in prop:
        return "section"
    kind = str(prop.get("type", "any"))
    if kind == "array":
        return f"list of {_type(prop.get('items', {}), defs)}"
    if kind == "object":
        return "mapping"
    bounds = [
        f"{sym} {prop[key]}"
        for key, sym in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="))
        if key in prop
    ]
    return kind + (f" ({', '.join(bounds)})" if bounds else "")


def _default(prop: dict[str, Any], name: str, parent: dict[str, Any]) -> str:
    if name in parent.get("required", []):
        return "required"
    if "default" not in prop:
        return "see section" if "$ref" in prop else "empty"
    return f"`{json.dumps(prop['default'])}`"


def _text(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")

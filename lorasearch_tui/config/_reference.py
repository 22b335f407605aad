"""The config reference of the README, made from the schema: one row per key with its type,
default and description (`lorasearch schema --markdown` prints it; a test fails when the README's
copy differs, so the two cannot drift apart)."""

from __future__ import annotations

import json
from typing import Any

START = "<!-- config reference: made by `lorasearch schema --markdown`, do not edit by hand -->"
END = "<!-- end of config reference -->"


def reference_markdown() -> str:
    """The table, between its two marker lines."""
    from ._load import config_schema

    schema = config_schema()
    rows = ["| key | type | default | what it is |", "|---|---|---|---|"]
    for key, spec in schema["properties"].items():
        if "default" in spec:
            default = _code(spec["default"])
        else:  # made by a factory: an empty space, an objective of its own defaults
            factory = {"search_space": "`{}`", "enqueue": "`[]`"}
            default = factory.get(key, "see `objective.*` below")
        what = _cell(spec.get("description", ""))
        rows.append(f"| `{key}` | {_type(spec, schema)} | {default} | {what} |")
    for name in ("Objective", "Normalize"):
        model = schema["$defs"][name]
        prefix = "objective." if name == "Objective" else "objective.normalize."
        for key, spec in model["properties"].items():
            if name == "Objective" and key == "normalize":
                continue
            default = _code(spec["default"]) if "default" in spec else "(required)"
            what = _cell(spec.get("description", ""))
            rows.append(f"| `{prefix}{key}` | {_type(spec, schema)} | {default} | {what} |")
    return "\n".join([START, *rows, END])


def _type(spec: dict[str, Any], schema: dict[str, Any]) -> str:
    if "$ref" in spec:
        return spec["$ref"].rsplit("/", 1)[-1].lower()
    if "enum" in spec:
        return " \\| ".join(f"`{v}`" for v in spec["enum"])
    if "const" in spec:
        return f"`{spec['const']}`"
    if "oneOf" in spec:  # a block chosen by its `type` (the pruner)
        kinds = spec.get("discriminator", {}).get("mapping", {})
        return "object, `type` " + " \\| ".join(f"`{k}`" for k in kinds) if kinds else "object"
    if "anyOf" in spec:
        return " or ".join(_type(s, schema) for s in spec["anyOf"])
    kind = spec.get("type", "any")
    if kind == "array":
        return f"list of {_type(spec.get('items', {}), schema)}"
    if kind == "object":
        values = spec.get("additionalProperties")
        if values is True or values == {}:  # any JSON values by name: a parameter set
            return "parameter sets"
        return "search-space entries" if values is not None else "object"
    return {
        "number": "number",
        "integer": "integer",
        "string": "text",
        "boolean": "true/false",
        "null": "null",
    }[kind]


def _code(value: Any) -> str:
    return "none" if value is None else f"`{json.dumps(value, ensure_ascii=False)}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")

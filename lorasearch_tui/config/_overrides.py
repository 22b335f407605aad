"""`--set KEY=VALUE`: any fixed key or search-space field, changed from the command line.

`--set lora_r=32 --set search_space.learning_rate.high=1e-3 --set objective.metric=cer`. The
value is read as JSON when it is JSON (`32`, `1e-3`, `true`, `[4, 8]`, `null`) and as text
otherwise; a text field keeps what was typed (`--set instruction=123` is the text "123").
Whatever the value, it then goes through the same checks as the file, so a wrong one gets the
same one line.
"""

from __future__ import annotations

import json
import typing
from typing import Any

from ..errors import UserError
from ._params import TrainParams


def apply_sets(raw: dict[str, Any], sets: list[str]) -> dict[str, Any]:
    """`raw` with every `KEY=VALUE` of `sets` put in (a copy; nested dicts made as needed)."""
    out = json.loads(json.dumps(raw))  # a deep copy of plain JSON data
    for item in sets:
        key, sep, text = item.partition("=")
        path = key.strip().split(".")
        if not sep or not all(path):
            raise UserError(
                f"--set: {item!r} is not KEY=VALUE; e.g. --set lora_r=32 or --set search_space.lora_r.high=64"
            )
        target = out
        for part in path[:-1]:
            child = target.setdefault(part, {})
            if not isinstance(child, dict):
                raise UserError(f"--set {key}: {part} is not a block of keys in the config")
            target = child
        target[path[-1]] = _typed(path, text)
    return out


def _typed(path: list[str], text: str) -> Any:
    try:
        value = json.loads(text)
    except ValueError:
        return text
    kind = _annotation(path)
    if kind is str or (typing.get_origin(kind) is typing.Literal and not isinstance(value, str)):
        return text  # a text field keeps what was typed
    return value


def _annotation(path: list[str]) -> Any:
    """The type of the field a path names: a fixed key (nested too), or a search-space bound."""
    if path[0] == "search_space":
        return str if path[-1] == "type" else Any
    model: Any = TrainParams
    annotation: Any = Any
    for part in path:
        fields = getattr(model, "model_fields", {})
        if part not in fields:
            return Any
        annotation = fields[part].annotation
        model = next(
            (a for a in (annotation, *typing.get_args(annotation)) if hasattr(a, "model_fields")), None
        )
    return annotation

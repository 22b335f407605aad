"""Read a config file once, check all of it, and hand back one frozen `SearchConfig`.

Every problem becomes a `UserError` whose one line starts with the file and the JSON path of
the culprit (`search_space.learning_rate.low`) and says what to do, with the nearest valid
name when a key is misspelt.
"""

from __future__ import annotations

import difflib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import UserError
from ..hub import is_hub_dataset_id, is_hub_id
from ..jsonfile import loads, read_text
from ._enqueue import check_sets
from ._objective import check_objectives
from ._overrides import apply_sets
from ._params import PARAM_NAMES, TrainParams
from ._pruner import PRUNER_KINDS, PrunerBlock, _Pruner
from ._shape import check_shape, resolved
from ._space import (
    DIST_TYPES,
    KINDS,
    Distribution,
    LogUniform,
    MultipleOf,
    _Dist,
    grid_size,
)


class ConfigFile(TrainParams):
    """The whole file: the fixed parameters plus `search_space` (and an editor's `$schema`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)

    search_space: dict[str, Distribution] = Field(
        default_factory=dict,
        description="Parameters to search, each with its distribution; they take no fixed value.",
    )
    trial_timeout: float | None = Field(
        None,
        gt=0,
        description="Seconds a search trial may take (its model load apart); a longer one is stopped "
        "and recorded FAIL 'timed out'. None: no limit. --trial-timeout overrides it.",
    )
    enqueue: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Known parameter sets to run before the sampler proposes anything, each an object "
        "of searched parameters and values inside their search_space entries (the others are drawn).",
    )
    pruner: PrunerBlock | None = Field(
        None,
        description='Which pruner stops unpromising trials, with its options: {"type": "percentile", '
        '"percentile": 25}; types median, percentile, hyperband, successive_halving, patient, threshold, '
        "wilcoxon, none. --pruner NAME picks one with its defaults. Default: median.",
    )
    schema_ref: str | None = Field(
        None, alias="$schema", description="Path or URL of this schema, for editors; ignored."
    )


# The file's keys that are not training parameters (the field names, `$schema` as schema_ref).
SEARCH_KEYS = ("search_space", "trial_timeout", "enqueue", "pruner", "schema_ref")


@dataclass(frozen=True)
class SearchConfig:
    """A validated config: fixed parameters, the searched ones, and where it came from."""

    params: TrainParams
    space: dict[str, _Dist] = field(default_factory=dict)
    source: str = "<defaults>"
    explicit: frozenset[str] = frozenset()  # fixed keys the file set, for display
    trial_timeout: float | None = None  # a search setting, stored with the config
    enqueue: tuple[dict[str, Any], ...] = ()  # known sets the study runs first
    pruner: _Pruner | None = None  # the config's pruner block (--pruner may pick another)

    def with_values(self, values: dict[str, Any]) -> TrainParams:
        """The parameters of one trial: the fixed ones with the drawn `values` put in, as they
        resolve (`lora_alpha` drawn as a multiple of `lora_r`: the product)."""
        return TrainParams.model_validate(self.resolve(values))

    def resolve(self, values: dict[str, Any]) -> dict[str, Any]:
        """Every parameter of a trial that drew `values`, as it trains (a plain dict)."""
        return resolved(self.space, self.params.model_dump(), values)

    def derived(self, values: dict[str, Any]) -> dict[str, Any]:
        """The drawn values that a trial trains with in another form (a multiple: the product),
        by name: what the tables show instead of the factor the study stores."""
        out = self.resolve(values)
        return {k: out[k] for k in values if k in self.space and out[k] != values[k]}

    def grid_size(self) -> int | None:
        """Combinations of a grid over the space, None if some range is continuous."""
        return grid_size(self.space) if self.space else None

    def to_dict(self) -> dict[str, Any]:
        """The config as a file would hold it (fixed values plus `search_space`)."""
        data: dict[str, Any] = self.params.model_dump()
        for name in self.space:
            data.pop(name, None)
        if self.space:
            # an entry without a condition is stored as before `when` existed: a study made
            # then still matches its config on --resume --config
            data["search_space"] = {
                k: v.model_dump(exclude={"when"} if v.when is None else None) for k, v in self.space.items()
            }
        if self.trial_timeout is not None:
            data["trial_timeout"] = self.trial_timeout
        if self.enqueue:
            data["enqueue"] = [dict(values) for values in self.enqueue]
        if self.pruner is not None:
            data["pruner"] = self.pruner.model_dump()
        return data


def config_schema() -> dict[str, Any]:
    """The JSON Schema of the config file, for editors (`lorasearch schema`)."""
    return ConfigFile.model_json_schema(by_alias=True)


def load_config(
    path: str | Path | None,
    overrides: dict[str, Any] | None = None,
    sets: list[str] | None = None,
    base: dict[str, Any] | None = None,
) -> SearchConfig:
    """Read and validate a config file (JSON, or YAML by its suffix); `overrides` replace fixed
    keys (the CLI's named flags), `sets` any key (`--set KEY=VALUE`).

    With `path` None, `base` (default: nothing, i.e. the defaults) is the config.

    Raises:
        UserError: one line naming the file and the path of the first problem.
    """
    label = str(path) if path is not None else "<defaults>"
    raw: dict[str, Any] = dict(base or {}) if path is None else _read_object(Path(path))
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    if sets:
        raw = apply_sets(raw, sets)
        label += " with --set"
    return parse_config(raw, label)


def _check_downloads(label: str, name: str, dist: Any) -> None:
    """What is downloaded is downloaded once, before the study, for the fixed config: a Hub id or
    a revision that changes per trial would send a trial to the network (which it never uses)."""
    if name in ("model_revision", "data_revision", "data_config"):
        raise UserError(
            f"{label}: search_space.{name}: cannot be searched: the study stores the one commit it "
            f"downloads; set it fixed"
        )
    if name in ("model_name", "input_data"):
        is_hub = is_hub_id if name == "model_name" else is_hub_dataset_id
        hub = [c for c in getattr(dist, "choices", []) if isinstance(c, str) and is_hub(c)]
        if hub:
            raise UserError(
                f"{label}: search_space.{name}: '{hub[0]}' is a Hub id, downloaded only when {name} is "
                f"fixed; search local folders, or run one search per Hub id"
            )


_MEASURED = "what a search measures cannot be searched"
_HELD_OUT = "the held-out test records are never seen by a search, so they cannot be searched"
_NOT_SEARCHED = {  # parameters that are no hyperparameters, and why
    "objective": _MEASURED,
    "objectives": _MEASURED,
    "test_data": _HELD_OUT,
    "test_split": _HELD_OUT,
    # a worker hides wandb from TRL unless its first trial reports to it (worker/_loop.py)
    "report_to": "where trials are logged is not a hyperparameter (a worker prepares for it once)",
}


def parse_config(raw: dict[str, Any], label: str) -> SearchConfig:
    """Validate an already-read config dict (a file's, or one stored in a study)."""
    try:
        parsed = ConfigFile.model_validate(raw)
    except ValidationError as exc:
        raise UserError(f"{label}: {_first_error(exc, raw)}") from None

    space = dict(parsed.search_space)
    for name, dist in space.items():
        if name in _NOT_SEARCHED:
            raise UserError(f"{label}: search_space.{name}: {_NOT_SEARCHED[name]}; set it fixed")
        if name not in PARAM_NAMES:
            raise UserError(
                f"{label}: search_space.{name}: not a parameter{_did_you_mean(name, PARAM_NAMES)}"
            )
        _check_downloads(label, name, dist)
        if name in raw:
            raise UserError(
                f"{label}: {name}: set both as a fixed value and in search_space; keep one of the two"
            )
        _check_candidates(label, name, dist)
    wrong = check_shape(space, PARAM_NAMES)
    if wrong:
        raise UserError(f"{label}: {wrong}")

    fixed = parsed.model_dump(exclude=set(SEARCH_KEYS))
    if "objective" not in raw and raw.get("objectives"):
        del fixed["objective"]  # it is objectives[0]
    params = TrainParams.model_validate(fixed)
    for name, dist in space.items():
        if isinstance(dist, MultipleOf):
            _check_products(label, name, dist, space, fixed)
    wrong = check_objectives(params.objective, params.objectives, "objective" in raw)
    if wrong:
        raise UserError(f"{label}: {wrong}")
    explicit = frozenset(k for k in raw if k in PARAM_NAMES)
    return SearchConfig(
        params=params,
        space=space,
        source=label,
        explicit=explicit,
        trial_timeout=parsed.trial_timeout,
        enqueue=check_sets(parsed.enqueue, space, f"{label}: enqueue"),
        pruner=parsed.pruner,
    )


YAML_SUFFIXES = (".yaml", ".yml")


def read_document(path: Path, what: str) -> Any:
    """A JSON file, or YAML by its suffix, as Python values (UserError: one line)."""
    text = read_text(path, what)
    if not text.strip():
        raise UserError(f"{path}: the file is empty; write a JSON object (see `lorasearch schema`)")
    return _yaml(text, path) if path.suffix.lower() in YAML_SUFFIXES else loads(text, path)


def _read_object(path: Path) -> dict[str, Any]:
    data = read_document(path, "config file")
    if not isinstance(data, dict):
        raise UserError(f"{path}: the top level must be a JSON object, not {type(data).__name__}")
    return data


def _yaml(text: str, path: Path) -> Any:
    """A YAML config: the same schema; a syntax error named by its line and column."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise UserError(f"{path}: invalid YAML{where}: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: invalid YAML: {exc}") from None


def _check_candidates(label: str, name: str, dist: _Dist) -> None:
    """Each bound or choice of a searched parameter must be a valid value of that parameter."""
    annotation = TrainParams.model_fields[name].annotation
    for key, value in dist.candidate_values().items():
        if annotation is int and isinstance(value, float):
            raise UserError(
                f"{label}: search_space.{name}.{key}: {name} takes whole numbers; "
                f"use an 'int' or 'categorical' entry"
            )
        try:
            TrainParams.model_validate({name: value})
        except ValidationError as exc:
            msg = _plain(exc.errors()[0]["msg"])
            raise UserError(f"{label}: search_space.{name}.{key}: {msg} (got {value!r})") from None


def _check_products(
    label: str, name: str, dist: MultipleOf, space: dict[str, _Dist], fixed: dict[str, Any]
) -> None:
    """Each factor times each value of what it multiplies must be a valid value of `name`."""
    bases = space[dist.of].grid_values() if dist.of in space else [fixed[dist.of]]
    for base in bases or []:
        if isinstance(base, bool) or not isinstance(base, int | float):
            raise UserError(
                f"{label}: search_space.{name}.of: {dist.of} takes {base!r}, not a number to multiply"
            )
        for i, factor in enumerate(dist.choices):
            value = dist.resolve(factor, {dist.of: base})
            try:
                TrainParams.model_validate({name: value})
            except ValidationError as exc:
                msg = _plain(exc.errors()[0]["msg"])
                raise UserError(
                    f"{label}: search_space.{name}.choices[{i}]: {factor} x {dist.of} {base} = {value}: {msg}"
                ) from None


def _first_error(exc: ValidationError, raw: dict[str, Any]) -> str:
    err = exc.errors()[0]
    loc = list(err["loc"])
    # A discriminated union puts the chosen tag in the path: search_space.lr.loguniform.low.
    if len(loc) > 2 and loc[0] == "search_space" and loc[2] in DIST_TYPES:
        del loc[2]
    if loc[:1] == ["pruner"]:  # the same at each level of a pruner: pruner.patient.wraps.median.x
        loc = [
            p
            for i, p in enumerate(loc)
            if not (i and loc[i - 1] in ("pruner", "wraps") and p in PRUNER_KINDS)
        ]
    kinds = ", ".join(DIST_TYPES)
    if loc[:1] == ["pruner"]:
        kinds = ", ".join(k for k in PRUNER_KINDS if "wraps" not in loc or k not in ("patient", "none"))
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "(top level)"
    loc = [str(p) for p in loc]
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"{path}: unknown key{_did_you_mean(loc[-1], _valid_keys(loc, raw))}"
    if kind == "union_tag_invalid":
        return f"{path}.type: unknown type {err['input'].get('type')!r}; use one of {kinds}"
    if kind == "union_tag_not_found":
        return f"{path}: missing 'type'; use one of {kinds}"
    if kind == "missing":
        return f"{path}: missing; add this key"
    msg = _plain(err["msg"])
    if kind == "literal_error" and loc[0] in PARAM_NAMES:
        choices = typing.get_args(_field(loc).annotation) if _field(loc) else ()
        msg += _did_you_mean(str(err["input"]), [str(c) for c in choices])
    if "input" in err and not isinstance(err["input"], dict | list):
        msg += f" (got {err['input']!r})"
    return f"{path}: {msg}"


def _plain(msg: str) -> str:
    """pydantic's wording, turned to the imperative the rest of our messages use."""
    msg = msg.removeprefix("Value error, ")
    return msg.replace("Input should be", "must be").replace("List should have", "must have")


def _field(loc: list[str]) -> Any:
    """The pydantic field at a path of nested fixed parameters (`objective.metric`), or None."""
    model: Any = TrainParams
    found = None
    for part in loc:
        if part.isdigit():  # an item of a list (objectives[1]): its model is the list's
            continue
        fields = getattr(model, "model_fields", {})
        if part not in fields:
            return None
        found = fields[part]
        model = _model_in(found.annotation)
    return found


def _model_in(annotation: Any) -> Any:
    """The pydantic model inside `list[M] | None` (or the annotation itself)."""
    for arg in typing.get_args(annotation):
        inner = _model_in(arg)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return inner
    return annotation


def _valid_keys(loc: list[str], raw: dict[str, Any]) -> list[str]:
    """The keys allowed where an unknown key stood, to suggest the nearest one."""
    if len(loc) == 1:
        return [*PARAM_NAMES, "search_space", "trial_timeout", "enqueue", "pruner", "$schema"]
    if loc[0] in PARAM_NAMES:  # a nested block: objective.normalize.x
        parent = _field(loc[:-1])
        return list(getattr(_model_in(parent.annotation), "model_fields", {})) if parent else []
    if loc[0] == "search_space" and len(loc) == 3:
        entry = raw.get("search_space", {}).get(loc[1], {})
        model: type[BaseModel] = KINDS.get(entry.get("type"), LogUniform)
        return list(model.model_fields)
    if loc[0] == "pruner":  # pruner.x, or pruner.wraps.x: the fields of the kind its type names
        block = raw.get("pruner", {})
        block = block.get("wraps", {}) if "wraps" in loc[1:-1] and isinstance(block, dict) else block
        kind = PRUNER_KINDS.get(block.get("type")) if isinstance(block, dict) else None
        return list(kind.model_fields) if kind is not None else []
    return []


def _did_you_mean(name: str, candidates: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""

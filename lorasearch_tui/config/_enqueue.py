"""Known parameter sets a search runs first: the config's `enqueue` list and `--enqueue FILE`.

A user who fine-tuned before knows a good learning rate and rank: those sets run before the
sampler proposes anything. Each is checked against the search space here, before anything is
written, and one line names the set and the key that does not fit. A set may leave searched
parameters out (the sampler draws them); it may not name one that is not searched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import UserError
from ._params import PARAM_NAMES
from ._space import _Dist

_CONFIG_KEYS = {*PARAM_NAMES, "trial_timeout", "enqueue", "pruner", "$schema"}  # what a best config may hold

BEST_PARAMS_KEY = "best_params"  # what a study's `{study}_best_params.json` holds the set under


def check_sets(sets: Any, space: dict[str, _Dist], label: str) -> tuple[dict[str, Any], ...]:
    """The sets, each a mapping of searched parameters to values the space can draw.

    Raises:
        UserError: `label[i].key: why` for the first set or value that does not fit.
    """
    if not isinstance(sets, list):
        raise UserError(f'{label}: a list of parameter sets, like [{{"learning_rate": 0.0002}}]')
    checked = []
    for i, values in enumerate(sets):
        where = f"{label}[{i}]"
        if not isinstance(values, dict) or not values:
            raise UserError(f"{where}: a parameter set is an object of searched parameters and values")
        for key, value in values.items():
            if key not in space:
                raise UserError(f"{where}.{key}: not searched here (searched: {_searched(space)})")
            why = space[key].refuses(value)
            if why is not None:
                raise UserError(f"{where}.{key}: {why} of {space[key].describe()}")
            unmet = [k for k, v in (space[key].when or {}).items() if k in values and values[k] != v]
            if unmet:
                raise UserError(
                    f"{where}.{key}: searched only{space[key].condition()}, which this set does not "
                    f"meet ({unmet[0]}: {values[unmet[0]]!r}); drop {key} from it"
                )
        checked.append({key: space[key].as_drawn(value) for key, value in values.items()})
    return tuple(checked)


def read_sets(path: Path, space: dict[str, _Dist]) -> tuple[dict[str, Any], ...]:
    """The sets of an `--enqueue` file: a list of sets (JSON or YAML), one set, or an earlier
    study's best-params or best-config file (of which only this space's parameters are taken).

    Raises:
        UserError: the file cannot be read, or a set does not fit (named as `FILE[i].key`).
    """
    from ._load import read_document

    data = read_document(path, "--enqueue file")
    label = f"--enqueue {path}"
    if isinstance(data, dict) and "search_space" in data:
        raise UserError(
            f"{label}: a search config, not known values; give a list of parameter sets, or an "
            "earlier study's best_params or best_config file"
        )
    if isinstance(data, dict) and isinstance(data.get(BEST_PARAMS_KEY), dict):
        data = [_ours(data[BEST_PARAMS_KEY], space, label)]  # {study}_best_params.json
    elif isinstance(data, dict) and set(data) - set(space) and set(data) <= _CONFIG_KEYS:
        data = [_as_drawn(_ours(data, space, label), data, space)]  # a best config: as it trained
    elif isinstance(data, dict):
        data = [data]  # one set: a key that is no searched parameter is refused, typos included
    return check_sets(data, space, label)


def _ours(values: dict[str, Any], space: dict[str, _Dist], label: str) -> dict[str, Any]:
    """An earlier study's values of the parameters this search searches."""
    ours = {k: v for k, v in values.items() if k in space}
    if not ours:
        raise UserError(
            f"{label}: none of its values are of parameters searched here (searched: {_searched(space)})"
        )
    return ours


def _as_drawn(values: dict[str, Any], config: dict[str, Any], space: dict[str, _Dist]) -> dict[str, Any]:
    """A best config's values as a trial would draw them: a multiple's product back to its
    factor (`lora_alpha` 32 with `lora_r` 16: 2), and no value where the entry's condition is
    not met (the config holds the fixed value there, which was never drawn)."""
    return {k: space[k].unresolve(v, config) for k, v in values.items() if space[k].applies(config)}


def _searched(space: dict[str, _Dist]) -> str:
    return ", ".join(space) or "nothing: the config has no search_space"

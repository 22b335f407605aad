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
from ._space import _Dist

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
                searched = ", ".join(space) or "nothing: the config has no search_space"
                raise UserError(f"{where}.{key}: not searched here (searched: {searched})")
            why = space[key].refuses(value)
            if why is not None:
                raise UserError(f"{where}.{key}: {why} of {space[key].describe()}")
        checked.append(dict(values))
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
        data = [data[BEST_PARAMS_KEY]]  # {study}_best_params.json
    elif isinstance(data, dict) and "search_space" not in data and set(data) - set(space):
        data = [{k: v for k, v in data.items() if k in space}]  # a best config: its fixed values
    elif isinstance(data, dict):
        data = [data]
    return check_sets(data, space, label)

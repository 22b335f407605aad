"""The search space in Optuna's terms: what `study.ask` draws from, and what Optuna checks a
trial added as measured against (`--warm-start-from`).

Here rather than in `config/`: the config never imports Optuna, so that the front ends, which
read a config, never reach it.
"""

from __future__ import annotations

from typing import Any

from ..config._space import _Dist


def to_distributions(space: dict[str, _Dist]) -> dict[str, Any]:
    """Optuna distributions of the space's entries, each in the form its kind gives."""
    import optuna.distributions

    return {
        name: getattr(optuna.distributions, kind)(**args)
        for name, (kind, args) in ((name, dist.optuna_form()) for name, dist in space.items())
    }

"""How a study searches: the settings it stores so a resume keeps them, and what they imply.

The sizes here (TPE's random start-up, NSGA-II's generation) are the search's policy, but the
study records them in words for whoever reads it (`watch`, `show`, another tool), so they live
beside the settings; `search/_samplers.py` builds Optuna's objects from the same functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SearchSettings:
    """How a study searches; stored in it so a resume keeps them."""

    mode: str
    pruner: str
    n_trials: int
    trial_timeout: float | None = None  # kept in the stored config; here for the CLI's flag

    def to_dict(self) -> dict[str, Any]:
        # the sampler's description too: for a person (or another tool) reading the study
        sampler = describe_sampler(self.mode, self.n_trials)
        return {"mode": self.mode, "pruner": self.pruner, "n_trials": self.n_trials, "sampler": sampler}


def tpe_startup(n_trials: int) -> int:
    """Random trials before TPE models the space: a quarter of the budget, 3 to 10.

    TPE needs a few points to split into good and bad before its model means anything; past
    10 Optuna's own default holds. A quarter leaves 3 of 4 trials to the model in any search
    (8 trials: 3 random, then 5 guided); see `bench/search_quality.py` for what it buys.
    """
    return max(3, min(10, round(n_trials / 4)))


def nsga2_population(n_trials: int) -> int:
    """NSGA-II's generation size: a third of the budget, 4 to 50.

    Optuna's default of 50 would keep a search of 12-40 trials in its random first generation
    for good; a third gives every search at least 3 generations to select and cross over.
    """
    return max(4, min(50, round(n_trials / 3)))


def describe_sampler(mode: str, n_trials: int) -> str:
    """What the sampler is, for the study's settings and the header."""
    if mode == "bayesian":
        return f"TPE multivariate, {tpe_startup(n_trials)} random first"
    if mode == "gp":
        return f"Gaussian process, {tpe_startup(n_trials)} random first"
    if mode == "nsga2":
        return f"NSGA-II, generations of {nsga2_population(n_trials)}"
    return {"random": "random", "grid": "grid"}.get(mode, mode)

"""Which parameters mattered: Optuna's importances over the study's finished trials.

Computed by the engine after each trial (the `i` screen of the terminal UI shows them live)
and by `lorasearch show`/`report` on a finished study.

Optuna 5's default evaluator, PED-ANOVA, needs no extra package and works from a handful of
trials; below `MIN_TRIALS` COMPLETE trials it says nothing useful, so callers get a reason
instead of numbers.
"""

from __future__ import annotations

import warnings
from typing import Any

from ..events import ParamImportances
from ._study import measured_here

MIN_TRIALS = 3  # COMPLETE trials with every searched parameter


def importances(study: Any, params: list[str] | None = None) -> ParamImportances:
    """The parameter importances of the study so far (or why there are none yet)."""
    import optuna
    from optuna.importance import PedAnovaImportanceEvaluator

    complete = measured_here(study)  # imported trials were measured on other data: not here
    if len(complete) != len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))):
        own = optuna.create_study(directions=study.directions)  # in memory, this study's own
        own.add_trials(complete)
        study = own
    name = "PED-ANOVA (optuna.importance.PedAnovaImportanceEvaluator)"
    if len(complete) < MIN_TRIALS:
        return ParamImportances(
            {}, name, len(complete), f"needs {MIN_TRIALS} complete trials, the study has {len(complete)}"
        )
    try:
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always", UserWarning)
            # several objectives: importances for the first one (the one every eval reports);
            # Optuna takes a target then, and reads it as one to minimize
            several = len(study.directions) > 1
            sign = -1.0 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else 1.0
            values = optuna.importance.get_param_importances(
                study,
                evaluator=PedAnovaImportanceEvaluator(),
                params=params,
                target=(lambda t: sign * t.values[0]) if several else None,
            )
    except (ValueError, RuntimeError) as exc:  # e.g. a parameter no trial varied
        return ParamImportances({}, name, len(complete), str(exc).splitlines()[0])
    if any("select the same set of trials" in str(w.message) for w in said):
        # PED-ANOVA's good and all trials are the same few: it would call every parameter
        # equally important, which is no answer
        why = f"{len(complete)} complete trials are too few to tell the parameters apart yet"
        return ParamImportances({}, name, len(complete), why)
    ordered = dict(sorted(values.items(), key=lambda kv: kv[1], reverse=True))
    return ParamImportances(ordered, name, len(complete))

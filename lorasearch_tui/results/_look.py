"""A study as the results commands, the report page and the home screen look at it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..config import SearchConfig
from ..errors import UserError
from ..events import ParamImportances, TrialOutcome
from ..store import EVALUATION_ATTR, default_storage, importances, mask_password, open_existing, pareto_trials
from ._doubt import Doubt, search_doubt
from ._open import stored_config
from ._rows import trial_rows
from ._studies import StudySummary, summarize


@dataclass(frozen=True)
class StudyLook:
    """One read of a study: the Optuna study, its stored config, its rows, the searched
    parameter names, its summary and its importances."""

    study: Any
    config: SearchConfig
    rows: list[TrialOutcome]
    names: list[str]
    summary: StudySummary
    importances: ParamImportances
    pareto: frozenset[int]  # several objectives: the trials on the Pareto front (else empty)
    # what `lorasearch evaluate` measured, {split: summary} (see `events.evaluation_rows`)
    evaluation: dict[str, Any] = field(default_factory=dict)
    # the best trial's interval and the trials its evals cannot tell from it (generated metrics)
    doubt: Doubt | None = None


def look(study_name: str, storage: str | None) -> StudyLook:
    """Read a study to look at it (never writing to it).

    Raises:
        UserError: no such study or storage, a study lorasearch did not make, or no trials yet.
    """
    study = open_existing(study_name, storage)
    config = stored_config(study)
    rows = trial_rows(study, config.params.goals[0].metric)
    if not rows:
        raise UserError(f"study '{study_name}' has no trials yet")
    names = list(config.space)
    summary = summarize(study, mask_password(storage or default_storage(study_name)))
    front = frozenset(t.number for t in pareto_trials(study))
    evaluation = dict(study.user_attrs.get(EVALUATION_ATTR, {}))
    goal = config.params.goals[0]
    doubt = search_doubt(rows, summary.best_number, goal.metric, goal.goal)
    return StudyLook(study, config, rows, names, summary, importances(study, names), front, evaluation, doubt)

"""A study's trials as rows: one `TrialOutcome` per trial, for `show`, `export`, the report.

Read from the study itself (its states, values, params and the user attributes the search
wrote), so a study searched on several hosts shows every trial, wherever its folder is.
Trials the study created but never ran (a runner found the target already met) are left out:
they are no trials of the study's.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..events import TrialOutcome
from ..store import LIVE_METRICS, SURPLUS_ATTR, outcome_of, read_metrics


def trial_rows(study: Any, metric: str = "eval_loss") -> list[TrialOutcome]:
    """Every trial the study ran, in number order."""
    trials = study.get_trials(deepcopy=False)
    return [outcome_of(t, metric) for t in trials if not t.user_attrs.get(SURPLUS_ATTR)]


def flat(
    row: TrialOutcome,
    names: list[str],
    objectives: tuple[str, ...] = (),
    pareto: frozenset[int] = frozenset(),
) -> dict[str, Any]:
    """The row for a CSV or JSON export: params (as trained) as `param_NAME` columns, then every field of the
    outcome; with several objectives, each one's value as `value_METRIC` and a `pareto` column."""
    data = asdict(row)
    data.pop("params"), data.pop("derived")
    params = row.shown  # as the trial trained with them (a multiple's product, not its factor)
    values = data.pop("values")
    several: dict[str, Any] = {}
    if len(objectives) > 1:
        several = {f"value_{m}": values[i] if values else None for i, m in enumerate(objectives)}
        several["pareto"] = row.number in pareto
    data["state"] = row.label
    return {
        "number": data.pop("number"),
        "state": data.pop("state"),
        "value": data.pop("value"),
        **several,
        **{f"param_{name}": params.get(name) for name in names},
        **data,
    }


def curves(row: TrialOutcome) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    """The train steps and evals of a trial, from its `metrics.jsonl` (empty when its folder
    is not on this host)."""
    if not row.trial_dir:
        return [], []
    _, train, evals = read_metrics(Path(row.trial_dir) / LIVE_METRICS)
    return train, evals

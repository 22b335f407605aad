"""What `lorasearch studies` lists: one summary per study of a storage (or of every SQLite file
in `optuna_studies/`), read-only."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..config import describe_pruner
from ..errors import RunFailure, UserError
from ..store import (
    RESULTS_DIR,
    SETTINGS_ATTR,
    best_trial,
    done_count,
    first_line,
    first_value,
    live_runners,
    mask_password,
    open_storage,
    pareto_trials,
    trial_counts,
)
from ._open import stored_config


@dataclass(frozen=True)
class StudySummary:
    name: str
    storage: str  # password masked
    mode: str
    pruner: str
    target: int
    counts: dict[str, int]  # complete, pruned, failed, interrupted, running
    best_number: int | None
    best_value: float | None
    last_activity: datetime | None
    runners: tuple[str, ...]  # the live runners: "pid 123 on host-a"
    metric: str = "eval_loss"  # what the values are
    direction: str = "minimize"
    objectives: tuple[str, ...] = ()  # several objectives: every metric, the first being `metric`
    pareto: tuple[int, ...] = ()  # and the trials on the Pareto front

    @property
    def done(self) -> int:
        return done_count(self.counts)

    @property
    def alive(self) -> bool:
        return bool(self.runners)

    def cells(self) -> dict[str, str]:
        """The study as a row of a studies table (`lorasearch studies`, the home screen), by column."""
        c = self.counts
        return {
            "study": self.name,
            "mode": f"{self.mode}/{self.pruner}",
            "done/target": f"{self.done}/{self.target}",
            "complete": str(c["complete"]),
            "pruned": str(c["pruned"]),
            "failed": str(c["failed"] + c["interrupted"]),
            "running": str(c["running"]),
            "best": f"{self.best_value:.4f} (#{self.best_number})" if self.best_value is not None else "-",
            "last activity": self.last_activity.strftime("%Y-%m-%d %H:%M") if self.last_activity else "-",
            "runner": ", ".join(self.runners) if self.alive else "stopped",
        }


def storages_here() -> list[str]:
    """The default storages: every `optuna_studies/*.db` under the current folder."""
    return [f"sqlite:///{path}" for path in sorted(RESULTS_DIR.glob("*.db")) if path.is_file()]


def list_studies(storages: list[str]) -> list[StudySummary]:
    """Every study of the storages, by name. A storage that cannot be read is a UserError."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    found = []
    for url in storages:
        label = mask_password(url)
        storage = open_storage(url, read_only=True)
        try:
            names = [s.study_name for s in storage.get_all_studies()]
        except (UserError, RunFailure):
            raise
        except Exception as exc:
            raise UserError(f"--storage: {label} holds no Optuna studies ({first_line(exc)})") from None
        for name in names:
            found.append(summarize(optuna.load_study(study_name=name, storage=storage), label))
    return sorted(found, key=lambda s: s.name)


def study_target(study: Any) -> int:
    """The study's size: its `--n-trials`, or a grid's number of points."""
    settings = study.user_attrs.get(SETTINGS_ATTR, {})
    if settings.get("mode") == "grid":
        try:
            return stored_config(study).grid_size()
        except UserError:
            return 0
    return int(settings.get("n_trials") or 0)


def summarize(study: Any, storage_label: str) -> StudySummary:
    settings = study.user_attrs.get(SETTINGS_ATTR, {})
    trials = study.get_trials(deepcopy=False)
    times = [t for trial in trials for t in (trial.datetime_start, trial.datetime_complete) if t]
    best = best_trial(study)
    runners = live_runners(study.user_attrs, time.time())
    try:
        config = stored_config(study)
        goals, block = config.params.goals, config.pruner
    except UserError:  # a study lorasearch did not make: its values are what they are
        goals, block = [], None
    objective = goals[0] if goals else None
    return StudySummary(
        name=study.study_name,
        storage=storage_label,
        mode=str(settings.get("mode", "?")),
        pruner=describe_pruner(str(settings.get("pruner", "?")), block),
        target=study_target(study),
        counts=trial_counts(study),
        best_number=best.number if best else None,
        best_value=first_value(best) if best else None,
        last_activity=max(times, default=None),
        runners=tuple(f"pid {r.get('pid')} on {r.get('host')}" for r in runners),
        metric=objective.metric if objective else "eval_loss",
        direction=objective.goal if objective else "minimize",
        objectives=tuple(g.metric for g in goals) if len(goals) > 1 else (),
        pareto=tuple(t.number for t in pareto_trials(study)),
    )

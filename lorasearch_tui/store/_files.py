"""The result files, rewritten after every trial so that nothing is lost when a process dies.

- `optuna_studies/{study}_best_params.json`: the best trial, its value and parameters, counts;
- `optuna_studies/{study}_best_config.json`: the fixed config with the best parameters put in
  and no `search_space`, so `lorasearch train --config` runs it as it is;
- several objectives: `best_trials` in the params file (the Pareto front, each with its values
  and adapter) and `optuna_studies/{study}_pareto_trial_{N}_config.json` per trial of the front
  (a trial that leaves the front loses its file); "best" is the best in the first objective;
- `{base_output_dir}/{study}/trial_{N}/trial_results.json`: one trial, whatever its state
  (`_outcomes.py`);
- `{base_output_dir}/{study}/trial_{N}/metrics.jsonl`: the trial's steps and evals as they come,
  so a watcher (or a person with `tail -f`) sees a running trial's curves.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..atomic import write_json
from ..config import SearchConfig
from ..errors import RunFailure
from ..events import SearchFinished
from ._outcomes import first_value
from ._study import RESULTS_DIR, best_trial, pareto_trials, trial_counts


def trial_dir(config: SearchConfig, study_name: str, number: int) -> Path:
    """`{base_output_dir}/{study}/trial_{N}`: a study folder keeps studies apart."""
    return Path(config.params.base_output_dir) / study_name / f"trial_{number}"


def best_files(study_name: str) -> tuple[Path, Path]:
    return RESULTS_DIR / f"{study_name}_best_params.json", RESULTS_DIR / f"{study_name}_best_config.json"


def report_file(study_name: str) -> Path:
    """`optuna_studies/{study}_report.html`, written by the CLI at the end of every search."""
    return RESULTS_DIR / f"{study_name}_report.html"


def pareto_config_file(study_name: str, number: int) -> Path:
    return RESULTS_DIR / f"{study_name}_pareto_trial_{number}_config.json"


_READ: Any = object()  # write_best_files reads the best trial itself


def write_best_files(study: Any, config: SearchConfig, best: Any = _READ) -> dict[str, int]:
    """Rewrite the best files from the study as it is now; `best`: its best trial (or None),
    when the caller has just read it. Returns the study's `trial_counts` they were written
    with (a search reads neither twice at every trial's end)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    params_file, config_file = best_files(study.study_name)
    if best is _READ:
        best = best_trial(study)
    counts = trial_counts(study)
    content: dict[str, Any] = {
        "study_name": study.study_name,
        "best_trial": best.number if best else None,
        "best_value": first_value(best) if best else None,
        "best_params": dict(best.params) if best else {},
        # where its adapter is (on the host that trained it) and the page that shows the study
        "best_trial_dir": best.user_attrs.get("trial_dir") if best else None,
        "adapter": _adapter(best) if best else None,
        "report": str(report_file(study.study_name)),
        "metric": config.params.objective.metric,
        "direction": config.params.objective.goal,
    }
    if config.params.multi:
        front = pareto_trials(study)
        content["objectives"] = [{"metric": g.metric, "direction": g.goal} for g in config.params.goals]
        content["best_trials"] = [
            {
                "number": t.number,
                "values": list(t.values),
                "params": dict(t.params),
                "adapter": _adapter(t),
                "config": str(pareto_config_file(study.study_name, t.number)),
            }
            for t in front
        ]
        _write_pareto_configs(study.study_name, config, front)
    content |= {
        "n_complete": counts["complete"],
        "n_pruned": counts["pruned"],
        "n_failed": counts["failed"] + counts["interrupted"],
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    write_json(params_file, content)
    if best is not None:
        write_json(config_file, config.with_values(dict(best.params)).model_dump())
    return counts


def _adapter(trial: Any) -> str | None:
    folder = trial.user_attrs.get("trial_dir")
    return str(Path(folder) / "adapter") if folder else None


def _write_pareto_configs(study_name: str, config: SearchConfig, front: list[Any]) -> None:
    """One trainable config per trial of the front; those of trials no longer on it go."""
    keep = {pareto_config_file(study_name, t.number) for t in front}
    for old in RESULTS_DIR.glob(f"{study_name}_pareto_trial_*_config.json"):
        if old not in keep:
            old.unlink(missing_ok=True)
    for trial in front:
        write_json(
            pareto_config_file(study_name, trial.number), config.with_values(dict(trial.params)).model_dump()
        )


def search_finished(study: Any, config: SearchConfig, reason: str, message: str | None) -> SearchFinished:
    """The best files written one last time, and the event that closes the search. A storage
    that fails now turns a search that ended well into `failed`, with its one line."""
    counts, best = {}, None
    try:
        write_best_files(study, config)
        counts, best = trial_counts(study), best_trial(study)
    except RunFailure as exc:
        if message is None:
            reason, message = "failed", str(exc)
    return SearchFinished(
        reason=reason,  # type: ignore[arg-type]  # the loop's: completed, stopped, timeout, ...
        counts=counts,
        best_number=best.number if best else None,
        best_value=first_value(best) if best else None,
        best_params={**best.params, **best.user_attrs.get("derived", {})} if best else {},  # as trained
        message=message,
    )

"""The result files, rewritten after every trial so that nothing is lost when a process dies.

- `optuna_studies/{study}_best_params.json`: the best trial, its value and parameters, counts;
- `optuna_studies/{study}_best_config.json`: the fixed config with the best parameters put in
  and no `search_space`, so `lorasearch train --config` runs it as it is;
- `{base_output_dir}/{study}/trial_{N}/trial_results.json`: one trial, whatever its state
  (`_trial_record.py`);
- `{base_output_dir}/{study}/trial_{N}/metrics.jsonl`: the trial's steps and evals as they come,
  so a watcher (or a person with `tail -f`) sees a running trial's curves.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..atomic import write_json
from ..config import SearchConfig
from ._study import RESULTS_DIR, best_trial, trial_counts


def trial_dir(config: SearchConfig, study_name: str, number: int) -> Path:
    """`{base_output_dir}/{study}/trial_{N}`: a study folder keeps studies apart."""
    return Path(config.params.base_output_dir) / study_name / f"trial_{number}"


def best_files(study_name: str) -> tuple[Path, Path]:
    return RESULTS_DIR / f"{study_name}_best_params.json", RESULTS_DIR / f"{study_name}_best_config.json"


def report_file(study_name: str) -> Path:
    """`optuna_studies/{study}_report.html`, written by the CLI at the end of every search."""
    return RESULTS_DIR / f"{study_name}_report.html"


def write_best_files(study: Any, config: SearchConfig) -> None:
    """Rewrite both best files from the study as it is now."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    params_file, config_file = best_files(study.study_name)
    best = best_trial(study)
    counts = trial_counts(study)
    write_json(
        params_file,
        {
            "study_name": study.study_name,
            "best_trial": best.number if best else None,
            "best_value": best.value if best else None,
            "best_params": dict(best.params) if best else {},
            # where its adapter is (on the host that trained it) and the page that shows the study
            "best_trial_dir": best.user_attrs.get("trial_dir") if best else None,
            "adapter": str(Path(best.user_attrs["trial_dir"]) / "adapter")
            if best and best.user_attrs.get("trial_dir")
            else None,
            "report": str(report_file(study.study_name)),
            "metric": config.params.objective.metric,
            "direction": config.params.objective.goal,
            "n_complete": counts["complete"],
            "n_pruned": counts["pruned"],
            "n_failed": counts["failed"] + counts["interrupted"],
            "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
    )
    if best is not None:
        write_json(config_file, config.with_values(dict(best.params)).model_dump())

"""The search engine: Optuna over reused trial workers, with pruning, failures, leases and resume.

Front ends give it a `Sink` for its events and a `SearchControls` for their requests; both,
and the events, live in `lorasearch_tui.events`, the only part of the engine front ends import.
"""

from ._importance import MIN_TRIALS, importances
from ._lease import LEASE_ATTR, live_runners
from ._preflight import FAULT_ENV_VAR
from ._results import best_files, pareto_config_file, report_file, trial_dir
from ._runner import DEFAULT_MAX_FAILURES, SearchOptions, SearchRunner
from ._samplers import MODES, PRUNERS
from ._storage import PATIENCE_ENV, first_line, mask_password, open_storage, sqlite_path
from ._study import (
    CONFIG_ATTR,
    RESULTS_DIR,
    SETTINGS_ATTR,
    SURPLUS_ATTR,
    best_trial,
    check_study_name,
    default_storage,
    done_count,
    open_existing,
    pareto_trials,
    study_exists,
    trial_counts,
)
from ._trial_clock import DEFAULT_STALL_S
from ._trial_record import (
    INTERRUPTED,
    LIVE_METRICS,
    OOM_CONSTRAINT,
    TRIAL_RESULTS,
    TrialRecord,
    first_value,
    read_metrics,
)
from ._worker_proc import WorkerDied, WorkerProcess

__all__ = [
    "MIN_TRIALS",
    "importances",
    "CONFIG_ATTR",
    "INTERRUPTED",
    "LIVE_METRICS",
    "LEASE_ATTR",
    "SETTINGS_ATTR",
    "SURPLUS_ATTR",
    "best_trial",
    "done_count",
    "first_line",
    "first_value",
    "pareto_trials",
    "live_runners",
    "open_existing",
    "open_storage",
    "read_metrics",
    "sqlite_path",
    "report_file",
    "study_exists",
    "trial_counts",
    "FAULT_ENV_VAR",
    "DEFAULT_MAX_FAILURES",
    "DEFAULT_STALL_S",
    "MODES",
    "OOM_CONSTRAINT",
    "PATIENCE_ENV",
    "PRUNERS",
    "RESULTS_DIR",
    "TRIAL_RESULTS",
    "SearchOptions",
    "SearchRunner",
    "TrialRecord",
    "WorkerDied",
    "WorkerProcess",
    "best_files",
    "pareto_config_file",
    "check_study_name",
    "default_storage",
    "mask_password",
    "trial_dir",
]

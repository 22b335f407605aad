"""The search engine: Optuna over reused trial workers, with pruning, failures, leases and resume.

Front ends give it a `Sink` for its events and a `SearchControls` for their requests; both,
and the events, live in `lorasearch_tui.events`, the only part of the engine front ends import.
"""

from ._preflight import FAULT_ENV_VAR
from ._results import best_files, trial_dir
from ._runner import DEFAULT_MAX_FAILURES, SearchOptions, SearchRunner
from ._samplers import MODES, PRUNERS
from ._storage import PATIENCE_ENV, mask_password
from ._study import RESULTS_DIR, check_study_name, default_storage
from ._trial_clock import DEFAULT_STALL_S
from ._trial_record import OOM_CONSTRAINT, TRIAL_RESULTS, TrialRecord
from ._worker_proc import WorkerDied, WorkerProcess

__all__ = [
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
    "check_study_name",
    "default_storage",
    "mask_password",
    "trial_dir",
]

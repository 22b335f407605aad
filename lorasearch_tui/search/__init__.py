"""The search engine: Optuna over a reused trial worker, with pruning, failures and resume.

Front ends give it a `Sink` for its events and a `SearchControls` for their requests.
"""

from ._controls import SearchControls
from ._events import (
    EvalLogged,
    Event,
    HardwareSampled,
    NullSink,
    SearchFinished,
    SearchStarted,
    Sink,
    StepLogged,
    TrialFinished,
    TrialStarted,
    WorkerStateChanged,
)
from ._results import TRIAL_RESULTS, best_files, trial_dir
from ._runner import OOM_CONSTRAINT, SearchOptions, SearchRunner
from ._samplers import MODES, PRUNERS
from ._study import RESULTS_DIR, default_storage, mask_password
from ._worker_proc import WorkerDied, WorkerProcess

__all__ = [
    "MODES",
    "OOM_CONSTRAINT",
    "PRUNERS",
    "RESULTS_DIR",
    "TRIAL_RESULTS",
    "EvalLogged",
    "Event",
    "HardwareSampled",
    "NullSink",
    "SearchControls",
    "SearchFinished",
    "SearchOptions",
    "SearchRunner",
    "SearchStarted",
    "Sink",
    "StepLogged",
    "TrialFinished",
    "TrialStarted",
    "WorkerDied",
    "WorkerProcess",
    "WorkerStateChanged",
    "best_files",
    "default_storage",
    "mask_password",
    "trial_dir",
]

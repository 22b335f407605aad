"""The store: what a search leaves in its Optuna storage and on disk, and how it is read back.

Opening a storage (with retries, the password masked), creating and resuming a study and what it
remembers (config, settings), the trial record and its files, leases of runners on a shared
study and the recovery of trials a dead runner left, parameter importances, and `StudyWatcher`,
which turns a study into the engine's events for `watch`. It never imports the search loop
(`search/`), so `results/`, `report/` and the results commands read a study without it
(an import contract in pyproject.toml checks both).
"""

from ._artifacts import (
    ARTIFACTS_ATTR,
    check_artifacts_url,
    fetch_adapter,
    open_artifacts,
    send_or_say,
    upload_results,
    upload_trial,
)
from ._distributions import to_distributions
from ._files import best_files, pareto_config_file, report_file, search_finished, trial_dir, write_best_files
from ._importance import MIN_TRIALS, importances
from ._lease import LEASE_ATTR, RUNNER_PREFIX, Leases, Runner, live_runners, lost_reason
from ._outcomes import (
    INTERRUPTED,
    LIVE_METRICS,
    METRIC,
    TRIAL_RESULTS,
    finished,
    first_value,
    outcome_of,
    read_metrics,
    read_regular_file,
    tell_or_keep,
    write_trial_results,
)
from ._proxy import serve_proxy
from ._recover import queue_rerun, recover
from ._settings import SearchSettings, describe_sampler, nsga2_population, tpe_startup
from ._storage import StorageUnavailable, first_line, mask_password, open_storage
from ._study import (
    CONFIG_ATTR,
    ENQUEUED_ATTR,
    EVALUATION_ATTR,
    FAULT_ATTR,
    IMPORTED_ATTR,
    RERUN_ATTR,
    RESULTS_DIR,
    RESUMED_ATTR,
    SETTINGS_ATTR,
    SURPLUS_ATTR,
    best_trial,
    check_study_name,
    default_storage,
    done_count,
    is_imported,
    measured_here,
    objective_facts,
    open_existing,
    open_study,
    pareto_trials,
    record_surplus,
    study_exists,
    surplus_reason,
    trial_counts,
)
from ._warm_start import WarmStart, add_imported, queue_known, read_warm_start
from ._watch import StudyWatcher

__all__ = [
    "ARTIFACTS_ATTR",
    "check_artifacts_url",
    "fetch_adapter",
    "open_artifacts",
    "send_or_say",
    "upload_results",
    "upload_trial",
    "best_files",
    "best_trial",
    "check_study_name",
    "CONFIG_ATTR",
    "EVALUATION_ATTR",
    "default_storage",
    "describe_sampler",
    "done_count",
    "ENQUEUED_ATTR",
    "FAULT_ATTR",
    "finished",
    "first_line",
    "first_value",
    "importances",
    "IMPORTED_ATTR",
    "is_imported",
    "measured_here",
    "add_imported",
    "queue_known",
    "read_warm_start",
    "WarmStart",
    "to_distributions",
    "INTERRUPTED",
    "LEASE_ATTR",
    "Leases",
    "LIVE_METRICS",
    "live_runners",
    "lost_reason",
    "mask_password",
    "METRIC",
    "MIN_TRIALS",
    "nsga2_population",
    "objective_facts",
    "open_existing",
    "outcome_of",
    "open_storage",
    "open_study",
    "pareto_config_file",
    "pareto_trials",
    "read_metrics",
    "read_regular_file",
    "record_surplus",
    "queue_rerun",
    "serve_proxy",
    "recover",
    "report_file",
    "RERUN_ATTR",
    "RESULTS_DIR",
    "RESUMED_ATTR",
    "Runner",
    "RUNNER_PREFIX",
    "SearchSettings",
    "SETTINGS_ATTR",
    "search_finished",
    "StorageUnavailable",
    "study_exists",
    "StudyWatcher",
    "SURPLUS_ATTR",
    "surplus_reason",
    "tpe_startup",
    "trial_counts",
    "trial_dir",
    "TRIAL_RESULTS",
    "tell_or_keep",
    "write_trial_results",
    "write_best_files",
]

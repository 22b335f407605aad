"""The events of a search: typed, frozen records, one per thing that happened.

One format for one fact. The worker sends its steps and evals up the pipe as `StepLogged` and
`EvalLogged`; the engine writes the same records (with the pruner's decision) to the trial's
`metrics.jsonl`; `lorasearch watch` reads them back and emits them unchanged; the front ends
render them. Each record is a pydantic dataclass: built positionally like any dataclass, checked
on construction (a NaN loss or a negative step is refused, not shown), and tagged by `event`
so that one decoder (`_codec.py`) reads any of them from a line of JSON.

The engine sets the facts a view needs (`oom`, `interrupted`, the trial's folder, where it
trains), so no front end parses a reason or rebuilds a path.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ._base import Count as _Count
from ._base import record as _record
from ._outcome import TrialOutcome

FAULT_ENV_VAR = "LORASEARCH_INJECT_FAULT"  # the fault hook (worker/_faults.py); views name it


@_record
class SearchStarted:
    """A search began (or resumed, or a watcher attached): what it searches and how."""

    study_name: str
    storage: str  # password masked
    mode: str
    pruner: str
    n_trials: int  # the study's target size (grid: its combinations)
    space: dict[str, str]  # name -> "loguniform(1e-05, 0.0005)"
    fixed: dict[str, Any]
    resumed: bool
    trials_done: int
    fault_injection: str | None = None  # LORASEARCH_INJECT_FAULT when set: fake failures ahead
    workers: tuple[str, ...] = ()  # where this runner's workers train: ("GPU 0", "GPU 1") or ("CPU",)
    worker_logs: tuple[str, ...] = ()  # the workers' log files, for a log pane to follow
    sampler: str = ""  # "TPE multivariate, 3 random first"
    metric: str = "eval_loss"  # what `value` means everywhere: eval_loss, cer, wer, ...
    direction: str = "minimize"
    objectives: tuple[str, ...] = ()  # several objectives: every metric, the first being `metric`
    directions: tuple[str, ...] = ()  # and each one's direction
    warm_start: str = ""  # what --warm-start-from imported, in one line
    known_sets: str = ""  # what became of the known sets given (enqueue), in one line
    event: Literal["search_started"] = "search_started"

    @property
    def notice(self) -> str | None:
        """What a person must know before the first trial, or None."""
        if len(self.objectives) < 2:
            return None
        return (
            f"{len(self.objectives)} objectives ({', '.join(self.objectives)}): Optuna does not prune "
            f"a study of several objectives, so every trial trains to its end; the result is a Pareto front"
        )


@_record
class WorkerStateChanged:
    """A trial worker process changed state: starting, loading, ready, training, exited.

    `worker` names it ("GPU 1", "CPU 0") when the runner has several; a watcher's "running" /
    "not running" is about the search process as a whole and names none."""

    state: str
    pid: int | None = None
    detail: str = ""
    worker: str = ""
    event: Literal["worker_state"] = "worker_state"


@_record
class StudyProgress:
    """The study's own counts, all runners on all hosts included: what the header's
    done/target and running figures show (a runner alone knows only its own trials)."""

    done: _Count  # finished trials that count toward the target
    running: _Count
    target: _Count
    event: Literal["study_progress"] = "study_progress"


@_record
class TrialStarted:
    number: _Count
    params: dict[str, Any]
    rerun_of: int | None = None
    worker: str = ""  # where it trains: "GPU 1", "CPU 0"; "host-b GPU 1" when not on this host
    trial_dir: str = ""  # its folder: metrics, adapter, results
    resumed_at: int | None = None  # a rerun going on from the lost trial's checkpoint of this step
    event: Literal["trial_started"] = "trial_started"


@_record
class StepLogged:
    """A training step: sent by the worker, written to `metrics.jsonl`, shown as a curve."""

    number: _Count
    step: _Count
    max_steps: _Count
    loss: float
    learning_rate: float
    event: Literal["step"] = "step"


@_record
class EvalLogged:
    """An evaluation. The worker sends it with `pruned` False; the engine, once the pruner has
    answered, emits and writes it with the decision."""

    number: _Count
    step: _Count
    value: float  # the objective's value (the eval loss unless the config names another metric)
    pruned: bool = False  # the pruner stopped the trial at this eval
    eval_loss: float | None = None  # the val loss, kept beside another metric (None: it is `value`)
    scores: tuple[float, ...] = ()  # each scored record's value (a generated metric's): Wilcoxon's
    event: Literal["eval"] = "eval"


@_record
class TrialFinished:
    """A trial ended: COMPLETE, PRUNED or FAIL (its outcome, with the real reason for anything
    but COMPLETE), and where the study stands with it in."""

    outcome: TrialOutcome
    best_number: int | None = None  # the study's best trial now (the first objective's)
    best_value: float | None = None
    pareto: tuple[int, ...] = ()  # several objectives: the trials on the Pareto front now
    event: Literal["trial_finished"] = "trial_finished"

    @property
    def number(self) -> int:
        return self.outcome.number


@_record
class HardwareSampled:
    """Memory of the GPUs (or of the host when there is none) and of the worker processes."""

    gpus: tuple[dict[str, Any], ...]
    host_used_bytes: int
    host_total_bytes: int
    worker_rss_bytes: int | None
    note: str = ""
    event: Literal["hardware"] = "hardware"


@_record
class ParamImportances:
    """Which parameters mattered so far (Optuna's importances over the COMPLETE trials), or why
    there is nothing to say yet; the engine sends them after each trial."""

    values: dict[str, float]  # parameter -> share of the variation it explains, largest first
    evaluator: str
    trials: int  # the COMPLETE trials they come from
    reason: str | None = None  # why there are no values yet
    event: Literal["importances"] = "importances"


@_record
class SearchFinished:
    reason: str  # completed, timeout, stopped, interrupted, failed, "done here" (--max-trials-here)
    counts: dict[str, int] = Field(default_factory=dict)
    best_number: int | None = None
    best_value: float | None = None
    best_params: dict[str, Any] = Field(default_factory=dict)
    message: str | None = None  # why a failed search stopped (or a runner left its study), one line
    event: Literal["search_finished"] = "search_finished"


Event = (
    SearchStarted
    | WorkerStateChanged
    | TrialStarted
    | StepLogged
    | EvalLogged
    | TrialFinished
    | HardwareSampled
    | StudyProgress
    | ParamImportances
    | SearchFinished
)

"""How a trial's outcome is kept: in the study (its state, value and user attributes) and in its
folder (`trial_results.json`), and read back from either.

A trial's result is written twice so that either can restore the other: when the storage stayed
locked at the end of a trial, `--resume` tells the study what the file says; when the disk was
full, `--resume` writes the file again from the study and the trial's `metrics.jsonl`. Both
come from one `TrialOutcome`, so they cannot disagree.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ..atomic import write_json
from ..errors import RunFailure
from ..events import FINISHED, EvalLogged, StepLogged, TrialFinished, TrialOutcome, decode_lines
from ..events._outcome import METRIC

TRIAL_RESULTS = "trial_results.json"
LIVE_METRICS = "metrics.jsonl"
INTERRUPTED = "interrupted"
OOM_CONSTRAINT = "out_of_memory"
STATES = FINISHED

# The outcome's fields the study keeps as user attributes (the rest is in the trial itself:
# number, state, value(s), params, its start and end; where it trained is in its lease, the
# trial it reruns was set when it was queued, and the metric is the study's).
_KEPT_ELSEWHERE = {
    "number",
    "state",
    "params",
    "value",
    "values",
    "metric",
    "started_at",
    "completed_at",
    "worker",
    "rerun_of",
}
_ATTRS = tuple(name for name in TrialOutcome.__dataclass_fields__ if name not in _KEPT_ELSEWHERE)


def to_attrs(outcome: TrialOutcome) -> dict[str, Any]:
    """What the study keeps of the outcome as user attributes: None, "", False and {} left out."""
    attrs = {key: getattr(outcome, key) for key in _ATTRS}
    return {k: v for k, v in attrs.items() if v is not None and v != "" and v is not False and v != {}}


def outcome_of(trial: Any, metric: str = METRIC) -> TrialOutcome:
    """The outcome of a study's trial, from its state, values and user attributes (a trial not
    finished yet is RUNNING or WAITING, with what is known of it so far)."""
    attrs = trial.user_attrs
    known = {k: attrs[k] for k in _ATTRS if attrs.get(k) is not None}
    if isinstance(attrs.get("rerun_of"), int):
        known["rerun_of"] = attrs["rerun_of"]
    duration = known.pop("duration_s", None)
    if duration is None and trial.datetime_start and trial.datetime_complete:
        duration = (trial.datetime_complete - trial.datetime_start).total_seconds()
    state = trial.state.name
    complete = state == "COMPLETE"
    return TrialOutcome(
        **known,
        number=trial.number,
        state=state if state in (*FINISHED, "RUNNING") else "WAITING",
        params=dict(trial.params),
        value=first_value(trial) if complete else None,
        values=tuple(trial.values) if complete and len(trial.values or ()) > 1 else None,
        duration_s=duration,
        worker=where(attrs),
        metric=metric,
        started_at=_iso(trial.datetime_start),
        completed_at=_iso(trial.datetime_complete),
    )


def tell(outcome: TrialOutcome, study: Any, trial: Any) -> None:
    """Record the trial in the study: its attributes, then its state and value.

    An out-of-memory trial is PRUNED with the constraint `out_of_memory` violated: Optuna's
    TPE sampler reads constraints only of COMPLETE and PRUNED trials and ranks a violated
    one below every feasible trial, which is what teaches it to avoid that region.
    """
    from optuna.trial import TrialState

    for key, value in to_attrs(outcome).items():
        trial.set_user_attr(key, value)
    if outcome.oom:
        trial.set_constraint(OOM_CONSTRAINT, 1.0)
    if outcome.state == "COMPLETE":
        study.tell(trial, list(outcome.values) if outcome.values is not None else outcome.value)
    else:
        study.tell(trial, state=TrialState[outcome.state])


def tell_or_keep(outcome: TrialOutcome, study: Any, trial: Any, config: dict[str, Any]) -> None:
    """`tell` the study; when it cannot be told, keep the outcome in the trial's file.

    If the storage stayed busy past the patience, the file is written before the failure goes
    on up, so that `--resume` can tell the study what it says. If another runner recorded the
    trial lost meanwhile (this process was stopped, or cut off from the storage, for longer
    than the lease's grace), its parameters run again there: what was trained here stays in
    the trial's file, which the caller writes as always.

    Raises:
        RunFailure: the storage could not be told.
    """
    import optuna

    try:
        tell(outcome, study, trial)
    except RunFailure:
        try:
            write_trial_results(outcome, config)
        except (OSError, RunFailure):
            pass  # the storage's failure is the one to report
        raise
    except optuna.exceptions.UpdateFinishedTrialError:
        logging.getLogger("lorasearch.search").warning(
            "trial %d: another runner recorded it lost meanwhile; its result here is in %s",
            outcome.number,
            outcome.trial_dir,
        )


def finished(outcome: TrialOutcome, best: Any, pareto: tuple[int, ...]) -> TrialFinished:
    """The event that says this trial ended, as the live search and `watch` both send it.

    Args:
        best: the study's best trial now (None before the first COMPLETE one).
        pareto: the trials on the Pareto front now (several objectives), else ().
    """
    return TrialFinished(
        outcome,
        best_number=best.number if best else None,
        best_value=first_value(best) if best else None,
        pareto=pareto,
    )


def write_trial_results(outcome: TrialOutcome, config: dict[str, Any]) -> None:
    """Write `trial_results.json` into the trial's folder (strict JSON: no NaN): the outcome,
    the trial's whole config, its curves (from its `metrics.jsonl`) and its adapter's path."""
    folder = Path(outcome.trial_dir)
    _, train, evals = read_metrics(folder / LIVE_METRICS)
    adapter = outcome.adapter
    data = {
        **{name: getattr(outcome, name) for name in TrialOutcome.__dataclass_fields__},
        "config": config,
        "train_loss": train,
        "eval": evals,
        "adapter": str(adapter) if adapter is not None and adapter.is_dir() else None,
    }
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / TRIAL_RESULTS, data)


def read_trial_results(path: Path) -> TrialOutcome | None:
    """The outcome a `trial_results.json` holds, None if it is missing or not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_refuse)
        known = {k: v for k, v in data.items() if k in TrialOutcome.__dataclass_fields__}
        return TrialOutcome.settled(**known)
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def first_value(trial: Any) -> float | None:
    """A finished Optuna trial's value, or its first objective's in a study of several
    (Optuna's `FrozenTrial.value` raises there)."""
    return trial.values[0] if trial.values else None


def read_metrics(path: Path) -> tuple[int, list[dict[str, float]], list[dict[str, float]]]:
    """max_steps, train steps and evals of a `metrics.jsonl` (empty when it cannot be read)."""
    max_steps, train, evals = 0, [], []
    for event in decode_lines(read_regular_file(path) or b""):
        if isinstance(event, StepLogged):
            max_steps = event.max_steps
            train.append({"step": event.step, "loss": event.loss, "learning_rate": event.learning_rate})
        elif isinstance(event, EvalLogged):
            loss = event.eval_loss if event.eval_loss is not None else event.value
            evals.append({"step": event.step, "value": event.value, "eval_loss": loss})
    return max_steps, train, evals


def read_regular_file(path: Path, offset: int = 0) -> bytes | None:
    """The bytes of `path` from `offset`, None unless it is a regular file.

    Opened without blocking: a FIFO or a device put where a metrics file should be would
    otherwise hang the reader.
    """
    import os
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(fd, "rb", closefd=False) as source:
            source.seek(offset)
            return source.read()
    except OSError:
        return None
    finally:
        os.close(fd)


def _refuse(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")


def _iso(moment: Any) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def where(attrs: dict[str, Any]) -> str:
    """Where a trial trains, from its lease: `host-b GPU 1` (the host always: a watcher may
    follow several hosts)."""
    from ._lease import LEASE_ATTR

    lease = attrs.get(LEASE_ATTR)
    if not isinstance(lease, dict):
        return ""
    return " ".join(str(part) for part in (lease.get("host"), lease.get("worker")) if part)

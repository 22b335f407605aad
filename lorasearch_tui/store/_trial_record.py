"""One finished trial, in one format: what the study stores and what `trial_results.json` holds.

A trial's result is written twice, to the study (its state, value and user attributes) and to
its folder (`trial_results.json`), so that either can restore the other: when the storage
stayed locked at the end of a trial, `--resume` tells the study what the file says; when the
disk was full, `--resume` writes the file again from the study and the trial's
`metrics.jsonl`. Both come from this one record, so they cannot disagree.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import write_json
from ..errors import RunFailure
from ..events import EvalLogged, StepLogged, TrialFinished, decode_lines

METRIC = "eval_loss"
TRIAL_RESULTS = "trial_results.json"
LIVE_METRICS = "metrics.jsonl"
INTERRUPTED = "interrupted"
OOM_CONSTRAINT = "out_of_memory"
STATES = ("COMPLETE", "PRUNED", "FAIL")

# The record's fields the study keeps as user attributes (the rest is in the trial itself:
# state, value, params, or in the stored config).
_ATTRS = (
    "fail_reason",
    "pruned_at",
    "steps",
    "max_steps",
    "duration_s",
    "runtime_s",
    "peak_memory_bytes",
    "tokens_per_s",
    "memory_kind",
    "generate_s",
    "retained_bytes",
    "batch",
    "early_stopped_at",
    "trial_dir",
    "oom",
    INTERRUPTED,
)


@dataclass
class TrialRecord:
    """A finished trial. COMPLETE always has a finite `value`; anything else has none.

    A study of several objectives keeps each one's in `values` (the first is `value`)."""

    number: int
    state: str
    params: dict[str, Any]
    config: dict[str, Any]
    trial_dir: str
    value: float | None = None
    fail_reason: str | None = None
    pruned_at: int | None = None
    rerun_of: int | None = None
    train_loss: list[dict[str, float]] = field(default_factory=list)
    eval: list[dict[str, float]] = field(default_factory=list)
    steps: int = 0
    max_steps: int = 0
    runtime_s: float | None = None
    duration_s: float | None = None
    tokens_per_s: float | None = None
    peak_memory_bytes: int | None = None
    memory_kind: str | None = None
    started_at: str | None = None
    oom: bool = False
    interrupted: bool = False
    metric: str = METRIC  # what `value` (and each eval's "value") measures
    generate_s: float | None = None  # time spent generating answers for the metric
    values: list[float] | None = None  # several objectives: every one's value, in the config's order
    retained_bytes: int | None = None  # memory the worker still held after the trial (the guard's)
    batch: str | None = None  # micro-batch x accumulation it trained with ("4x1 fitted")
    early_stopped_at: int | None = None  # early_stopping_patience ran out at this step (COMPLETE)

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"unknown trial state {self.state!r}")
        if self.values is not None and self.state == "COMPLETE":
            if not self.values or not all(_finite(v) for v in self.values):
                self.state = "FAIL"
                self.fail_reason = self.fail_reason or "an objective without a finite value"
            else:
                self.value = self.values[0]
        if self.state == "COMPLETE" and not _finite(self.value):
            # A failure is never disguised as a result: no finite value, no COMPLETE.
            self.state, self.value = "FAIL", None
            self.fail_reason = self.fail_reason or "no finite eval loss at the end of training"
        if self.state != "COMPLETE":
            self.value = self.values = None

    @property
    def adapter(self) -> Path | None:
        folder = Path(self.trial_dir) / "adapter"
        return folder if self.state == "COMPLETE" and folder.is_dir() else None

    def user_attrs(self) -> dict[str, Any]:
        """What the study keeps of the record, None values left out."""
        attrs = {key: getattr(self, key) for key in _ATTRS}
        attrs["oom"] = self.oom or None
        attrs[INTERRUPTED] = self.interrupted or None
        return {k: v for k, v in attrs.items() if v is not None}

    def to_json(self) -> dict[str, Any]:
        """The content of `trial_results.json`."""
        data = asdict(self)
        adapter = self.adapter
        data["adapter"] = str(adapter) if adapter is not None else None
        return data

    def tell(self, study: Any, trial: Any) -> None:
        """Record the trial in the study: its attributes, then its state and value.

        An out-of-memory trial is PRUNED with the constraint `out_of_memory` violated: Optuna's
        TPE sampler reads constraints only of COMPLETE and PRUNED trials and ranks a violated
        one below every feasible trial, which is what teaches it to avoid that region.
        """
        from optuna.trial import TrialState

        for key, value in self.user_attrs().items():
            trial.set_user_attr(key, value)
        if self.oom:
            trial.set_constraint(OOM_CONSTRAINT, 1.0)
        if self.state == "COMPLETE":
            study.tell(trial, self.values if self.values is not None else self.value)
        else:
            study.tell(trial, state=TrialState[self.state])

    def tell_or_keep(self, study: Any, trial: Any) -> None:
        """`tell` the study; when it cannot be told, keep the record in the trial's file.

        If the storage stayed busy past the patience, the file is written before the failure
        goes on up, so that `--resume` can tell the study what it says. If another runner
        recorded the trial lost meanwhile (this process was stopped, or cut off from the
        storage, for longer than the lease's grace), its parameters run again there: what was
        trained here stays in the trial's file, which the caller writes as always.

        Raises:
            RunFailure: the storage could not be told.
        """
        import optuna

        try:
            self.tell(study, trial)
        except RunFailure:
            try:
                self.write()
            except (OSError, RunFailure):
                pass  # the storage's failure is the one to report
            raise
        except optuna.exceptions.UpdateFinishedTrialError:
            logging.getLogger("lorasearch.search").warning(
                "trial %d: another runner recorded it lost meanwhile; its result here is in %s",
                self.number,
                self.trial_dir,
            )

    def finished(self, best: Any, pareto: tuple[int, ...], worker: str) -> TrialFinished:
        """The event that says this trial ended, as the live search and `watch` both send it.

        Args:
            best: the study's best trial now (None before the first COMPLETE one).
            pareto: the trials on the Pareto front now (several objectives), else ().
            worker: where it trained (`GPU 1`, `host-b CPU`).
        """
        return TrialFinished(
            number=self.number,
            state=self.state,  # type: ignore[arg-type]  # one of STATES, checked on creation
            value=self.value,
            params=self.params,
            duration_s=self.duration_s or 0.0,
            steps=self.steps,
            pruned_at=self.pruned_at,
            fail_reason=self.fail_reason or ("interrupted" if self.interrupted else None),
            peak_memory_bytes=self.peak_memory_bytes,
            best_number=best.number if best else None,
            best_value=first_value(best) if best else None,
            oom=self.oom,
            interrupted=self.interrupted,
            trial_dir=self.trial_dir,
            worker=worker,
            values=tuple(self.values) if self.values is not None else None,
            pareto=pareto,
            batch=self.batch or "",
        )

    def write(self) -> None:
        """Write `trial_results.json` into the trial's folder (strict JSON: no NaN)."""
        folder = Path(self.trial_dir)
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / TRIAL_RESULTS, self.to_json())

    @classmethod
    def from_file(cls, path: Path) -> TrialRecord | None:
        """The record a `trial_results.json` holds, None if it is missing or not one."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_refuse)
            known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
            return cls(**known)
        except (OSError, ValueError, TypeError, AttributeError):
            return None

    @classmethod
    def from_study(cls, trial: Any, config: dict[str, Any], curves: bool = True) -> TrialRecord:
        """The record of a finished study trial, its curves read back from its `metrics.jsonl`
        (unless `curves` is False: `watch` has them already)."""
        attrs = trial.user_attrs
        folder = Path(attrs.get("trial_dir", ""))
        max_steps, train, evals = read_metrics(folder / LIVE_METRICS) if curves else (0, [], [])
        duration = attrs.get("duration_s")
        if duration is None and trial.datetime_start and trial.datetime_complete:
            duration = (trial.datetime_complete - trial.datetime_start).total_seconds()
        return cls(
            number=trial.number,
            state=trial.state.name,
            params=dict(trial.params),
            config=config,
            trial_dir=attrs.get("trial_dir", ""),
            value=first_value(trial),
            values=list(trial.values) if trial.values and len(trial.values) > 1 else None,
            fail_reason=attrs.get("fail_reason"),
            pruned_at=attrs.get("pruned_at"),
            rerun_of=attrs.get("rerun_of"),
            train_loss=train,
            eval=evals,
            steps=int(attrs.get("steps") or 0),
            max_steps=int(attrs.get("max_steps") or max_steps),
            runtime_s=attrs.get("runtime_s"),
            duration_s=duration,
            tokens_per_s=attrs.get("tokens_per_s"),
            peak_memory_bytes=attrs.get("peak_memory_bytes"),
            memory_kind=attrs.get("memory_kind"),
            started_at=trial.datetime_start.isoformat(timespec="seconds") if trial.datetime_start else None,
            oom=bool(attrs.get("oom")),
            interrupted=bool(attrs.get(INTERRUPTED)),
            metric=(config.get("objective") or {}).get("metric", METRIC),
            generate_s=attrs.get("generate_s"),
            retained_bytes=attrs.get("retained_bytes"),
            batch=attrs.get("batch"),
            early_stopped_at=attrs.get("early_stopped_at"),
        )


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


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _refuse(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")

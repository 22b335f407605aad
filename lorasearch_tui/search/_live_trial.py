"""A trial as the parent sees it while it runs, and how it ended: its outcome, built once."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import DiskFull, is_disk_full
from ..events import EvalLogged, StepLogged, TrialOutcome, encode
from ..store import ENQUEUED_ATTR, LIVE_METRICS, METRIC
from ._resume import ResumePoint


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Ending:
    """How a trial ended, and what the loop does about it besides recording it."""

    outcome: TrialOutcome
    replace_worker: bool = False
    budget: bool = False  # counts toward the failure budget (the environment, not the params)
    disk_full: bool = False
    recycle: str | None = None  # why the worker is replaced although the trial went well


@dataclass
class LiveTrial:
    """What the parent learns of a running trial as it goes."""

    number: int
    params: dict[str, Any]
    config: dict[str, Any]
    folder: Path
    rerun_of: int | None
    started: float = field(default_factory=time.monotonic)
    started_at: str = field(default_factory=_now)
    max_steps: int = 0
    last_step: int = 0  # the last train step logged
    enqueued: bool = False  # a known set the user queued
    derived: dict[str, Any] = field(default_factory=dict)  # drawn values as they train (a multiple's product)
    resumed: ResumePoint | None = None  # a rerun's checkpoint to go on from (`_resume.py`)

    @classmethod
    def of(cls, trial: Any, folder: Path) -> LiveTrial:
        """A trial Optuna just gave, its folder told to the study (where `watch` finds its
        live metrics)."""
        trial.set_user_attr("trial_dir", str(folder))
        live = cls(trial.number, dict(trial.params), {}, folder, trial.user_attrs.get("rerun_of"))
        live.enqueued = bool(trial.user_attrs.get(ENQUEUED_ATTR))
        return live

    def log(self, event: StepLogged | EvalLogged) -> None:
        """Append a step or an eval to the trial's live metrics file (read by `lorasearch watch`,
        by `trial_results.json` for its curves, and by `--resume` when it rewrites that file)."""
        if isinstance(event, StepLogged):
            self.last_step = event.step
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with (self.folder / LIVE_METRICS).open("ab") as out:
                out.write(encode(event))
        except OSError as exc:
            if is_disk_full(exc):
                raise DiskFull(self.folder / LIVE_METRICS) from None
            raise

    def ended(self, state: str, worker: str, result: Any = None, **facts: Any) -> TrialOutcome:
        """The trial's outcome: what was seen as it ran, what the worker measured (its `Result`,
        None when it measured nothing), and how it ended (`facts`: value(s), fail_reason,
        pruned_at, oom, interrupted, peak_memory_bytes)."""
        duration = round(time.monotonic() - self.started, 3)
        measured: dict[str, Any] = {}
        if result is not None:
            # every figure the worker measured that the outcome keeps, by name: a new one is a
            # field of both records and needs no code here (the value is the slot's to judge)
            kept = TrialOutcome.__dataclass_fields__.keys() - {"value", "values"}
            measured = {f.name: getattr(result, f.name) for f in fields(result) if f.name in kept}
            measured["runtime_s"] = round(result.runtime_s, 3)
            measured["generate_s"] = round(result.generate_s, 3) or None
        seen = {
            "number": self.number,
            "state": state,
            "params": self.params,
            "steps": self.last_step,
            "max_steps": self.max_steps,
            "duration_s": duration,
            "runtime_s": duration,
            "trial_dir": str(self.folder),
            "worker": worker,
            "rerun_of": self.rerun_of,
            "enqueued": self.enqueued,
            "derived": self.derived,
            "metric": (self.config.get("objective") or {}).get("metric", METRIC),
            "started_at": self.started_at,
            "completed_at": _now(),
        }
        return TrialOutcome.settled(**{**seen, **facts, **measured})

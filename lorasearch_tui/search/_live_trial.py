"""A trial as the parent sees it while it runs, how it ended, and the record made of both."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import DiskFull, is_disk_full
from ..events import EvalLogged, StepLogged, encode
from ..store import LIVE_METRICS, METRIC, TrialRecord


@dataclass
class Outcome:
    """How a trial ended, as the search loop found out."""

    state: str  # COMPLETE, PRUNED, FAIL
    value: float | None = None
    values: list[float] | None = None  # several objectives: each one's, the first being `value`
    fail_reason: str | None = None
    pruned_at: int | None = None
    result: Any = None  # the worker's `Result`
    oom: bool = False
    peak_memory: int | None = None
    interrupted: bool = False
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
    started_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    max_steps: int = 0
    train: list[dict[str, float]] = field(default_factory=list)
    evals: list[dict[str, float]] = field(default_factory=list)

    @classmethod
    def of(cls, trial: Any, folder: Path) -> LiveTrial:
        """A trial Optuna just gave, its folder told to the study (where `watch` finds its
        live metrics)."""
        trial.set_user_attr("trial_dir", str(folder))
        return cls(trial.number, dict(trial.params), {}, folder, trial.user_attrs.get("rerun_of"))

    def log(self, event: StepLogged | EvalLogged) -> None:
        """Append a step or an eval to the trial's live metrics file (read by `lorasearch watch`
        and by `--resume` when it rewrites a lost `trial_results.json`)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with (self.folder / LIVE_METRICS).open("ab") as out:
                out.write(encode(event))
        except OSError as exc:
            if is_disk_full(exc):
                raise DiskFull(self.folder / LIVE_METRICS) from None
            raise

    def record(self, outcome: Outcome) -> TrialRecord:
        """The trial's record: what was seen as it ran, and how it ended."""
        duration = time.monotonic() - self.started
        result = outcome.result
        steps = result.steps if result is not None else (self.train[-1]["step"] if self.train else 0)
        return TrialRecord(
            number=self.number,
            state=outcome.state,
            params=self.params,
            config=self.config,
            trial_dir=str(self.folder),
            value=outcome.value,
            values=outcome.values,
            fail_reason=outcome.fail_reason,
            pruned_at=outcome.pruned_at,
            rerun_of=self.rerun_of,
            train_loss=self.train,
            eval=self.evals,
            steps=steps,
            max_steps=self.max_steps,
            runtime_s=round(result.runtime_s, 3) if result is not None else round(duration, 3),
            duration_s=round(duration, 3),
            tokens_per_s=result.tokens_per_s if result is not None else None,
            peak_memory_bytes=result.peak_memory_bytes if result is not None else outcome.peak_memory,
            memory_kind=result.memory_kind if result is not None else None,
            started_at=self.started_at,
            oom=outcome.oom,
            interrupted=outcome.interrupted,
            metric=(self.config.get("objective") or {}).get("metric", METRIC),
            generate_s=round(result.generate_s, 3) if result is not None and result.generate_s else None,
            retained_bytes=getattr(result, "retained_bytes", None),
            batch=getattr(result, "batch", None) or None,
            early_stopped_at=getattr(result, "early_stopped_at", None),
        )

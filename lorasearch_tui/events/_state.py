"""A search's state as the events tell it: the one model every view of a search reads.

`SearchState.apply(event)` folds the engine's events into trials, curves, the best trial and
recent hardware samples. The terminal UI renders from it, and `lorasearch watch` feeds it the
events it reconstructs from a study's storage, so the live and the watching views agree.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ._outcome import TrialOutcome
from ._records import (
    EvalLogged,
    Event,
    HardwareSampled,
    ParamImportances,
    SearchFinished,
    SearchStarted,
    StepLogged,
    StudyProgress,
    TrialFinished,
    TrialStarted,
    WorkerStateChanged,
)

HISTORY = 120  # hardware samples kept (two minutes at one a second)
NOT_RUNNING = "not running"  # the worker state `lorasearch watch` gives a study nobody runs


@dataclass
class TrialView:
    """One trial as shown: what its events told while it runs (its curves), and its outcome
    once its TrialFinished arrived."""

    number: int
    params: dict[str, Any]
    rerun_of: int | None = None
    worker: str = ""
    trial_dir: str = ""
    resumed_at: int | None = None  # a rerun that went on from a checkpoint of this step
    started: float = 0.0  # the state's clock when the trial started
    steps: int = 0
    max_steps: int = 0
    train: list[tuple[int, float]] = field(default_factory=list)
    evals: list[tuple[int, float]] = field(default_factory=list)
    outcome: TrialOutcome | None = None  # None while it runs

    @property
    def state(self) -> str:
        return self.outcome.state if self.outcome is not None else "RUNNING"

    @property
    def row(self) -> TrialOutcome:
        """The trial as the table lists it: its outcome, or what is known while it runs."""
        if self.outcome is not None:
            return self.outcome
        return TrialOutcome(
            number=self.number,
            state="RUNNING",
            params=self.params,
            steps=self.steps,
            max_steps=self.max_steps,
            trial_dir=self.trial_dir,
            worker=self.worker,
            rerun_of=self.rerun_of,
        )


@dataclass
class SearchState:
    """Everything the views show, updated event by event."""

    started: SearchStarted | None = None
    trials: dict[int, TrialView] = field(default_factory=dict)
    running: int | None = None
    best_number: int | None = None
    best_value: float | None = None
    pareto: set[int] = field(default_factory=set)  # several objectives: the trials on the front
    worker: WorkerStateChanged | None = None  # the latest state of any worker (or of the runner, watched)
    workers: dict[str, WorkerStateChanged] = field(default_factory=dict)  # by worker, when named
    progress: StudyProgress | None = None  # the study's counts, every host's trials included
    importances: ParamImportances | None = None  # which parameters mattered so far
    hardware: deque[HardwareSampled] = field(default_factory=lambda: deque(maxlen=HISTORY))
    finished: SearchFinished | None = None
    clock: Callable[[], float] = time.monotonic

    def apply(self, event: Event) -> None:
        """Fold one event in."""
        match event:
            case SearchStarted():
                self.started = event
            case TrialStarted():
                self.trials[event.number] = TrialView(
                    event.number,
                    dict(event.params),
                    rerun_of=event.rerun_of,
                    worker=event.worker,
                    trial_dir=event.trial_dir,
                    resumed_at=event.resumed_at,
                    started=self.clock(),
                )
                self.running = event.number
            case StepLogged():
                trial = self._trial(event.number)
                trial.steps, trial.max_steps = event.step, event.max_steps or trial.max_steps
                trial.train.append((event.step, event.loss))
            case EvalLogged():
                self._trial(event.number).evals.append((event.step, event.value))
            case TrialFinished():
                self._finished(event)
            case WorkerStateChanged():
                self._worker(event)
            case StudyProgress():
                self.progress = event
            case ParamImportances():
                self.importances = event
            case HardwareSampled():
                self.hardware.append(event)
            case SearchFinished():
                self.finished = event
                self.running = None
                self.best_number, self.best_value = event.best_number, event.best_value

    def _worker(self, event: WorkerStateChanged) -> None:
        self.worker = event
        if event.worker:
            self.workers[event.worker] = event
        elif event.state == "exited":  # the runner ended them all
            self.workers = {name: event for name in self.workers}

    def _finished(self, event: TrialFinished) -> None:
        outcome = event.outcome
        trial = self._trial(event.number)
        if not outcome.max_steps and trial.max_steps:  # a sender that did not know it
            outcome = replace(outcome, max_steps=trial.max_steps)
        trial.outcome, trial.params = outcome, outcome.shown
        trial.steps = outcome.steps
        trial.trial_dir = outcome.trial_dir or trial.trial_dir
        trial.worker = outcome.worker or trial.worker
        self.pareto = set(event.pareto)
        self.best_number, self.best_value = event.best_number, event.best_value
        if self.running == event.number:
            # the chart and the keys follow the trial started last of those still running
            others = [n for n, t in self.trials.items() if t.state == "RUNNING" and n != event.number]
            self.running = max(others) if others else None

    def _trial(self, number: int) -> TrialView:
        if number not in self.trials:  # a watcher may join in the middle of a trial
            self.trials[number] = TrialView(number, {}, started=self.clock())
        return self.trials[number]

    @property
    def done(self) -> int:
        """Trials that count toward the target (all finished ones but the interrupted and the
        imported): the
        study's count when the engine sent one (other hosts' trials in it), else this view's."""
        before = self.started.trials_done if self.started and self.started.resumed else 0
        counted = sum(
            1
            for t in self.trials.values()
            if t.outcome is not None and not t.outcome.interrupted and not t.outcome.imported
        )
        # the study's count lags a trial this view just saw end by a poll: the larger is right
        return max(before + counted, self.progress.done if self.progress else 0)

    @property
    def total(self) -> int:
        if self.progress is not None:
            return self.progress.target
        return self.started.n_trials if self.started else 0

    @property
    def study_running(self) -> int:
        """Trials running in the study, on every host (this view's at least)."""
        return max(len(self.running_numbers), self.progress.running if self.progress else 0)

    @property
    def running_numbers(self) -> list[int]:
        return sorted(n for n, t in self.trials.items() if t.state == "RUNNING")

    def follow_next_running(self) -> int | None:
        """Make the next running trial (by number, wrapping) the one the chart and `a` follow."""
        numbers = self.running_numbers
        if numbers:
            later = [n for n in numbers if self.running is None or n > self.running]
            self.running = later[0] if later else numbers[0]
        return self.running

    @property
    def objectives(self) -> tuple[str, ...]:
        """The metrics of a study of several objectives (empty for one)."""
        return self.started.objectives if self.started is not None else ()

    def best_trial(self) -> TrialView | None:
        return self.trials.get(self.best_number) if self.best_number is not None else None

    @property
    def nobody_runs_it(self) -> bool:
        """A watched study whose search process is gone (`lorasearch watch` found it dead)."""
        return self.worker is not None and self.worker.state == NOT_RUNNING

    def eta_s(self) -> float | None:
        """Time left: the mean duration of finished trials times the trials still to run;
        None when it is unknown or nothing runs any more."""
        if self.finished is not None or self.nobody_runs_it:
            return None
        durations = [
            t.outcome.duration_s
            for t in self.trials.values()
            if t.outcome and t.outcome.duration_s is not None and not t.outcome.imported
        ]
        if not durations or not self.total:
            return None
        remaining = max(self.total - self.done, 0)
        mean = sum(durations) / len(durations)
        now = self.clock()
        elapsed_running = sum(now - self.trials[n].started for n in self.running_numbers)
        at_once = max(len(self.started.workers) if self.started else 1, self.study_running, 1)
        return max((remaining * mean - elapsed_running) / at_once, 0.0)

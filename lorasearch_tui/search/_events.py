"""The events the search engine emits: small frozen records, one per thing that happened.

Front ends (the headless console, the terminal UI) receive them through a `Sink` and render
them; neither re-derives a rule of the engine from anything else. Events are emitted from the
engine's own thread: a sink must not block for long (the TUI posts a message and returns).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class SearchStarted:
    """A search began (or resumed): what it searches and how."""

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


@dataclass(frozen=True)
class WorkerStateChanged:
    """The trial worker process changed state: starting, loading, ready, training, exited."""

    state: str
    pid: int | None = None
    detail: str = ""


@dataclass(frozen=True)
class TrialStarted:
    number: int
    params: dict[str, Any]
    rerun_of: int | None = None
    worker: str = ""  # where it trains: "GPU 1", "CPU 0"; "host-b GPU 1" when not on this host


@dataclass(frozen=True)
class StepLogged:
    number: int
    step: int
    max_steps: int
    loss: float
    learning_rate: float


@dataclass(frozen=True)
class EvalLogged:
    number: int
    step: int
    value: float
    pruned: bool  # the pruner stopped the trial at this eval


@dataclass(frozen=True)
class TrialFinished:
    """A trial ended: COMPLETE, PRUNED or FAIL, with the real reason for anything but COMPLETE."""

    number: int
    state: str
    value: float | None
    params: dict[str, Any]
    duration_s: float
    steps: int
    pruned_at: int | None
    fail_reason: str | None
    peak_memory_bytes: int | None
    best_number: int | None
    best_value: float | None


@dataclass(frozen=True)
class HardwareSampled:
    """Memory of the GPUs (or of the host when there is none) and of the worker process."""

    gpus: tuple[dict[str, Any], ...]
    host_used_bytes: int
    host_total_bytes: int
    worker_rss_bytes: int | None
    note: str = ""


@dataclass(frozen=True)
class SearchFinished:
    reason: str  # completed, timeout, stopped, interrupted, failed
    counts: dict[str, int] = field(default_factory=dict)
    best_number: int | None = None
    best_value: float | None = None
    best_params: dict[str, Any] = field(default_factory=dict)
    message: str | None = None  # why a failed search stopped, in one line


Event = (
    SearchStarted
    | WorkerStateChanged
    | TrialStarted
    | StepLogged
    | EvalLogged
    | TrialFinished
    | HardwareSampled
    | SearchFinished
)


class Sink(Protocol):
    """Where events go: the console prints them, the TUI posts them as messages."""

    def emit(self, event: Event) -> None: ...


class NullSink:
    """Drops every event (tests, scripted use)."""

    def emit(self, event: Event) -> None:
        pass


class GuardedSink:
    """A front end that fails (a terminal gone with the SSH connection: every write is EIO)
    must not stop the search from recording its trials: its errors are logged once, then
    dropped."""

    def __init__(self, sink: Sink | None) -> None:
        self._sink = sink
        self._failed = False

    def emit(self, event: Event) -> None:
        if self._sink is None:
            return
        try:
            self._sink.emit(event)
        except Exception as exc:
            if not self._failed:
                self._failed = True
                logging.getLogger("lorasearch.search").warning(
                    "the front end failed (%s); the search goes on without it", exc
                )

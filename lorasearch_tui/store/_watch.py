"""Follow a study that another process runs, read-only: the events, rebuilt from its storage.

`lorasearch watch` attaches to a study being searched elsewhere (headless under nohup, or on
another host that shares the storage). Each poll reads the trials from the storage and the
running trial's `metrics.jsonl` (the engine's own step and eval events, in the one event
format), and emits the same events the live engine emits, so the terminal UI needs no second
way of showing a search. It never writes anything: a SQLite
storage is opened read-only (SQLite refuses every write) and no table is ever created, a
`metrics.jsonl` line it cannot decode is skipped, and only regular files are opened.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from ..config import describe, describe_pruner, parse_config
from ..errors import UserError
from ..events import (
    NOT_RUNNING,
    EvalLogged,
    SearchStarted,
    Sink,
    StepLogged,
    StudyProgress,
    TrialFinished,
    TrialStarted,
    WorkerStateChanged,
    decode_lines,
)
from ..hardware import Nvml, sample_hardware
from ._importance import importances
from ._lease import RUNNER_PREFIX, Runner, live_runners
from ._outcomes import LIVE_METRICS, finished, outcome_of, read_regular_file, where
from ._settings import describe_sampler
from ._storage import journal_path, mask_password, sqlite_path
from ._study import (
    CONFIG_ATTR,
    FAULT_ATTR,
    RESUMED_ATTR,
    SETTINGS_ATTR,
    best_trial,
    default_storage,
    done_count,
    objective_facts,
    open_existing,
    pareto_trials,
    trial_counts,
)


class StudyWatcher:
    """Polls one study and turns what changed into events."""

    def __init__(self, study_name: str, storage: str | None, sink: Sink) -> None:
        """`storage` None: the study's own SQLite file (`optuna_studies/STUDY.db`)."""
        self._study = open_existing(study_name, storage)
        storage = storage or default_storage(study_name)
        self._storage = mask_password(storage)
        self._sink = sink
        self._seen: dict[int, str] = {}  # trial number -> state last emitted
        self._offsets: dict[int, int] = {}  # trial number -> bytes of metrics.jsonl read
        self._announced = False
        self._running: dict[int, Any] = {}
        self._last_fingerprint: tuple[int, ...] | None = None
        self._runner_alive: bool | None = None
        self._progress: StudyProgress | None = None
        self._target = 0
        self._space: list[str] = []
        self._metric = "eval_loss"  # the study's (first) metric, once announced
        self._importances_at = -1
        # the file(s) whose change means new data: a SQLite database, or a journal file
        files = sqlite_path(storage) or journal_path(storage)
        self._sqlite = str(files) if files is not None else None

    def poll(self) -> None:
        """Emit the events for everything that changed since the last poll.

        Reading every trial from the storage costs ~20 ms; with SQLite, the file's size and
        time tell whether anything changed, so an idle study costs only a `stat` per poll.
        """
        study = self._study
        fingerprint = self._fingerprint()
        if self._announced and fingerprint is not None and fingerprint == self._last_fingerprint:
            for number in self._running:
                self._read_metrics_of(number)
            self._say_whether_it_runs()
            return
        self._last_fingerprint = fingerprint
        trials = study.get_trials(deepcopy=False)
        if not self._announced:
            self._announce(study)
        best = best_trial(study)
        pareto = tuple(t.number for t in pareto_trials(study))
        for trial in trials:
            state = trial.state.name
            previous = self._seen.get(trial.number)
            if state == "WAITING" or previous == state:
                continue
            if previous is None:
                self._sink.emit(
                    TrialStarted(
                        trial.number,
                        {**trial.params, **self._config.derived(dict(trial.params))},
                        trial.user_attrs.get("rerun_of"),
                        where(trial.user_attrs),
                        trial.user_attrs.get("trial_dir", ""),
                        (trial.user_attrs.get(RESUMED_ATTR) or {}).get("step"),
                    )
                )
            self._read_metrics(trial)
            if state != "RUNNING":
                self._sink.emit(self._finished(trial, best, pareto))
            self._seen[trial.number] = state
        counts = trial_counts(study)
        progress = StudyProgress(done_count(counts), counts["running"], self._target)
        if progress != self._progress:
            self._progress = progress
            self._sink.emit(progress)
        if counts["complete"] != self._importances_at:
            self._importances_at = counts["complete"]
            self._sink.emit(importances(study, self._space))
        self._running = {t.number: t for t in trials if t.state.name == "RUNNING"}
        for trial in self._running.values():
            self._read_metrics(trial)
        self._say_whether_it_runs()

    def _say_whether_it_runs(self) -> None:
        """Emit whether any runner still runs the study (on any host): running, or not running
        (every runner's mark in the study has ended or run out, see `_lease.py`)."""
        attrs = self._study.user_attrs
        runners = live_runners(attrs, time.time())
        alive = bool(runners)
        if alive == self._runner_alive:
            return
        self._runner_alive = alive
        if alive:
            where = ", ".join(f"pid {r.get('pid')} on {r.get('host')}" for r in runners)
            self._sink.emit(WorkerStateChanged("running", self._worker_pid(), f"search {where}"))
        else:
            marks = [m for k, m in attrs.items() if k.startswith(RUNNER_PREFIX) and isinstance(m, dict)]
            last = max(marks, key=lambda m: float(m.get("renewed", 0.0)), default=None)
            said = f"last run by pid {last.get('pid')} on {last.get('host')}" if last else "no runner"
            self._sink.emit(WorkerStateChanged(NOT_RUNNING, None, said))

    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
        """Poll every `interval` seconds until `stop` is set; sample this host's hardware too
        (the GPU pane is right when watching on the machine that trains)."""
        nvml = Nvml()
        while not stop.is_set():
            self.poll()
            self._sink.emit(sample_hardware(nvml, self._worker_pid()))
            stop.wait(interval)

    def _fingerprint(self) -> tuple[int, ...] | None:
        """Size and mtime of a SQLite storage (and its journals) or of a journal file; None for
        a database server."""
        if self._sqlite is None:
            return None
        stats = []
        for suffix in ("", "-wal", "-journal"):
            try:
                st = os.stat(f"{self._sqlite}{suffix}")
                stats += [st.st_mtime_ns, st.st_size]
            except OSError:
                stats += [0, 0]
        return tuple(stats)

    def _worker_pid(self) -> int | None:
        """A worker of a search that runs the study on this host (for the hardware pane)."""
        me = Runner.this_process()
        for mark in live_runners(self._study.user_attrs, time.time()):
            if mark.get("host") != me.host or mark.get("pidns", "") != me.pidns:
                continue
            try:
                children = psutil.Process(int(mark["pid"])).children()
            except (psutil.Error, KeyError, ValueError):
                continue
            if children:
                return children[0].pid
        return None

    def _read_metrics_of(self, number: int) -> None:
        trial = self._running.get(number)
        if trial is not None:
            self._read_metrics(trial)

    def _announce(self, study: Any) -> None:
        stored = study.user_attrs.get(CONFIG_ATTR)
        if stored is None:
            raise UserError(f"study '{study.study_name}' was not made by lorasearch (it stores no config)")
        config = parse_config(stored, f"study '{study.study_name}'")
        settings = study.user_attrs.get(SETTINGS_ATTR, {})
        target = config.grid_size() if settings.get("mode") == "grid" else settings.get("n_trials", 0)
        self._target = target or 0
        self._space = list(config.space)
        self._config = config  # a running trial's values as it trains them (a multiple's product)
        self._metric = config.params.goals[0].metric
        self._sink.emit(
            SearchStarted(
                study_name=study.study_name,
                storage=self._storage,
                mode=settings.get("mode", "?"),
                pruner=describe_pruner(settings.get("pruner", "?"), config.pruner),
                n_trials=target or 0,
                space={k: describe(v) for k, v in config.space.items()},
                fixed={k: v for k, v in config.params.model_dump().items() if k not in config.space},
                resumed=False,
                trials_done=0,
                fault_injection=study.user_attrs.get(FAULT_ATTR),
                sampler=settings.get("sampler") or describe_sampler(settings.get("mode", "?"), target or 0),
                **objective_facts(config),
                # the places its trials ran so far (several: the table gets a worker column)
                workers=tuple(
                    sorted({w for t in study.get_trials(deepcopy=False) if (w := where(t.user_attrs))})
                ),
                # this host's copy of the workers' logs, when the search runs here
                worker_logs=tuple(
                    str(log.resolve())
                    for log in sorted(
                        (Path(config.params.base_output_dir) / study.study_name).glob("worker*.log")
                    )
                ),
            )
        )
        self._announced = True

    def _read_metrics(self, trial: Any) -> None:
        folder = trial.user_attrs.get("trial_dir")
        if not folder:
            return
        data = read_regular_file(Path(folder) / LIVE_METRICS, self._offsets.get(trial.number, 0))
        if not data:
            return
        complete = data[: data.rfind(b"\n") + 1]  # a line being written waits for the next poll
        self._offsets[trial.number] = self._offsets.get(trial.number, 0) + len(complete)
        for event in decode_lines(complete):
            # the engine wrote them, the pruner's decision included: passed on as they are
            if isinstance(event, StepLogged | EvalLogged) and event.number == trial.number:
                self._sink.emit(event)

    def _finished(self, trial: Any, best: Any, pareto: tuple[int, ...]) -> TrialFinished:
        return finished(outcome_of(trial, self._metric), best, pareto)

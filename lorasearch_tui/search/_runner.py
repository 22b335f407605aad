"""The search loop: ask Optuna for a trial, have the worker train it, tell Optuna how it went.

The parent (this module) owns the study and is its only writer; it never imports torch.
Every eval is reported (`trial.report`) and the pruner asked at once; the worker waits for
that answer before it trains on. Nothing made up ever reaches the study:

- an exception or a NaN/inf loss: FAIL, with `fail_reason` in the trial's user attributes;
- out of memory: PRUNED with the constraint `out_of_memory` violated (see `_trial_record`),
  and `fail_reason` "out of memory (peak ...)", which every front end shows as OOM;
- a trial past its time limit, a worker that died or stopped talking, a message that is not
  one: FAIL with what happened; the worker's process group is killed and the search goes on;
- Ctrl+C / SIGTERM / SIGHUP / quit: FAIL with reason `interrupted`; `--resume` runs it again.

Several trials in a row failing the same way (a worker that cannot start, a model that does
not load) spend the failure budget: the search stops, exit code 1, and `--resume` runs those
trials again once the cause is fixed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..config import SearchConfig, describe
from ..errors import DiskFull, RunFailure
from ..worker import Decision, ProtocolError, Run
from ._budget import FailureBudget
from ._controls import POLL_S as _POLL_S
from ._controls import SearchControls
from ._events import (
    EvalLogged,
    GuardedSink,
    SearchFinished,
    SearchStarted,
    Sink,
    StepLogged,
    TrialFinished,
    TrialStarted,
    WorkerStateChanged,
)
from ._hardware import HardwareMonitor
from ._live_trial import LiveTrial, Outcome
from ._preflight import check_folders, fault_injection, preflight
from ._recover import recover
from ._results import trial_dir, write_best_files
from ._samplers import make_pruner, make_sampler, to_distributions
from ._storage import StorageUnavailable, mask_password
from ._study import (
    FAULT_ATTR,
    SearchSettings,
    best_trial,
    check_study_name,
    default_storage,
    done_count,
    open_study,
    trial_counts,
)
from ._trial_clock import DEFAULT_STALL_S, TrialClock
from ._trial_record import OOM_CONSTRAINT
from ._worker_proc import WORKER_COMMAND, WorkerDied, WorkerProcess

DEFAULT_MAX_FAILURES = 3
_log = logging.getLogger("lorasearch.search")

__all__ = ["OOM_CONSTRAINT", "SearchOptions", "SearchRunner"]


@dataclass(frozen=True)
class SearchOptions:
    """How to search; `given` names the settings the user set explicitly (for `--resume`)."""

    study_name: str
    n_trials: int = 20
    mode: str = "bayesian"
    pruner: str = "median"
    timeout: float | None = None
    resume: bool = False
    storage: str | None = None
    given: frozenset[str] = frozenset()
    hardware_interval: float | None = 1.0
    trial_timeout: float | None = None  # with "trial_timeout" in `given`: replaces the config's
    stall_s: float = DEFAULT_STALL_S
    max_failures_in_a_row: int = DEFAULT_MAX_FAILURES
    worker_command: tuple[str, ...] = WORKER_COMMAND  # tests give a stand-in worker


class SearchRunner:
    """Runs one search to its end (target reached, timeout, stop, interrupt, failure)."""

    def __init__(
        self,
        config: SearchConfig | None,
        options: SearchOptions,
        sink: Sink,
        controls: SearchControls | None = None,
    ) -> None:
        self._config = config
        self._options = options
        self._sink = GuardedSink(sink)
        self.controls = controls or SearchControls()
        self._worker: WorkerProcess | None = None
        self._prepared: tuple[Any, str, SearchSettings, int, dict[str, int]] | None = None
        self._faults: str | None = None
        self._budget = FailureBudget(options.max_failures_in_a_row)

    def prepare(self) -> None:
        """Check everything and open the study, without training; `run()` calls it if needed.

        A front end calls it first so that a bad config ends with its one line before any
        screen is drawn.

        Raises:
            UserError: bad config, data, model, storage or resume rules; nothing is written then.
            RunFailure: the storage stayed busy, or the disk is full.
        """
        if self._prepared is not None:
            return
        options, config = self._options, self._config
        name = check_study_name(options.study_name)
        self._faults = fault_injection()
        storage = options.storage or default_storage(name)
        if not options.resume:
            assert config is not None
            if "trial_timeout" in options.given:
                config = replace(config, trial_timeout=options.trial_timeout)
            preflight(config, options.mode, options.pruner, name, new=False)

        def check(config: SearchConfig, settings: SearchSettings) -> None:
            if options.resume:  # the stored config: its data, model and folders must still be there
                preflight(config, settings.mode, settings.pruner, name, new=False)
            else:  # known not to exist: its trial folder must not hold an older study's trials
                check_folders(config, name, new=True)

        settings = SearchSettings(options.mode, options.pruner, options.n_trials, options.trial_timeout)
        study, config, settings = open_study(
            name,
            storage,
            options.resume,
            config,
            settings,
            set(options.given),
            check=check,
            cancel=self.controls.interrupted,
        )
        self._config = config
        if self._faults:
            study.set_user_attr(FAULT_ATTR, self._faults)
        study.sampler = make_sampler(settings.mode, config.space, config.params.seed, len(study.trials))
        study.pruner = make_pruner(settings.pruner, config.params.eval_steps)
        if options.resume:
            recover(study, config)
        before = trial_counts(study)
        target = config.grid_size() if settings.mode == "grid" else settings.n_trials
        self._prepared = (study, storage, settings, target or 0, before)

    def run(self) -> SearchFinished:
        """Run the search to its end and return how it ended (see `prepare` for errors).

        A failure the search cannot ride out (the failure budget spent, a storage that stays
        busy, a full disk) ends it with reason `failed` and its one-line `message`.
        """
        self.prepare()
        assert self._prepared is not None and self._config is not None
        study, storage, settings, target, before = self._prepared
        options, config = self._options, self._config
        self._sink.emit(
            SearchStarted(
                study_name=study.study_name,
                storage=mask_password(storage),
                mode=settings.mode,
                pruner=settings.pruner,
                n_trials=target,
                space={k: describe(v) for k, v in config.space.items()},
                fixed={k: v for k, v in config.params.model_dump().items() if k not in config.space},
                resumed=options.resume,
                trials_done=done_count(before),
                fault_injection=self._faults,
            )
        )
        study_dir = Path(config.params.base_output_dir) / study.study_name
        self._worker = WorkerProcess(study_dir / "worker.log", options.worker_command)
        monitor = None
        if options.hardware_interval:
            monitor = HardwareMonitor(
                self._sink.emit, lambda: self._worker.pid if self._worker else None, options.hardware_interval
            )
            monitor.start()
        reason, message = "completed", None
        try:
            reason = self._loop(study, config, target)
        except RunFailure as exc:
            reason, message = "failed", str(exc)
        finally:
            if monitor:
                monitor.stop()
            self._worker.stop()
            self._sink.emit(WorkerStateChanged("exited"))
        counts, best = {}, None
        try:
            write_best_files(study, config)
            counts, best = trial_counts(study), best_trial(study)
        except RunFailure as exc:
            if message is None:
                reason, message = "failed", str(exc)
        finished = SearchFinished(
            reason=reason,
            counts=counts,
            best_number=best.number if best else None,
            best_value=best.value if best else None,
            best_params=dict(best.params) if best else {},
            message=message,
        )
        self._sink.emit(finished)
        return finished

    def _loop(self, study: Any, config: SearchConfig, target: int) -> str:
        options, controls = self._options, self.controls
        started = time.monotonic()
        distributions = to_distributions(config.space)
        while True:
            if controls.interrupted.is_set():
                return "interrupted"
            if controls.stop_requested.is_set():
                return "stopped"
            if done_count(trial_counts(study)) >= target:
                return "completed"
            if options.timeout is not None and time.monotonic() - started >= options.timeout:
                return "timeout"
            self._write_if_asked()
            if controls.paused.is_set():
                time.sleep(_POLL_S)
                continue
            trial = study.ask(distributions)
            self._run_trial(study, trial, config)

    def _write_if_asked(self) -> None:
        """Write the result files now if a front end asked (the `e` key)."""
        if self.controls.take_write():
            assert self._prepared is not None and self._config is not None
            write_best_files(self._prepared[0], self._config)

    def _run_trial(self, study: Any, trial: Any, config: SearchConfig) -> None:
        values = dict(trial.params)
        live = LiveTrial(
            number=trial.number,
            params=values,
            config={},
            folder=trial_dir(config, study.study_name, trial.number).resolve(),
            rerun_of=trial.user_attrs.get("rerun_of"),
        )
        trial.set_user_attr("trial_dir", str(live.folder))  # where a watcher finds live metrics
        self._sink.emit(TrialStarted(trial.number, values, live.rerun_of))
        try:
            params = config.with_values(values)
        except ValueError as exc:  # a combination the config's own rules refuse
            outcome = Outcome("FAIL", fail_reason=f"invalid parameters: {exc}", budget=True)
        else:
            live.config = params.model_dump()
            try:
                outcome = self._execute(trial, live, config.trial_timeout)
            except DiskFull:
                self._worker.kill()
                self._record(
                    study,
                    trial,
                    live,
                    Outcome("FAIL", fail_reason="interrupted (disk full)", interrupted=True),
                )
                raise
        self._record(study, trial, live, outcome)
        if outcome.disk_full:
            raise DiskFull(live.folder, f" (trial {live.number}: {outcome.fail_reason})")
        self._budget.spend(study, live.number, outcome)

    def _execute(self, trial: Any, live: LiveTrial, limit_s: float | None) -> Outcome:
        worker, controls = self._worker, self.controls
        assert worker is not None
        try:
            if not worker.alive():
                worker.start()
                self._sink.emit(WorkerStateChanged("starting", worker.pid))
            clock = TrialClock(worker.ready, self._options.stall_s, limit_s)
            worker.send(Run(trial=live.number, params=live.config, trial_dir=str(live.folder)))
            self._sink.emit(WorkerStateChanged("training", worker.pid, f"trial {live.number}"))
            while True:
                if controls.interrupted.is_set():
                    worker.kill()
                    return Outcome("FAIL", fail_reason="interrupted", interrupted=True)
                if controls.take_abort():
                    worker.kill()
                    return Outcome("FAIL", fail_reason="aborted by user", replace_worker=True)
                self._write_if_asked()  # within a poll (50 ms), not at the trial's end
                why = clock.expired()
                if why is not None:
                    worker.kill()
                    stalled = why.startswith("worker stalled")
                    return Outcome("FAIL", fail_reason=why, replace_worker=True, budget=stalled)
                message = worker.recv(_POLL_S)
                if message is not None:
                    clock.heard(message.event)
                    outcome = self._handle(trial, live, message, clock)
                    if outcome is not None:
                        return outcome
        except WorkerDied as exc:
            return Outcome("FAIL", fail_reason=str(exc), replace_worker=True, budget=True)
        except ProtocolError as exc:
            worker.kill()
            return Outcome(
                "FAIL", fail_reason=f"worker protocol error: {exc}", replace_worker=True, budget=True
            )

    def _handle(self, trial: Any, live: LiveTrial, message: Any, clock: TrialClock) -> Outcome | None:
        worker = self._worker
        assert worker is not None
        event = message.event
        if hasattr(message, "trial") and message.trial != live.number:
            raise ProtocolError(f"a '{event}' message for trial {message.trial} during trial {live.number}")
        if event == "ready":
            self._sink.emit(WorkerStateChanged("ready", worker.pid))
        elif event == "loading":
            self._sink.emit(WorkerStateChanged("loading model", worker.pid, message.model))
        elif event == "loaded":
            self._sink.emit(WorkerStateChanged("training", worker.pid, f"trial {live.number}"))
        elif event == "started":
            live.max_steps = message.max_steps
            live.log({"event": "started", "max_steps": live.max_steps})
        elif event == "step":
            entry = {"step": message.step, "loss": message.loss, "learning_rate": message.learning_rate}
            live.train.append(entry)
            live.log({"event": "step", **entry})
            self._sink.emit(
                StepLogged(live.number, message.step, live.max_steps, message.loss, message.learning_rate)
            )
        elif event == "eval":
            step, value = message.step, message.eval_loss
            live.evals.append({"step": step, "eval_loss": value})
            live.log({"event": "eval", "step": step, "eval_loss": value})
            prune = False
            if step > 0:  # step 0 is the untrained adapter: the same for every trial
                try:
                    trial.report(value, step)
                    # The last eval is the result: a trial trained to its end is COMPLETE with
                    # it (pruning it there would save nothing and throw its value away).
                    last = live.max_steps is not None and step >= live.max_steps
                    prune = not last and bool(trial.should_prune())
                except StorageUnavailable as exc:
                    # The trial trains on unpruned: its result is kept in its file at the end
                    # even if the storage is still gone then (see _record).
                    _log.warning(
                        "trial %d, step %d: not pruned, the storage did not answer: %s",
                        live.number,
                        step,
                        exc,
                    )
            worker.send(Decision(trial=live.number, step=step, prune=prune))
            clock.answered()
            self._sink.emit(EvalLogged(live.number, step, value, prune))
        elif event == "finished":
            result = message.result
            if message.pruned_at is not None:
                return Outcome("PRUNED", pruned_at=message.pruned_at, result=result)
            return Outcome("COMPLETE", value=result.eval_loss, result=result)
        elif event == "failed":
            kind = message.kind
            return Outcome(
                "PRUNED" if kind == "oom" else "FAIL",
                fail_reason=message.reason,
                oom=kind == "oom",
                peak_memory=message.peak_memory,
                replace_worker=kind in ("oom", "exception", "disk_full"),
                budget=kind in ("exception", "config"),
                interrupted=kind == "disk_full",
                disk_full=kind == "disk_full",
            )
        return None

    def _record(self, study: Any, trial: Any, live: LiveTrial, outcome: Outcome) -> None:
        """Tell the study, then write the trial's file and the best files.

        If the storage cannot be told (it stayed busy past the patience), the file is still
        written, so that `--resume` can tell the study what it says; if the file cannot be
        written (a full disk), the study has the trial and `--resume` writes the file again.
        """
        record = live.record(outcome)
        try:
            record.tell(study, trial)
        except RunFailure:
            try:
                record.write()
            except (OSError, RunFailure):
                pass  # the storage's failure is the one to report
            raise
        if outcome.replace_worker and self._worker is not None:
            self._worker.kill()
            self._sink.emit(WorkerStateChanged("replaced", None, outcome.fail_reason or ""))
        best = best_trial(study)
        self._sink.emit(
            TrialFinished(
                number=record.number,
                state=record.state,
                value=record.value,
                params=record.params,
                duration_s=record.duration_s or 0.0,
                steps=record.steps,
                pruned_at=record.pruned_at,
                fail_reason=record.fail_reason,
                peak_memory_bytes=record.peak_memory_bytes,
                best_number=best.number if best else None,
                best_value=best.value if best else None,
            )
        )
        record.write()
        write_best_files(study, self._config)

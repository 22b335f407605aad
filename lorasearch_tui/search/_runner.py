"""The search loop: ask Optuna for a trial, have the worker train it, tell Optuna how it went.

The parent (this module) owns the study and is its only writer; it never imports torch.
Every eval is reported (`trial.report`) and the pruner asked at once; the worker waits for
that answer before it trains on. Nothing made up ever reaches the study:

- an exception or a NaN/inf loss: FAIL, with `fail_reason` in the trial's user attributes;
- out of memory: PRUNED with the constraint `out_of_memory` = 1 (violated). Optuna's TPE
  sampler reads constraints only of COMPLETE and PRUNED trials, and ranks a trial with a
  violated constraint below every feasible one, so recording the trial as PRUNED is what
  teaches it to avoid that region; a FAIL would be ignored. The trial still carries
  `fail_reason` "out of memory (peak ...)", which every front end shows instead of "pruned";
- Ctrl+C / SIGTERM / quit: FAIL with reason `interrupted`; `--resume` runs its params again.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..config import SearchConfig, describe
from ..data import load_data
from ..errors import UserError
from ..locate import model_path
from ._controls import POLL_S as _POLL_S
from ._controls import SearchControls
from ._events import (
    EvalLogged,
    SearchFinished,
    SearchStarted,
    Sink,
    StepLogged,
    TrialFinished,
    TrialStarted,
    WorkerStateChanged,
)
from ._hardware import HardwareMonitor
from ._results import LIVE_METRICS, trial_dir, write_best_files, write_trial_results
from ._samplers import make_pruner, make_sampler, to_distributions
from ._study import (
    INTERRUPTED,
    RESULTS_DIR,
    SearchSettings,
    best_trial,
    default_storage,
    done_count,
    mask_password,
    open_study,
    recover_interrupted,
    trial_counts,
)
from ._worker_proc import WorkerDied, WorkerProcess

OOM_CONSTRAINT = "out_of_memory"


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


@dataclass
class _Outcome:
    state: str  # COMPLETE, PRUNED, FAIL
    value: float | None = None
    fail_reason: str | None = None
    pruned_at: int | None = None
    result: dict[str, Any] | None = None
    oom: bool = False
    peak_memory: int | None = None
    interrupted: bool = False
    replace_worker: bool = False


@dataclass
class _TrialRecord:
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

    def log(self, entry: dict[str, Any]) -> None:
        """Append one step or eval to the trial's live metrics file (read by `lorasearch watch`)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / LIVE_METRICS).open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")


class SearchRunner:
    """Runs one search to its end (target reached, timeout, stop, interrupt)."""

    def __init__(
        self,
        config: SearchConfig | None,
        options: SearchOptions,
        sink: Sink,
        controls: SearchControls | None = None,
    ) -> None:
        self._config = config
        self._options = options
        self._sink = sink
        self.controls = controls or SearchControls()
        self._worker: WorkerProcess | None = None
        self._prepared: tuple[Any, str, SearchSettings, int, dict[str, int]] | None = None

    def prepare(self) -> None:
        """Check everything and open the study, without training; `run()` calls it if needed.

        A front end calls it first so that a bad config ends with its one line before any
        screen is drawn.

        Raises:
            UserError: bad config, data, model, storage or resume rules; nothing is written then.
        """
        if self._prepared is not None:
            return
        options, config = self._options, self._config
        storage = options.storage or default_storage(options.study_name)
        if not options.resume:
            assert config is not None
            self._check_new_search(config)
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        settings = SearchSettings(options.mode, options.pruner, options.n_trials)
        study, config, settings = open_study(
            options.study_name, storage, options.resume, config, settings, set(options.given)
        )
        self._config = config
        before = trial_counts(study)
        study.sampler = make_sampler(settings.mode, config.space, config.params.seed, len(study.trials))
        study.pruner = make_pruner(settings.pruner, config.params.eval_steps)
        if options.resume:
            recover_interrupted(study)
        target = config.grid_size() if settings.mode == "grid" else settings.n_trials
        self._prepared = (study, storage, settings, target or 0, before)

    def run(self) -> SearchFinished:
        """Run the search to its end and return how it ended (see `prepare` for errors)."""
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
            )
        )
        study_dir = Path(config.params.base_output_dir) / study.study_name
        self._worker = WorkerProcess(study_dir / "worker.log")
        monitor = None
        if options.hardware_interval:
            monitor = HardwareMonitor(
                self._sink.emit, lambda: self._worker.pid if self._worker else None, options.hardware_interval
            )
            monitor.start()
        reason = "completed"
        try:
            reason = self._loop(study, config, target)
        finally:
            if monitor:
                monitor.stop()
            self._worker.stop()
            self._sink.emit(WorkerStateChanged("exited"))
            write_best_files(study, config)
        counts = trial_counts(study)
        best = best_trial(study)
        finished = SearchFinished(
            reason=reason,
            counts=counts,
            best_number=best.number if best else None,
            best_value=best.value if best else None,
            best_params=dict(best.params) if best else {},
        )
        self._sink.emit(finished)
        return finished

    def _check_new_search(self, config: SearchConfig) -> None:
        """Everything that can be checked before the study exists: space, mode, data, model."""
        if not config.space:
            raise UserError(
                f"{config.source}: search_space: nothing to search; add a search_space "
                f"(or run lorasearch train for one fixed config)"
            )
        make_sampler(self._options.mode, config.space, config.params.seed, 0)  # grid refuses floats
        make_pruner(self._options.pruner, config.params.eval_steps)
        load_data(config.params)
        model_path(config.params.model_name)

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
            if controls.take_write():
                write_best_files(study, config)
            if controls.paused.is_set():
                time.sleep(_POLL_S)
                continue
            trial = study.ask(distributions)
            self._run_trial(study, trial, config)

    def _run_trial(self, study: Any, trial: Any, config: SearchConfig) -> None:
        values = dict(trial.params)
        record = _TrialRecord(
            number=trial.number,
            params=values,
            config={},
            folder=trial_dir(config, study.study_name, trial.number).resolve(),
            rerun_of=trial.user_attrs.get("rerun_of"),
        )
        trial.set_user_attr("trial_dir", str(record.folder))  # where a watcher finds live metrics
        self._sink.emit(TrialStarted(trial.number, values, record.rerun_of))
        try:
            params = config.with_values(values)
        except Exception as exc:  # a combination the config's own rules refuse
            outcome = _Outcome("FAIL", fail_reason=f"invalid parameters: {exc}")
        else:
            record.config = params.model_dump()
            outcome = self._execute(trial, params.model_dump(), record)
        self._record(study, trial, record, outcome)

    def _execute(self, trial: Any, params: dict[str, Any], record: _TrialRecord) -> _Outcome:
        worker, controls = self._worker, self.controls
        assert worker is not None
        try:
            if not worker.alive():
                worker.start()
                self._sink.emit(WorkerStateChanged("starting", worker.pid))
            worker.send(
                {"cmd": "run", "trial": record.number, "params": params, "trial_dir": str(record.folder)}
            )
            self._sink.emit(WorkerStateChanged("training", worker.pid, f"trial {record.number}"))
            while True:
                if controls.interrupted.is_set():
                    worker.kill()
                    return _Outcome("FAIL", fail_reason="interrupted", interrupted=True)
                if controls.take_abort():
                    worker.kill()
                    return _Outcome("FAIL", fail_reason="aborted by user", replace_worker=True)
                message = worker.recv(_POLL_S)
                if message is not None:
                    outcome = self._handle(trial, record, message)
                    if outcome is not None:
                        return outcome
        except WorkerDied as exc:
            return _Outcome("FAIL", fail_reason=f"worker crashed: {exc}", replace_worker=True)

    def _handle(self, trial: Any, record: _TrialRecord, message: dict[str, Any]) -> _Outcome | None:
        event = message.get("event")
        if event == "ready":
            self._sink.emit(WorkerStateChanged("ready", self._worker.pid))
        elif event == "loading":
            self._sink.emit(WorkerStateChanged("loading model", self._worker.pid, str(message.get("model"))))
        elif event == "loaded":
            self._sink.emit(WorkerStateChanged("training", self._worker.pid, f"trial {record.number}"))
        elif event == "started":
            record.max_steps = int(message["max_steps"])
            record.log({"event": "started", "max_steps": record.max_steps})
        elif event == "step":
            entry = {"step": message["step"], "loss": message["loss"], "learning_rate": message["lr"]}
            record.train.append(entry)
            record.log({"event": "step", **entry})
            self._sink.emit(
                StepLogged(record.number, message["step"], record.max_steps, message["loss"], message["lr"])
            )
        elif event == "eval":
            step, value = int(message["step"]), float(message["value"])
            record.evals.append({"step": step, "eval_loss": value})
            record.log({"event": "eval", "step": step, "eval_loss": value})
            prune = False
            if step > 0 and math.isfinite(value):  # step 0 is the untrained adapter: the same for all
                trial.report(value, step)
                prune = bool(trial.should_prune())
            self._worker.send({"cmd": "decision", "trial": record.number, "step": step, "prune": prune})
            self._sink.emit(EvalLogged(record.number, step, value, prune))
        elif event == "finished":
            result, pruned_at = message["result"], message.get("pruned_at")
            if pruned_at is not None:
                return _Outcome("PRUNED", pruned_at=pruned_at, result=result)
            return _Outcome("COMPLETE", value=result["eval_loss"], result=result)
        elif event == "failed":
            oom = message["kind"] == "oom"
            return _Outcome(
                "PRUNED" if oom else "FAIL",
                fail_reason=message["reason"],
                oom=oom,
                peak_memory=message.get("peak_memory"),
                replace_worker=message["kind"] in ("oom", "exception"),
            )
        return None

    def _record(self, study: Any, trial: Any, record: _TrialRecord, outcome: _Outcome) -> None:
        from optuna.trial import TrialState

        duration = time.monotonic() - record.started
        result = outcome.result or {}
        steps = result.get("steps") or (record.train[-1]["step"] if record.train else 0)
        peak = result.get("peak_memory_bytes") or outcome.peak_memory
        attrs = {
            "fail_reason": outcome.fail_reason,
            "pruned_at": outcome.pruned_at,
            "steps": steps,
            "max_steps": record.max_steps,
            "duration_s": round(duration, 3),
            "peak_memory_bytes": peak,
            "tokens_per_s": result.get("tokens_per_s"),
            "trial_dir": str(record.folder),
        }
        for key, value in attrs.items():
            if value is not None:
                trial.set_user_attr(key, value)
        if outcome.interrupted:
            trial.set_user_attr(INTERRUPTED, True)
        if outcome.oom:
            trial.set_user_attr("oom", True)
            trial.set_constraint(OOM_CONSTRAINT, 1.0)
        state = {"COMPLETE": TrialState.COMPLETE, "PRUNED": TrialState.PRUNED, "FAIL": TrialState.FAIL}[
            outcome.state
        ]
        if state == TrialState.COMPLETE:
            study.tell(trial, outcome.value)
        else:
            study.tell(trial, state=state)
        adapter = record.folder / "adapter"
        write_trial_results(
            record.folder,
            {
                "number": record.number,
                "state": outcome.state,
                "params": record.params,
                "config": record.config,
                "value": outcome.value,
                "metric": "eval_loss",
                "fail_reason": outcome.fail_reason,
                "pruned_at": outcome.pruned_at,
                "rerun_of": record.rerun_of,
                "train_loss": record.train,
                "eval": record.evals,
                "steps": steps,
                "max_steps": record.max_steps,
                "runtime_s": result.get("runtime_s", round(duration, 3)),
                "tokens_per_s": result.get("tokens_per_s"),
                "peak_memory_bytes": peak,
                "memory_kind": result.get("memory_kind"),
                "started_at": record.started_at,
                "adapter": str(adapter) if adapter.is_dir() else None,
            },
        )
        write_best_files(study, self._config)
        if outcome.replace_worker and self._worker is not None:
            self._worker.kill()
            self._sink.emit(WorkerStateChanged("replaced", None, outcome.fail_reason or ""))
        best = best_trial(study)
        self._sink.emit(
            TrialFinished(
                number=record.number,
                state=outcome.state,
                value=outcome.value,
                params=record.params,
                duration_s=duration,
                steps=steps,
                pruned_at=outcome.pruned_at,
                fail_reason=outcome.fail_reason,
                peak_memory_bytes=peak,
                best_number=best.number if best else None,
                best_value=best.value if best else None,
            )
        )

"""One trial worker and the trial it runs: what the search loop drives, one per GPU (or CPU
worker), several at once.

A slot is served without blocking: `serve()` reads whatever its worker has sent, answers the
pruner's decisions, checks the trial's clocks, and says how the trial ended once it has. The
search loop serves every busy slot in turn and waits on all their pipes at once, so one slow
or silent worker never holds up another, and a key still acts within a poll.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from ..events import EvalLogged, Sink, StepLogged, WorkerStateChanged
from ..store import StorageUnavailable
from ..worker import (
    Decision,
    Failed,
    Finished,
    Loaded,
    Loading,
    ProtocolError,
    Ready,
    Run,
    Save,
    Saved,
    Started,
    WorkerDied,
    WorkerProcess,
)
from ._live_trial import Ending, LiveTrial
from ._memory_guard import MemoryGuard
from ._placement import Placement
from ._trial_clock import TrialClock

_log = logging.getLogger("lorasearch.search")


def record_key(step: int, eval_steps: int, records: int) -> int:
    """The key of an eval's first record: evals numbered 1, 2, ... (the last one, at a step off
    the grid of `eval_steps`, gets the next number), `records` keys each."""
    return -(-step // eval_steps) * records


def reports_records(pruner: Any) -> bool:
    """A pruner that judges record by record (Optuna's Wilcoxon): it is told each record's
    score at a step, under keys of their own, instead of the step's one value."""
    import optuna

    return isinstance(pruner, optuna.pruners.WilcoxonPruner)


SAVING = object()  # `poll_saved`: the worker has not said yet


def report_eval(trial: Any, live: LiveTrial, message: EvalLogged) -> None:
    """Tell Optuna an eval: its value at its step, or for a pruner that judges record by
    record, each record's score under a key of its own."""
    if message.scores and reports_records(trial.study.pruner):
        # Wilcoxon's instances: each record of this eval under a key of its own, the same in
        # every trial (the eval's number, not its step: 32-bit keys)
        first = record_key(message.step, live.config.get("eval_steps") or 1, len(message.scores))
        for i, score in enumerate(message.scores):
            trial.report(score, first + i)
    else:
        trial.report(message.value, message.step)


@dataclass
class _Running:
    trial: Any  # Optuna's Trial
    live: LiveTrial
    clock: TrialClock


class WorkerSlot:
    """A worker process and the trial it is running, if any."""

    def __init__(
        self,
        index: int,
        placement: Placement,
        worker: WorkerProcess,
        sink: Sink,
        stall_s: float,
        guard: MemoryGuard | None = None,
    ) -> None:
        self.index = index
        self.placement = placement
        self.worker = worker
        self._sink = sink
        self._stall_s = stall_s
        self._guard = guard or MemoryGuard()
        self._trials_on_worker = 0  # trials the current worker process finished
        self._recycle: str | None = None  # why the worker is to be replaced before the next trial
        self._running: _Running | None = None

    @property
    def busy(self) -> bool:
        return self._running is not None

    @property
    def trial(self) -> Any:
        return self._running.trial if self._running else None

    @property
    def live(self) -> LiveTrial | None:
        return self._running.live if self._running else None

    def hold(self, trial: Any, live: LiveTrial) -> None:
        """Take a trial that ends before it reaches the worker (its params were refused)."""
        self._running = _Running(trial, live, TrialClock(True, self._stall_s))

    def begin(
        self, trial: Any, live: LiveTrial, limit_s: float | None, checkpoint_every: int = 0
    ) -> Ending | None:
        """Hand the trial to the worker (started first if need be); its Ending if that failed.

        A rerun with a checkpoint to resume from (`live.resumed`) first takes the lost trial's
        curve up to it as its own: logged, shown, and told to Optuna."""
        resumed = live.resumed
        if resumed is not None:
            self._replay(trial, live, resumed.curve(live.number))
        worker = self.worker
        if self._recycle is not None:
            # Idle, holding nothing to save: killed at once (an orderly exit takes seconds in
            # which this loop would serve no other worker).
            worker.kill()
            self._sink.emit(WorkerStateChanged("recycled", None, self._recycle, self.placement.label))
            self._recycle = None
        try:
            if not worker.alive():
                worker.start()
                self._trials_on_worker = 0
                self._emit_state("starting")
            clock = TrialClock(worker.ready, self._stall_s, limit_s)
            self._running = _Running(trial, live, clock)
            worker.send(
                Run(
                    trial=live.number,
                    params=live.config,
                    trial_dir=str(live.folder),
                    checkpoint_every=checkpoint_every,
                    resume_from=str(resumed.checkpoint) if resumed is not None else None,
                )
            )
            self._emit_state("training", f"trial {live.number}")
        except WorkerDied as exc:
            self._running = _Running(trial, live, TrialClock(False, self._stall_s, limit_s))
            return self.ending("FAIL", fail_reason=str(exc), replace_worker=True, budget=True)
        return None

    def ask_to_save(self) -> bool:
        """Ask the worker to checkpoint its trial at the end of the step it is in and stop
        (the search is stopping); False when the worker is gone."""
        live = self.live
        assert live is not None
        try:
            self.worker.send(Save(trial=live.number))
        except (WorkerDied, OSError):
            return False
        return True

    def poll_saved(self) -> int | Ending | None | object:
        """Read what the worker asked to save has sent, without waiting: the checkpoint's step
        once it says so; `SAVING` while it works on. Its steps are logged and its evals
        answered (go on: the trial is stopping anyway) meanwhile. An Ending when the trial ended
        by itself first (recorded as it ended); None when the worker stopped without a
        checkpoint or died."""
        running = self._running
        assert running is not None
        live = running.live
        try:
            while (message := self.worker.recv(0)) is not None:
                match message:
                    case Saved():
                        return message.step
                    case StepLogged():
                        live.log(message)
                        self._sink.emit(message)
                    case EvalLogged():
                        self._answer(running, message, prune=False)
                    case Finished() | Failed():
                        return self._handle(running, message)
        except (WorkerDied, ProtocolError, OSError):
            return None
        return SAVING

    def ending(
        self,
        state: str,
        *,
        replace_worker: bool = False,
        budget: bool = False,
        disk_full: bool = False,
        result: Any = None,
        **facts: Any,
    ) -> Ending:
        """How the slot's trial ended (see `LiveTrial.ended` for `facts`) and what follows."""
        live = self.live
        assert live is not None
        outcome = live.ended(state, self.placement.label, result, **facts)
        return Ending(outcome, replace_worker, budget, disk_full)

    def _emit_state(self, state: str, detail: str = "") -> None:
        self._sink.emit(WorkerStateChanged(state, self.worker.pid, detail, self.placement.label))

    def replaced(self, why: str) -> None:
        """The worker was killed after its trial (it goes on with a fresh one)."""
        self.worker.kill()
        self._sink.emit(WorkerStateChanged("replaced", None, why, self.placement.label))

    def recycled(self, why: str) -> None:
        """The worker must not train another trial (the memory guard, `--recycle-every`),
        although its trial went well: it is replaced when the next trial begins (a search that
        ends here just stops it)."""
        self._recycle = why

    def done(self) -> None:
        """The trial has been recorded: the slot takes the next one."""
        self._running = None

    def wants_reading(self) -> bool:
        return self._running is not None and self.worker.has_message()

    def serve(self) -> Ending | None:
        """Read what the worker sent (without waiting), check the clocks; how the trial ended,
        or None while it runs."""
        running = self._running
        assert running is not None
        worker = self.worker
        try:
            why = running.clock.expired()
            if why is not None:
                worker.kill()
                stalled = why.startswith("worker stalled")
                return self.ending("FAIL", fail_reason=why, replace_worker=True, budget=stalled)
            while (message := worker.recv(0)) is not None:
                running.clock.heard(message.event)
                ending = self._handle(running, message)
                if ending is not None:
                    return ending
        except WorkerDied as exc:
            return self.ending("FAIL", fail_reason=str(exc), replace_worker=True, budget=True)
        except ProtocolError as exc:
            worker.kill()
            return self.ending(
                "FAIL", fail_reason=f"worker protocol error: {exc}", replace_worker=True, budget=True
            )
        return None

    def _handle(self, running: _Running, message: Any) -> Ending | None:
        live = running.live
        number = getattr(message, "trial", getattr(message, "number", live.number))
        if number != live.number:
            raise ProtocolError(f"a '{message.event}' message for trial {number} during trial {live.number}")
        match message:
            case Ready():
                pass  # a fresh worker's hello: it has its trial already, so it stays "training"
            case Loading():
                self._emit_state("loading model", message.model)
            case Loaded():
                self._emit_state("training", f"trial {live.number}")
            case Started():
                live.max_steps = message.max_steps
            case StepLogged():
                live.log(message)
                self._sink.emit(message)
            case EvalLogged():
                self._judge(running, message)
            case Finished():
                result = message.result
                self._trials_on_worker += 1
                recycle = self._guard.reason(result, self._trials_on_worker)
                ending = self._finished(running.trial, message, result)
                return replace(ending, recycle=recycle) if recycle else ending
            case Failed(kind=kind):
                return self.ending(
                    "PRUNED" if kind == "oom" else "FAIL",
                    fail_reason=message.reason,
                    oom=kind == "oom",
                    peak_memory_bytes=message.peak_memory,
                    replace_worker=kind in ("oom", "exception", "disk_full"),
                    budget=kind in ("exception", "config"),
                    interrupted=kind == "disk_full",
                    disk_full=kind == "disk_full",
                )
        return None

    def _judge(self, running: _Running, message: EvalLogged) -> None:
        """The pruner's decision on an eval, sent to the worker, logged and shown with it."""
        trial, live = running.trial, running.live
        step = message.step
        prune = False
        # Optuna neither reports nor prunes trials of several objectives (the runner said
        # so once when the search started): every trial trains to its end.
        if step > 0 and len(trial.study.directions) == 1:  # step 0: the untrained adapter
            try:
                report_eval(trial, live, message)
                # The last eval is the result: a trial trained to its end is COMPLETE with
                # it (pruning it there would save nothing and throw its value away).
                last = live.max_steps is not None and step >= live.max_steps
                prune = not last and bool(trial.should_prune())
            except StorageUnavailable as exc:
                # The trial trains on unpruned: its result is kept in its file at the end
                # even if the storage is still gone then (see the runner's _record).
                _log.warning(
                    "trial %d, step %d: not pruned, the storage did not answer: %s", live.number, step, exc
                )
        self._answer(running, message, prune)

    def _answer(self, running: _Running, message: EvalLogged, prune: bool) -> None:
        """Send the worker the decision on its eval; log and show the eval with it."""
        self.worker.send(Decision(trial=running.live.number, step=message.step, prune=prune))
        running.clock.answered()
        decided = replace(message, pruned=prune)
        running.live.log(decided)
        self._sink.emit(decided)

    def _replay(self, trial: Any, live: LiveTrial, curve: list[StepLogged | EvalLogged]) -> None:
        """Log, show and report a resumed trial's earlier steps and evals (never judged again)."""
        for event in curve:
            if isinstance(event, EvalLogged) and event.step > 0 and len(trial.study.directions) == 1:
                try:
                    report_eval(trial, live, event)
                except StorageUnavailable as exc:  # only the pruner's view of the curve is shorter
                    _log.warning("trial %d: step %d not told to the study: %s", live.number, event.step, exc)
            live.log(event)
            self._sink.emit(event)

    def _finished(self, trial: Any, message: Any, result: Any) -> Ending:
        """How a trial the worker trained to its end (or until pruned) ended."""
        if message.pruned_at is not None:
            return self.ending("PRUNED", pruned_at=message.pruned_at, result=result)
        # `value` is the objective's; a worker that sends none measured the eval loss only
        value = result.value if result.value is not None else result.eval_loss
        wanted = len(trial.study.directions)
        if wanted == 1:
            return self.ending("COMPLETE", value=value, result=result)
        if result.values is None or len(result.values) != wanted:
            got = "none" if result.values is None else len(result.values)
            why = f"the worker measured {got} of the {wanted} objectives"
            return self.ending("FAIL", fail_reason=why, result=result)
        return self.ending("COMPLETE", values=list(result.values), result=result)

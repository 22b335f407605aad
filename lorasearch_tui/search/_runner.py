"""The search loop: ask Optuna for trials, have the workers train them, tell Optuna how they went.

One worker per GPU (or `--workers N` on the CPU) trains a trial each, all at once; the loop
serves them in turn without blocking (see `_slot.py`). The parent (this module) is the only
writer of the study in this process; it never imports torch.
Every eval is reported (`trial.report`) and the pruner asked at once; the worker waits for
that answer before it trains on. Nothing made up ever reaches the study:

- an exception or a NaN/inf loss: FAIL, with `fail_reason` in the trial's user attributes;
- out of memory: PRUNED with the constraint `out_of_memory` violated (see `store/_outcomes.py`),
  and `fail_reason` "out of memory (peak ...)", which every front end shows as OOM;
- a trial past its time limit, a worker that died or stopped talking, a message that is not
  one: FAIL with what happened; the worker's process group is killed and the search goes on;
- Ctrl+C / SIGTERM / SIGHUP / quit: FAIL with reason `interrupted`; `--resume` runs it again
  (with `--checkpoint-every`, from the checkpoint each trial writes as the search stops).

Several trials in a row failing the same way (a worker that cannot start, a model that does
not load) spend the failure budget: the search stops, exit code 1, and `--resume` runs those
trials again once the cause is fixed.
"""

from __future__ import annotations

import gc
import logging
import time
from pathlib import Path
from typing import Any

from ..config import SearchConfig
from ..errors import DiskFull, RunFailure
from ..events import (
    GuardedSink,
    SearchControls,
    SearchFinished,
    Sink,
    StudyProgress,
    TrialStarted,
    WorkerStateChanged,
)
from ..hardware import HardwareMonitor
from ..options import SAVE_WAIT_S, SearchOptions
from ..store import (
    ARTIFACTS_ATTR,
    RESUMED_ATTR,
    Leases,
    best_trial,
    done_count,
    finished,
    importances,
    open_artifacts,
    pareto_trials,
    queue_rerun,
    record_surplus,
    recover,
    search_finished,
    send_or_say,
    surplus_reason,
    tell_or_keep,
    trial_counts,
    trial_dir,
    upload_results,
    upload_trial,
    write_best_files,
    write_trial_results,
)
from ._budget import FailureBudget
from ._live_trial import Ending, LiveTrial
from ._placement import Placement
from ._pool import WorkerPool
from ._prepare import Prepared, open_search
from ._resume import chain_folders, remove_checkpoints, resume_point
from ._samplers import ask
from ._slot import SAVING, WorkerSlot

Counts = dict[str, int]  # `trial_counts`: complete, pruned, failed, interrupted, running
_log = logging.getLogger("lorasearch.search")
DONE_HERE = "done here"  # the reason a runner gives when it took the trials --max-trials-here allows


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
        self._placements: list[Placement] = []
        self._pool: WorkerPool | None = None
        self._prepared: Prepared | None = None
        self._budget = FailureBudget(options.max_failures_in_a_row)
        self._leases: Leases | None = None
        self._mode = options.mode
        self._next_count = 0.0
        self._counts_now: Counts | None = None  # read at a trial's end in this poll
        self._progress: StudyProgress | None = None
        self._target = 0
        self._importances_at = -1  # COMPLETE trials the last importances were computed from
        self._finished_here = 0  # trials this runner finished (for --max-trials-here)
        self._artifacts: Any = None  # the study's shared artifact store (--artifacts), if any

    @property
    def study_name(self) -> str | None:
        """The study's name: as asked until it is open (None: a name is made then)."""
        return self._prepared.study.study_name if self._prepared else self._options.study_name

    def prepare(self) -> None:
        """Check everything and open the study, without training; `run()` calls it if needed.

        The console calls it before drawing any progress; the terminal UI once its screen is
        up (and closes it on an error, for the same one line).

        Raises:
            UserError: bad config, data, model, storage or resume rules; nothing is written then.
            RunFailure: the storage stayed busy, or the disk is full.
        """
        if self._prepared is not None:
            return
        self._prepared = prepared = open_search(self._config, self._options, self.controls.interrupted)
        self._config, self._mode = prepared.config, prepared.settings.mode
        self._placements, self._leases = prepared.placements, prepared.leases
        # every runner of a study uploads to its store, the first one's URL when none is given
        url = self._options.artifacts or prepared.study.user_attrs.get(ARTIFACTS_ATTR)
        self._artifacts = open_artifacts(url) if url else None

    def run(self) -> SearchFinished:
        """Run the search to its end and return how it ended (see `prepare` for errors); a
        failure it cannot ride out (the failure budget spent, a storage that stays busy, a full
        disk) ends it with reason `failed` and its one-line `message`."""
        self.prepare()
        assert self._prepared is not None and self._config is not None
        p = self._prepared
        study, target = p.study, p.target
        options, config = self._options, self._config
        study_dir = (Path(config.params.base_output_dir) / study.study_name).resolve()
        self._pool = pool = WorkerPool(self._placements, study_dir, options, self._sink)
        self._sink.emit(p.started(pool.logs))
        monitor = HardwareMonitor(self._sink.emit, pool.pids, options.hardware_interval or 1.0)
        if options.hardware_interval:
            monitor.start()
        reason, message = "completed", None
        gc.freeze()  # what lives to the end (libraries, study, screen): not walked by each full gc
        try:
            reason = self._loop(study, config, target)
            if reason == DONE_HERE:
                message = self._done_here_line(study, target)
        except RunFailure as exc:
            reason, message = "failed", str(exc)
            self._end_running(study, fail_reason="interrupted", interrupted=True)
        finally:
            gc.unfreeze()  # what this search held may go now (the TUI's home screen lives on)
            monitor.stop()
            pool.stop()
            self._sink.emit(WorkerStateChanged("exited"))
            try:
                self._leases.end()
            except RunFailure:
                pass  # the storage is gone: the mark runs out by itself
        finished = search_finished(study, config, reason, message)
        self._sink.emit(finished)
        return finished

    def _loop(self, study: Any, config: SearchConfig, target: int) -> str:
        """Start trials on idle workers while the study needs more, serve the running ones;
        how the search ended."""
        options, controls = self._options, self.controls
        started = time.monotonic()
        self._target = target
        ending: str | None = None
        self._next_count = 0.0  # when to read the study's counts again (a trial's end: at once)
        while True:
            self._counts_now = None
            if controls.interrupted.is_set():
                self._end_running(study, hand_over=True, fail_reason="interrupted", interrupted=True)
                return "interrupted"
            self._take_requests(study)
            for slot in self._pool.busy():
                self._serve(study, slot)
            if self._leases.due():
                self._keep_leases(study, config, target)
            if ending is None:
                if controls.stop_requested.is_set():
                    ending = "stopped"
                elif options.timeout is not None and time.monotonic() - started >= options.timeout:
                    ending = "timeout"
            if ending is not None and not self._pool.busy():
                return ending
            may_start = ending is None and self._pool.idle() and not controls.paused.is_set()
            if may_start and time.monotonic() >= self._next_count:
                ending = self._start_what_is_needed(study, config, target)
                if ending == "completed":
                    return ending
            self._pool.wait()

    def _take_requests(self, study: Any) -> None:
        """The front end's aborts and its `e` key, within a poll (50 ms), not at a trial's end."""
        for number in self.controls.take_aborts():
            slot = self._pool.running(number)
            if slot is not None:
                slot.worker.kill()
                self._finish(
                    study, slot, slot.ending("FAIL", fail_reason="aborted by user", replace_worker=True)
                )
        if self.controls.take_write():
            write_best_files(study, self._config)

    def _keep_leases(self, study: Any, config: SearchConfig, target: int) -> None:
        """Renew this runner's leases; record the trials whose runner is gone (any host's)."""
        busy = self._pool.busy()
        self._leases.renew([(s.trial, s.placement.label) for s in busy])
        mine = frozenset(s.live.number for s in busy if s.live is not None)
        recover(study, config, self._leases.lost, mine)
        self._counts_now = trial_counts(study)  # other hosts' trials too, those just recovered
        self._tell_progress(self._counts_now, target)

    def _start_what_is_needed(self, study: Any, config: SearchConfig, target: int) -> str | None:
        """Start as many trials on idle workers as the study still needs and this runner may
        take. `completed` when the study needs none and nothing runs here; `done here` when
        this runner has finished the trials `--max-trials-here` allows it (the loop then ends
        once its running ones end)."""
        busy, idle = self._pool.busy(), self._pool.idle()
        counts = self._counts_now or trial_counts(study)  # a trial's end just read them
        self._tell_progress(counts, target)
        done = done_count(counts)
        if done >= target and not busy:
            return "completed"
        need = target - done - counts["running"]
        limit = self._options.max_trials_here
        if limit is not None:
            room = limit - self._finished_here - len(busy)
            if room <= 0:
                return DONE_HERE
            need = min(need, room)
        for slot in idle[: max(0, need)]:
            self._start(study, slot, ask(study, config.space), config, target)
        if need <= 0:  # the running trials (here or elsewhere) finish it: no storage read a poll
            self._next_count = time.monotonic() + 1.0
        return None

    def _done_here_line(self, study: Any, target: int) -> str:
        """What a runner that took its share says as it leaves (the study may go on elsewhere)."""
        limit = self._options.max_trials_here
        try:
            done = f"; the study has {done_count(trial_counts(study))} of {target}"
        except RunFailure:
            done = ""
        trials = f"{limit} trial{'s' if limit != 1 else ''}"
        return f"this runner finished the {trials} --max-trials-here allows{done}"

    def _tell_progress(self, counts: dict[str, int], target: int) -> None:
        """Emit the study's counts when they changed (the header's figures for all hosts)."""
        progress = StudyProgress(done_count(counts), counts["running"], target)
        if progress != self._progress:
            self._progress = progress
            self._sink.emit(progress)

    def _start(self, study: Any, slot: WorkerSlot, trial: Any, config: SearchConfig, target: int) -> None:
        self._leases.take(trial, slot.placement.label)
        why = surplus_reason(study, trial, target, self._mode == "grid")
        if why is not None:  # another runner took the last trial (or this grid point) meanwhile
            record_surplus(study, trial, why)
            return
        live = LiveTrial.of(trial, trial_dir(config, study.study_name, trial.number).resolve())
        where = slot.placement.label
        try:
            params = config.with_values(live.params)
        except ValueError as exc:  # a combination the config's own rules refuse
            self._sink.emit(TrialStarted(trial.number, live.params, live.rerun_of, where, str(live.folder)))
            slot.hold(trial, live)
            invalid = slot.ending("FAIL", fail_reason=f"invalid parameters: {exc}", budget=True)
            self._finish(study, slot, invalid)
            return
        live.config = params.model_dump()
        live.derived = config.derived(live.params)  # shown as they train: lora_alpha 32, not x2
        shown = {**live.params, **live.derived}
        # early stopping's patience and best adapter are not in a checkpoint: such a trial starts over
        if params.early_stopping_patience is None:
            live.resumed = resume_point(study, live.rerun_of)
        resumed_at = None
        if live.resumed is not None:
            resumed_at = live.resumed.step
            trial.set_user_attr(RESUMED_ATTR, {"trial": live.resumed.trial, "step": resumed_at})
        self._sink.emit(TrialStarted(trial.number, shown, live.rerun_of, where, str(live.folder), resumed_at))
        failed = slot.begin(trial, live, config.trial_timeout, self._options.checkpoint_every)
        if failed is not None:
            self._finish(study, slot, failed)

    def _serve(self, study: Any, slot: WorkerSlot) -> None:
        try:
            ending = slot.serve()
        except DiskFull:
            slot.worker.kill()
            full = slot.ending("FAIL", fail_reason="interrupted (disk full)", interrupted=True)
            self._finish(study, slot, full)
            raise
        if ending is not None:
            self._finish(study, slot, ending)

    def _finish(self, study: Any, slot: WorkerSlot, ending: Ending) -> None:
        """Record the slot's trial and free the slot; the failure budget and a full disk may
        end the search from here."""
        trial, live = slot.trial, slot.live
        assert live is not None
        if not ending.outcome.interrupted:
            self._finished_here += 1  # an interrupted trial runs again: it is nobody's yet
        try:
            counts = self._record(study, trial, live, ending, slot)
        finally:
            slot.done()
            self._next_count = 0.0  # a slot is free: ask the study now whether it needs more
        try:
            self._counts_now = counts  # the study with this trial in
            self._tell_progress(counts, self._target)
            if ending.outcome.state == "COMPLETE" or counts["complete"] != self._importances_at:
                self._importances_at = counts["complete"]
                self._sink.emit(importances(study, list(self._config.space)))  # a few ms a trial
        except RunFailure:
            pass  # only figures on the screen: the loop's next read of the storage will tell
        if ending.disk_full:
            raise DiskFull(live.folder, f" (trial {live.number}: {ending.outcome.fail_reason})")
        self._budget.spend(study, ending)

    def _end_running(self, study: Any, hand_over: bool = False, **facts: Any) -> None:
        """Stop every running trial now and record it FAIL with `facts` (interrupted: it runs
        again on resume). Used on Ctrl+C, and when the search ends on a failure.

        `hand_over` (an interrupt): each trial's parameters are queued first, so that runners
        still at work on the study take it over at once. Queued before the trial is recorded,
        never after: a runner that reads the study in between then finds the rerun there and
        queues no second one."""
        saved = self._save_running(facts)
        for slot in self._pool.busy():
            slot.worker.kill()
            try:
                ended = saved.get(slot.index)
                if isinstance(ended, Ending):  # it reached its end while asked to save
                    self._finish(study, slot, ended)
                    continue
                if hand_over and slot.live is not None and slot.live.params:
                    queue_rerun(study, slot.live.number, slot.live.params)
                why = facts.get("fail_reason", "interrupted")
                at = f"{why} (checkpoint at step {ended})" if ended is not None else why
                self._finish(study, slot, slot.ending("FAIL", **{**facts, "fail_reason": at}))
            except RunFailure:  # the storage is gone: the trial's file has it
                pass

    def _save_running(self, facts: dict[str, Any]) -> dict[int, int | Ending | None]:
        """With `--checkpoint-every`, an interrupted search (Ctrl+C, SIGTERM, a scheduler's
        USR1) first has each running trial write a checkpoint at the end of its step, so that
        its rerun loses nothing: all asked at once, waited for together at most `SAVE_WAIT_S`.
        By slot: the checkpoint's step, the trial's own Ending if it ended first, or None."""
        # a trial still loading its model has no step to end: it starts over
        training = [s for s in self._pool.busy() if s.live is not None and s.live.max_steps]
        if not (facts.get("interrupted") and self._options.checkpoint_every and training):
            return {}
        _log.warning("saving a checkpoint of %d running trial(s), at most %.0f s", len(training), SAVE_WAIT_S)
        asked = [slot for slot in training if slot.ask_to_save()]
        deadline = time.monotonic() + SAVE_WAIT_S
        done: dict[int, int | Ending | None] = {}
        while len(done) < len(asked) and time.monotonic() < deadline:  # all served together
            for slot in asked:
                if slot.index not in done and (said := slot.poll_saved()) is not SAVING:
                    done[slot.index] = said  # type: ignore[assignment]
            if self._leases.due():  # other runners must not take these trials for lost meanwhile
                self._leases.renew([(s.trial, s.placement.label) for s in asked])
            self._pool.wait()
        return done

    def _record(self, study: Any, trial: Any, live: LiveTrial, ending: Ending, slot: WorkerSlot) -> Counts:
        """Tell the study, write the trial's file and the best files; the study's counts then. (See
        `tell_or_keep` for a storage that cannot be told; a full disk: `--resume` writes the file.)"""
        outcome = ending.outcome
        complete = outcome.state == "COMPLETE" and self._artifacts is not None
        if complete:  # before it is told: Optuna adds no artifact to a finished trial
            send_or_say(live.number, live.folder, lambda: upload_trial(trial, live.folder, self._artifacts))
        tell_or_keep(outcome, study, trial, live.config)
        if ending.replace_worker:
            slot.replaced(outcome.fail_reason or "")
        pareto = tuple(t.number for t in pareto_trials(study))
        self._sink.emit(finished(outcome, best := best_trial(study), pareto))
        write_trial_results(outcome, live.config)
        if complete:
            number, folder, store = live.number, live.folder, self._artifacts
            send_or_say(number, folder, lambda: upload_results(study, number, folder, store))
        counts = write_best_files(study, self._config, best)
        if not (outcome.interrupted or ending.budget):  # for good: no rerun resumes from these
            # (a trial the failure budget stopped runs again at --resume, from its checkpoint)
            for folder in {live.folder, *chain_folders(study, live.rerun_of)}:
                remove_checkpoints(folder)
        if ending.recycle and not ending.replace_worker:
            slot.recycled(ending.recycle)
        return counts

"""The terminal UI: a second front end of the search engine, and of `lorasearch watch`.

The engine runs in a thread worker of the app (training runs in the trial worker process);
its events arrive through `TuiSink` and are folded into one `SearchState` that every pane
renders. Keys only set requests on `SearchControls`, which the engine reads every 50 ms, so
nothing here ever waits on the engine or on training.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from textual import work
from textual.app import App
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from ..errors import ExitCode, RunFailure, UserError
from ..events import (
    ParamImportances,
    SearchControls,
    SearchFinished,
    SearchStarted,
    SearchState,
    Sink,
    TrialFinished,
    TrialStarted,
)
from .keys import KEYS, SteeringKeys
from .messages import EventsArrived, LogLine, TuiSink
from .screens import ImportancesScreen, ParetoScreen
from .search_screen import SearchScreen
from .widgets import LogPane
from .widgets.log_pane import LogHandler, line_of

Engine = Callable[[Sink], Any]


class SearchApp(SteeringKeys, App[int]):
    """The search screen. With `controls` None it only watches: no key changes the study."""

    CSS_PATH = "app.tcss"
    TITLE = "lorasearch"
    BINDINGS = KEYS
    # The clock that draws what changes without an event of its own: the header's time, a
    # running trial's progress, the workers' log lines. Every 2 s, as nvitop's default: at
    # every second the screen cost the search parent 5.4% of a core, 5.0-5.1% at 2 s
    # (bench/overhead.py); a key or a trial's start or end is drawn at once regardless.
    TICK_S = 2.0

    def __init__(
        self,
        engine: Engine,
        controls: SearchControls | None,
        *,
        sink: TuiSink | None = None,
        stop_event: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Args:
        engine: runs the search (or the watcher) in a thread, emitting to the sink it gets.
        controls: where keys send requests; None makes the app a read-only watcher.
        sink: the sink the engine was built with, if it was built before the app.
        stop_event: set when the app closes, to end an engine that would run forever (watch).
        clock: the time source of the header (a fixed one in snapshot tests).
        """
        super().__init__()
        self._engine = engine
        self.controls = controls
        self.watching = controls is None
        self.state = SearchState(clock=clock)
        self.sink = sink or TuiSink()
        self._stop_event = stop_event
        self._clock = clock
        self._began = clock()
        self._quitting = False
        self._exit_code = ExitCode.OK
        self._log_handler: LogHandler | None = None
        self._propagate = True
        self._panes = SearchScreen(self.state, self._refresh_header)
        self._keys_shown: tuple[bool | None, ...] = ()  # `check_action` of each key, last drawn
        self.preparing: str | None = None  # the study's name until the search has started
        self.refused: UserError | RunFailure | None = None  # why the search could not start
        self.engine_started = threading.Event()  # set in the engine's thread as it begins

    @classmethod
    def for_search(
        cls,
        runner: Any,
        controls: SearchControls,
        sink: TuiSink,
        done: threading.Event | None = None,
    ) -> SearchApp:
        """The app of a search: `runner` (a `SearchRunner` built with `sink` and `controls`) runs
        in the app's thread, steered by the keys; `done` is set when it has returned.

        The screen is drawn before the runner checks the data and opens the study (about a
        second, most of it the storage's imports), so a user sees the search at once. When
        those checks refuse (a bad storage, data or resume), the app closes at once with
        `refused` set, for the command to say in its one line, exit code 2, nothing written.
        """

        def engine(_: Sink) -> Any:
            try:
                if controls.interrupted.is_set():
                    return None  # quit or stopped before it began: nothing opened, nothing to record
                try:
                    runner.prepare()
                except (UserError, RunFailure) as exc:
                    app.refused = exc  # the app closes; the command says it in one line
                    return None
                # interrupted while it prepared: run() starts no worker, ends its lease, says so
                return runner.run()
            finally:
                if done is not None:
                    done.set()

        app = cls(engine, controls, sink=sink)
        app.preparing = runner.study_name
        return app

    @classmethod
    def for_watch(cls, watcher: Any, sink: TuiSink, interval: float = 2.0) -> SearchApp:
        """The app of `lorasearch watch`: `watcher` (a `StudyWatcher` built with `sink`) polls
        the study every `interval` seconds until the app closes; no key changes the study."""
        stop = threading.Event()
        return cls(lambda _: watcher.run(stop, interval=interval), None, sink=sink, stop_event=stop)

    def get_default_screen(self) -> Screen[Any]:
        return self._panes

    def on_mount(self) -> None:
        self.sink.attach(self)
        self._log_handler = LogHandler(lambda text: self.post_message(LogLine(text)))
        engine_log = logging.getLogger("lorasearch")
        engine_log.addHandler(self._log_handler)
        # The console's stderr handler would write over the screen; the log pane shows it all.
        self._propagate, engine_log.propagate = engine_log.propagate, False
        self._refresh_header()
        self.set_interval(self.TICK_S, self._tick)
        # the engine's first second is imports and the storage's open, which would hold the
        # first frame back (they share the interpreter): it starts once that frame is drawn
        self.call_after_refresh(self._run_engine)

    def exit(self, result: Any = None, return_code: int = 0, message: Any = None) -> None:
        """Closing the app by any road means quitting: a search still running records its
        trial as interrupted and ends, and a watcher stops polling; neither lives on unseen
        in its thread (which would also keep the process from exiting)."""
        self._end_engine()
        super().exit(result, return_code, message)

    def _end_engine(self) -> None:
        # an engine not started yet is told too: it may still start as the app closes
        if self.controls is not None and (not self.engine_started.is_set() or not self._engine_done()):
            self.controls.interrupt()
        if self._stop_event is not None:
            self._stop_event.set()

    def on_unmount(self) -> None:
        self._end_engine()  # also when the app ends without exit() (a test harness)
        if self._log_handler is not None:
            engine_log = logging.getLogger("lorasearch")
            engine_log.removeHandler(self._log_handler)
            engine_log.propagate = self._propagate

    @work(thread=True, exclusive=True, exit_on_error=False, group="engine")
    def _run_engine(self) -> Any:
        self.engine_started.set()
        return self._engine(self.sink)

    # -- events from the engine ------------------------------------------------------------

    def on_events_arrived(self, message: EventsArrived) -> None:
        if not self._panes.ready:
            return  # they wait in the queue: the screen asks again once its panes are there
        events = self.sink.drain()
        if not events:
            return
        log = self.query_one(LogPane)
        kinds = set()
        for event in events:
            self.state.apply(event)
            kinds.add(type(event))
            if isinstance(event, SearchFinished) and event.reason == "interrupted":
                self._exit_code = ExitCode.INTERRUPTED
            line = line_of(event, self.state.objectives)
            if line is not None:
                log.write(line)
        self._redraw_for(kinds)

    def _redraw_for(self, kinds: set[type]) -> None:
        """The panes these events touch, the keys a trial's start or end changes, and the open
        screen that shows what they change."""
        self._panes.redraw_for(kinds)
        if kinds & {TrialStarted, TrialFinished, SearchFinished, SearchStarted}:
            self._refresh_keys()
        if ParamImportances in kinds and isinstance(self.screen, ImportancesScreen):
            self.screen.update_from(self.state)
        if TrialFinished in kinds and isinstance(self.screen, ParetoScreen):
            self.screen.update_from(self.state)

    def on_log_line(self, message: LogLine) -> None:
        self.query_one(LogPane).write(message.text)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "engine":
            return
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            user = isinstance(error, UserError)
            self._exit_code = ExitCode.USAGE if user else ExitCode.BUG
            text = f"error: {error}" if user else f"engine error: {type(error).__name__}: {error}"
            self.query_one(LogPane).write(text)
            self.notify(text, severity="error", timeout=30)
        if event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            self._refresh_keys()
            self._refresh_header()
            interrupted = self.controls is not None and self.controls.interrupted.is_set()
            if interrupted and self.state.finished is None and self.refused is None:
                self._exit_code = ExitCode.INTERRUPTED  # stopped before the search began
            if self.refused is not None:
                code = ExitCode.USAGE if isinstance(self.refused, UserError) else ExitCode.BUG
                self.exit(code, return_code=code)
            elif self._quitting or self._exit_code == ExitCode.INTERRUPTED:
                self.exit(self._exit_code, return_code=self._exit_code)

    def _refresh_keys(self) -> None:
        """Redraw the footer's keys when one of them is shown, greyed out or hidden otherwise
        than before. The footer rebuilds every key's widget when asked, a tenth of a second of
        a core or more, which at every trial's start and end was most of what the screen cost
        (bench/overhead.py); most of them change no key."""
        keys = tuple(self.check_action(key.action, ()) for key in KEYS)
        if keys != self._keys_shown:
            self._keys_shown = keys
            self.refresh_bindings()

    def _tick(self) -> None:
        self._panes.tick()
        self._refresh_header()
        self._panes.follow_logs()

    def _refresh_header(self) -> None:
        note = ""
        if self.watching:
            note = "WATCHING (read-only)"
        elif self.controls is not None and self.controls.interrupted.is_set():
            note = "QUITTING: recording the running trial"
        elif self.state.finished is not None:
            # Before STOPPING: the engine says it has finished a moment before its thread ends.
            note = f"search {self.state.finished.reason}: q quits"
        elif self.controls is not None and self.controls.stop_requested.is_set() and not self._engine_done():
            note = "STOPPING after this trial"
        elif self.controls is not None and self.controls.paused.is_set():
            note = "PAUSED (r resumes)"
        elif self.preparing is not None and self.state.started is None and not self._engine_ended():
            note = f"{self.preparing}: checking the data, opening the study..."
        self._panes.show_header(self._clock() - self._began, note)

    def _engine_ended(self) -> bool:
        return self.engine_started.is_set() and self._engine_done()

    def _engine_done(self) -> bool:
        workers = [w for w in self.workers if w.group == "engine"]
        return not workers or all(w.is_finished for w in workers)

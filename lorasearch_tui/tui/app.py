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
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer
from textual.worker import Worker, WorkerState

from ..errors import ExitCode, UserError, printable
from ..events import (
    EvalLogged,
    HardwareSampled,
    ParamImportances,
    SearchControls,
    SearchFinished,
    SearchStarted,
    SearchState,
    Sink,
    StepLogged,
    TrialFinished,
    TrialOutcome,
    TrialStarted,
    WorkerStateChanged,
)
from .messages import EventsArrived, LogLine, TuiSink
from .screens import ConfirmQuitScreen, HelpScreen, ImportancesScreen, ParetoScreen, TrialDetailScreen
from .widgets import ConfigTree, GpuPanel, LogPane, LossChart, StudyHeader, TrialTable
from .widgets.log_pane import LogHandler

Engine = Callable[[Sink], Any]
_STEERING = {"abort", "stop", "pause", "resume", "write"}
_PROGRESS = {StepLogged, EvalLogged, HardwareSampled}  # events that only move a running trial on
PROGRESS_REDRAW_S = 0.5


class SearchApp(App[int]):
    """The search screen. With `controls` None it only watches: no key changes the study."""

    CSS_PATH = "app.tcss"
    TITLE = "lorasearch"
    BINDINGS = [
        Binding("a", "abort", "Abort trial", id="abort"),
        Binding("n", "next_running", "Next running", id="next_running", show=False),  # in the help
        Binding("s", "stop", "Stop after", id="stop"),
        Binding("p", "pause", "Pause", id="pause"),
        Binding("r", "resume", "Resume", id="resume"),
        Binding("e", "write", "Write files", id="write"),
        Binding("q,ctrl+c", "quit_search", "Quit", id="quit"),
        Binding("question_mark", "help", "Help", id="help", key_display="?"),
        Binding("i", "importances", "Importances", id="importances"),  # last: a narrow footer cuts it
        Binding("f", "pareto", "Pareto front", id="pareto"),  # shown for several objectives only
    ]

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
        self._top_height = 0
        self._last_redraw = float("-inf")
        self._redraw_pending = False

    def compose(self) -> ComposeResult:
        yield StudyHeader(id="header")
        with Horizontal(id="top"):
            yield ConfigTree(id="config")
            yield TrialTable(id="trials")
        with Horizontal(id="bottom"):
            yield LossChart(id="chart")
            yield GpuPanel(id="gpu")
        yield LogPane(id="log")
        yield Footer()

    def on_mount(self) -> None:
        self.sink.attach(self)
        self._log_handler = LogHandler(lambda text: self.post_message(LogLine(text)))
        engine_log = logging.getLogger("lorasearch")
        engine_log.addHandler(self._log_handler)
        # The console's stderr handler would write over the screen; the log pane shows it all.
        self._propagate, engine_log.propagate = engine_log.propagate, False
        self.query_one(TrialTable).focus()
        self._refresh_header()
        self.set_interval(1.0, self._tick)
        self._run_engine()

    def exit(self, result: Any = None, return_code: int = 0, message: Any = None) -> None:
        """Closing the app by any road means quitting: a search still running records its
        trial as interrupted and ends, and a watcher stops polling; neither lives on unseen
        in its thread (which would also keep the process from exiting)."""
        self._end_engine()
        super().exit(result, return_code, message)

    def _end_engine(self) -> None:
        if self.controls is not None and not self._engine_done():
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
        return self._engine(self.sink)

    # -- events from the engine ------------------------------------------------------------

    def on_events_arrived(self, message: EventsArrived) -> None:
        events = self.sink.drain()
        if not events:
            return
        log = self.query_one(LogPane)
        kinds = set()
        for event in events:
            self.state.apply(event)
            kinds.add(type(event))
            line = self._log_line(event)
            if line is not None:
                log.write(line)
        self._redraw_for(kinds)

    def _log_line(self, event: Any) -> str | None:
        """What the log pane says of an event, if anything (and the exit code a search's end sets)."""
        match event:
            case TrialFinished(outcome=outcome):
                return _trial_line(outcome, self.state.objectives)
            case SearchStarted(notice=notice) if notice:
                return notice
            case WorkerStateChanged(state="recycled"):
                where = f" ({event.worker})" if event.worker else ""
                return f"worker recycled{where}: {printable(event.detail)}"
            case SearchFinished():
                if event.reason == "interrupted":
                    self._exit_code = ExitCode.INTERRUPTED
                return f"search {event.reason}" + (f": {printable(event.message)}" if event.message else "")
        return None

    def _redraw_for(self, kinds: set[type]) -> None:
        """Redraw only the panes these events touch: a hardware sample a second must not cost a
        table and a chart (watching stays well under 5% of a core). A trial's steps and evals
        come several times a second: their rows and curves are redrawn at most every
        PROGRESS_REDRAW_S (the screen's layout and rendering were the search parent's main CPU
        cost, taken from the training beside it: bench/overhead.py)."""
        if kinds - {HardwareSampled} and kinds <= _PROGRESS:
            now = time.monotonic()
            if now - self._last_redraw < PROGRESS_REDRAW_S:
                if not self._redraw_pending:
                    self._redraw_pending = True
                    self.set_timer(PROGRESS_REDRAW_S - (now - self._last_redraw), self._redraw_progress)
                kinds -= {StepLogged, EvalLogged}  # a hardware sample is still drawn
        if kinds - {HardwareSampled}:
            self._redraw()
        if HardwareSampled in kinds:
            self.query_one(GpuPanel).show(self.state)
        if kinds & {TrialStarted, TrialFinished, SearchFinished, SearchStarted}:
            self.refresh_bindings()
        if ParamImportances in kinds and isinstance(self.screen, ImportancesScreen):
            self.screen.update_from(self.state)
        if TrialFinished in kinds and isinstance(self.screen, ParetoScreen):
            self.screen.update_from(self.state)

    def _redraw_progress(self) -> None:
        self._redraw_pending = False
        self._redraw()

    def _redraw(self) -> None:
        """The panes that follow the trials: table, chart, config tree, header."""
        self._last_redraw = time.monotonic()
        self._fit_panes()
        if self.state.started is not None:
            started = self.state.started
            self.query_one(TrialTable).setup(
                list(started.space), workers=len(started.workers) > 1, objectives=started.objectives
            )
        self.query_one(ConfigTree).show(self.state)
        self.query_one(TrialTable).show(self.state)
        self.query_one(LossChart).show(self.state)
        self._refresh_header()

    def on_resize(self) -> None:
        self._fit_panes()

    def _fit_panes(self) -> None:
        """Give the trial table the rows the study needs (its target, or the trials shown when
        there are more), at most half the panes' height: the loss chart takes the rest, rather
        than an empty table pane above a cramped chart."""
        rows = max(len(self.state.trials), min(self.state.total, 30), 4)
        panes = self.size.height - 6  # the header's 2 lines, the log's 3, the footer's 1
        # + the table's header row, the border, and a row for a horizontal scroll bar
        height = max(6, min(rows + 4, panes // 2))
        if height != self._top_height:
            self._top_height = height
            for top in self.query("#top"):  # none while the app is being taken down
                top.styles.height = height

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
            self.refresh_bindings()
            self._refresh_header()
            if self._quitting or self._exit_code == ExitCode.INTERRUPTED:
                self.exit(self._exit_code, return_code=self._exit_code)

    def _tick(self) -> None:
        self._refresh_header()
        started = self.state.started
        if started is not None:
            logs = started.worker_logs
            for pane in self.query(LogPane):  # none while the app is being taken down
                for index, log in enumerate(logs):
                    pane.follow_file(Path(log), "worker: " if len(logs) == 1 else f"worker {index}: ")

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
        for header in self.query(StudyHeader):  # none while the app is being taken down
            header.show(self.state, self._clock() - self._began, note)

    def _engine_done(self) -> bool:
        workers = [w for w in self.workers if w.group == "engine"]
        return not workers or all(w.is_finished for w in workers)

    # -- keys ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "pareto":
            return len(self.state.objectives) > 1
        if action in _STEERING:
            if self.watching:
                return False  # watch changes nothing: the keys are not even shown
            if self._engine_done():
                return None  # shown, greyed out
            if action == "pause" and self.controls.paused.is_set():
                return False
            if action == "resume" and not self.controls.paused.is_set():
                return False
        return True

    def action_abort(self) -> None:
        running = self.state.running
        self.controls.abort_trial(running)
        self.notify(f"aborting trial {running}" if running is not None else "no trial is running", timeout=3)

    def action_pareto(self) -> None:
        """The Pareto front of a study of several objectives (the engine marks it per trial)."""
        self.push_screen(ParetoScreen(self.state))

    def action_importances(self) -> None:
        """Which parameters mattered so far (the engine sends them after each trial)."""
        self.push_screen(ImportancesScreen(self.state))

    def action_next_running(self) -> None:
        """The chart (and `a`) follow the next running trial."""
        number = self.state.follow_next_running()
        self.query_one(LossChart).show(self.state)
        self.notify(f"following trial {number}" if number is not None else "no trial is running", timeout=2)

    def action_stop(self) -> None:
        self.controls.stop_after_trial()
        self.notify("the search stops after the running trial", timeout=3)
        self._refresh_header()

    def action_pause(self) -> None:
        self.controls.pause()
        self.notify("paused: no new trial starts (r resumes)", timeout=3)
        self.refresh_bindings()
        self._refresh_header()

    def action_resume(self) -> None:
        self.controls.resume()
        self.notify("resumed", timeout=2)
        self.refresh_bindings()
        self._refresh_header()

    def action_write(self) -> None:
        self.controls.write_results_now()
        self.notify("result files are written now", timeout=2)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_quit_search(self) -> None:
        if self.watching or self._engine_done():
            self.exit(self._exit_code, return_code=self._exit_code)
            return

        def answered(quit_now: bool | None) -> None:
            if quit_now:
                self._quitting = True
                self._exit_code = ExitCode.INTERRUPTED
                self.controls.interrupt()
                self._refresh_header()

        self.push_screen(ConfirmQuitScreen(), answered)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        trial = self.state.trials.get(int(event.row_key.value))
        started = self.state.started
        if trial is None or started is None:
            return
        config = {**started.fixed, **trial.params}
        folder = Path(trial.trial_dir) if trial.trial_dir else None
        self.push_screen(TrialDetailScreen(trial, config, folder, self.state.best_trial()))


def _trial_line(t: TrialOutcome, objectives: tuple[str, ...] = ()) -> str:
    value = f" {t.value:.4f}" if t.value is not None else ""
    if t.values is not None and objectives:
        value = " " + ", ".join(f"{m} {v:.4g}" for m, v in zip(objectives, t.values, strict=False))
    why = f" ({printable(t.fail_reason)})" if t.fail_reason else ""
    pruned = f" at step {t.pruned_at}" if t.pruned_at is not None else ""
    return f"trial {t.number} {t.label}{pruned}{value}{why}"

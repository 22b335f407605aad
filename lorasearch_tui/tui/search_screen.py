"""The search screen: its panes, and which of them each batch of events redraws.

The app (`app.py`) owns the lifecycle (the engine's thread, the log handler, quitting) and the
keys; this screen only lays out the panes and draws the `SearchState` the app folds the events
into, so a pane can change without touching how a search runs or is steered.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer

from ..events import EvalLogged, HardwareSampled, SearchState, StepLogged
from .messages import EventsArrived
from .widgets import ConfigTree, GpuPanel, LogPane, LossChart, StudyHeader, TrialTable

_PROGRESS = {StepLogged, EvalLogged, HardwareSampled}  # events that only move a running trial on


class SearchScreen(Screen[None]):
    """Header, config tree, trial table, loss chart, GPU pane, log and footer."""

    # A running trial's steps, evals and hardware samples are drawn at the app's tick (every
    # `SearchApp.TICK_S`), and not sooner than this after the panes were last drawn (a trial's
    # start or end). Drawn every second, the table (a changed cell re-renders all its rows)
    # and the chart (plotext rebuilds the whole figure) were two thirds of the screen's CPU,
    # and the screen most of the search parent's (py-spy, bench/overhead.py).
    PROGRESS_EVERY_S = 2.0

    def __init__(self, state: SearchState, header: Callable[[], None]) -> None:
        """`header` redraws the header (the app's: it says what the app is doing)."""
        super().__init__()
        self.state = state
        self._header = header
        self._top_height = 0
        self._progress_pending = False  # steps or evals came since the last redraw
        self._hardware_pending = False  # a hardware sample came since the GPU pane was drawn
        self._progress_at = float("-inf")  # when the progress was last drawn (monotonic)
        self.ready = False  # the panes are mounted: events may be drawn

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
        self.query_one(TrialTable).focus()
        self.ready = True
        self._header()  # in the first frame: what the search is doing while it prepares
        self.app.post_message(EventsArrived())  # what came before the panes were there

    def redraw_for(self, kinds: set[type]) -> None:
        """Redraw the panes these events touch: at once for a trial's start or end and the
        like; a running trial's steps and evals and the hardware samples at a later `tick`.
        Those come several times a second; drawn as they came, they cost the screen a frame
        each (the table and the chart most), and the screen's rendering was the search
        parent's main CPU cost, taken from the training beside it (bench/overhead.py)."""
        self._hardware_pending = self._hardware_pending or HardwareSampled in kinds
        if kinds - _PROGRESS:
            self.redraw()
        else:
            self._progress_pending = self._progress_pending or bool(kinds & {StepLogged, EvalLogged})

    def tick(self) -> None:
        """At the app's tick: the progress that came meanwhile, drawn in one frame with the
        header's new time, when `PROGRESS_EVERY_S` have passed since the panes were drawn
        (trials that start and end more often than that draw it themselves); the GPU pane's
        sample at every tick (nothing else draws it)."""
        if not self.ready or not self.is_attached:
            return  # not mounted yet, or being taken down: nothing to draw on
        # half a tick of slack: the app's timer is not exact, and a tick must not be missed
        due = time.monotonic() - self._progress_at >= self.PROGRESS_EVERY_S - 0.5
        if self._progress_pending and due:
            self.redraw()
        if self._hardware_pending:
            self._hardware_pending = False
            for pane in self.query(GpuPanel):
                pane.show(self.state)

    @property
    def drawn(self) -> bool:
        """Nothing that came waits for a tick to be drawn (the tests wait for this)."""
        return not (self._progress_pending or self._hardware_pending)

    def redraw(self) -> None:
        """The panes that follow the trials: table, chart, config tree, header."""
        self._progress_pending = False
        self._progress_at = time.monotonic()
        self._fit_panes()
        started = self.state.started
        if started is not None:
            self.query_one(TrialTable).setup(
                list(started.space), workers=len(started.workers) > 1, objectives=started.objectives
            )
        self.query_one(ConfigTree).show(self.state)
        self.query_one(TrialTable).show(self.state)
        self.query_one(LossChart).show(self.state)
        self._header()

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
            for top in self.query("#top"):  # none while the screen is being taken down
                top.styles.height = height

    def follow_logs(self) -> None:
        """The log pane follows the workers' log files the search named."""
        started = self.state.started
        if started is None:
            return
        logs = started.worker_logs
        for pane in self.query(LogPane):  # none while the screen is being taken down
            for index, log in enumerate(logs):
                pane.follow_file(Path(log), "worker: " if len(logs) == 1 else f"worker {index}: ")

    def show_header(self, elapsed: float, note: str) -> None:
        for header in self.query(StudyHeader):  # none while the screen is being taken down
            header.show(self.state, elapsed, note)

"""What the search screen's keys do: each only sets a request on `SearchControls` (the engine
reads them every 50 ms) or opens a screen, so no key ever waits on the engine or on training.

A mixin of `SearchApp`, which holds the key bindings (Textual reads them from the app's class)
and the state the keys read.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual.binding import Binding
from textual.widgets import DataTable

from ..errors import ExitCode
from ..events import SearchControls, SearchState
from .screens import (
    ConfirmQuitScreen,
    HelpScreen,
    ImportancesScreen,
    ParetoScreen,
    TrialDetailScreen,
    help_text,
)
from .widgets import LossChart, TrialTable

_STEERING = {"abort", "stop", "pause", "resume", "write"}

# The search screen's keys: the app binds them (Textual reads bindings from the app's class),
# and the help is made from them.
KEYS = [
    Binding(
        "a",
        "abort",
        "Abort trial",
        id="abort",
        tooltip='abort the trial the chart shows (FAIL "aborted by user"); the search goes on',
    ),
    Binding(
        "n",
        "next_running",
        "Next running",
        id="next_running",
        show=False,
        tooltip="chart the next running trial (several at once)",
    ),
    Binding("s", "stop", "Stop after", id="stop", tooltip="stop after the running trials"),
    Binding("p", "pause", "Pause", id="pause", tooltip="pause: no new trial starts"),
    Binding("r", "resume", "Resume", id="resume", tooltip="resume after a pause"),
    Binding("e", "write", "Write files", id="write", tooltip="write the result files now"),
    Binding(
        "q,ctrl+c",
        "quit_search",
        "Quit",
        id="quit",
        tooltip="quit (asks first; --resume runs the trial again)",
    ),
    Binding("question_mark", "help", "Help", id="help", key_display="?", tooltip="this help"),
    Binding(
        "i",
        "importances",
        "Importances",
        id="importances",  # last: a narrow footer cuts it
        tooltip="parameter importances so far (updated live)",
    ),
    Binding(
        "f",
        "pareto",
        "Pareto front",
        id="pareto",  # shown for several objectives only
        tooltip="the Pareto front (several objectives)",
    ),
]


if TYPE_CHECKING:  # the app it is mixed into, for the type checker
    from textual.app import App

    _App = App[int]
else:
    _App = object


class SteeringKeys(_App):
    """The actions of the keys; `check_action` says which are shown, greyed out, or hidden."""

    state: SearchState
    controls: SearchControls | None
    watching: bool
    _quitting: bool
    _exit_code: ExitCode

    if TYPE_CHECKING:  # the app's

        def _engine_done(self) -> bool: ...
        def _refresh_header(self) -> None: ...
        def _refresh_keys(self) -> None: ...

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "pareto":
            return len(self.state.objectives) > 1
        if action in _STEERING:
            if self.watching:
                return False  # watch changes nothing: the keys are not even shown
            if self._engine_done():
                return None  # shown, greyed out
            if action == "pause" and self._controls.paused.is_set():
                return False
            if action == "resume" and not self._controls.paused.is_set():
                return False
        return True

    def action_abort(self) -> None:
        running = self.state.running
        self._controls.abort_trial(running)
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
        self._controls.stop_after_trial()
        self.notify("the search stops after the running trial", timeout=3)
        self._refresh_header()

    def action_pause(self) -> None:
        self._controls.pause()
        self.notify("paused: no new trial starts (r resumes)", timeout=3)
        self._refresh_keys()
        self._refresh_header()

    def action_resume(self) -> None:
        self._controls.resume()
        self.notify("resumed", timeout=2)
        self._refresh_keys()
        self._refresh_header()

    def action_write(self) -> None:
        self._controls.write_results_now()
        self.notify("result files are written now", timeout=2)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(help_text([*KEYS, *TrialTable.BINDINGS])))

    def action_quit_search(self) -> None:
        if self.watching or self._engine_done():
            self.exit(self._exit_code, return_code=self._exit_code)
            return

        def answered(quit_now: bool | None) -> None:
            if quit_now:
                self._quitting = True
                self._exit_code = ExitCode.INTERRUPTED
                self._controls.interrupt()
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

    @property
    def _controls(self) -> SearchControls:
        """The controls of a search (the keys that use them are hidden when watching)."""
        assert self.controls is not None
        return self.controls

"""The home screen: `lorasearch` with no command, in a terminal.

The list of studies (what `lorasearch studies` prints, refreshed every few seconds); Enter on
a running study attaches to it as `lorasearch watch` does, on a stopped one offers to resume
it (after a confirmation that says what is left), on a finished one (nothing left) opens it
read-only as `watch` does or extends it by N more trials; `n` starts a new search from a
config of `configs/` or `configs/examples/` (checked first, its error shown in place); `v`
shows a study's report in the terminal; `?` lists the keys.

The app reads nothing itself: the CLI hands it a `HomeSource` (the studies, a study's report,
the configs and their check), and the app ends with what the user chose (`HomeChoice`), which
the CLI then runs, coming back here when it ends. So the home screen never imports the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Label, OptionList, Static

from ..errors import printable


class HomeSource(Protocol):
    """What the home screen shows and checks, provided by the CLI."""

    def studies(self) -> list[Any]: ...  # objects like `results.StudySummary`

    def report(self, name: str) -> Any: ...  # a Rich renderable

    def configs(self) -> list[Path]: ...  # only those with a search space: `search` needs one

    def check_config(self, path: Path) -> str | None: ...  # None when it is fine, else why not


@dataclass(frozen=True)
class HomeChoice:
    action: str  # "watch", "resume" or "new"
    study: str | None = None
    config: Path | None = None
    n_trials: int | None = None  # a resume's new target (`--n-trials`), None: the stored one


HOME_HELP = """\
Enter  a running study: watch it (read-only)
       a stopped one: resume it (asks first)
       a finished one: open it read-only, or
       extend it by more trials
n      new search from a config in configs/
       or configs/examples/
v      the selected study's report: trials, best,
       importances
q      quit
?      this help
"""


class HomeApp(App[HomeChoice | None]):
    """The list of studies, and where to go from it."""

    CSS_PATH = "app.tcss"
    TITLE = "lorasearch"
    BINDINGS = [
        Binding("enter", "open", "Watch / resume", id="home.open"),  # the table's Enter: row_selected
        Binding("n", "new", "New search", id="home.new"),
        Binding("v", "view", "Report", id="home.view"),
        Binding("q", "quit", "Quit", id="home.quit"),
        Binding("question_mark", "help", "Help", id="home.help", key_display="?"),
    ]
    REFRESH_S = 3.0

    def __init__(self, source: HomeSource) -> None:
        super().__init__()
        self.source = source
        self.studies: list[Any] = []

    def compose(self) -> ComposeResult:
        yield Static("lorasearch: studies", id="home-title")
        yield DataTable(id="studies", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.focus()
        self.reload()
        self.set_interval(self.REFRESH_S, self.reload)

    @work(thread=True, exclusive=True, group="home", exit_on_error=False)
    def reload(self) -> None:
        """Read the studies in a thread (a database server may take a moment)."""
        try:
            studies = self.source.studies()
        except Exception as exc:  # noqa: BLE001 - shown in place, the screen stays
            self.call_from_thread(self.notify, f"cannot list the studies: {exc}", severity="error")
            return
        self.call_from_thread(self._show, studies)

    def _show(self, studies: list[Any]) -> None:
        self.studies = studies
        table = self.query_one(DataTable)
        selected = table.cursor_row
        table.clear()
        for s in studies:
            cells = s.cells()  # the same row as `lorasearch studies`
            if not table.columns:
                for column in cells:
                    table.add_column(column, key=column)
            runner = Text("RUNNING", style="bold cyan") if s.alive else Text("stopped", style="dim")
            table.add_row(*[printable(v) for v in list(cells.values())[:-1]], runner, key=s.name)
        if studies:
            table.move_cursor(row=min(max(selected, 0), len(studies) - 1))
        title = (
            "lorasearch: studies   Enter watches a running one, resumes a stopped one, opens a finished one"
            if studies
            else "lorasearch: no studies here yet (n starts one)"
        )
        self.query_one("#home-title", Static).update(Text(title, style="bold"))

    def selected(self) -> Any | None:
        table = self.query_one(DataTable)
        if not self.studies or table.cursor_row < 0 or table.cursor_row >= len(self.studies):
            return None
        return self.studies[table.cursor_row]

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        study = self.selected()
        if study is None:
            return
        if study.alive:
            self.exit(HomeChoice("watch", study.name))
            return
        left = max(study.target - study.done, 0)
        if left == 0:  # a resume would end at once: look at it, or give it a larger target
            self.push_screen(FinishedScreen(study), self._chosen)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit(HomeChoice("resume", study.name))

        self.push_screen(ResumeScreen(study, left), answered)

    def _chosen(self, choice: HomeChoice | None) -> None:
        if choice is not None:
            self.exit(choice)

    def action_new(self) -> None:
        def picked(path: Path | None) -> None:
            if path is not None:
                self.exit(HomeChoice("new", config=path))

        self.push_screen(ConfigPickerScreen(self.source), picked)

    def action_view(self) -> None:
        study = self.selected()
        if study is not None:
            self.push_screen(StudyReportScreen(self.source.report(study.name)))

    def action_help(self) -> None:
        self.push_screen(HomeHelpScreen())


class ResumeScreen(ModalScreen[bool]):
    """Resume a stopped study? Says its target and what is left first."""

    BINDINGS = [
        Binding("y", "answer(True)", "Resume", id="resume.yes"),
        Binding("n,escape", "answer(False)", "Cancel", id="resume.no"),
    ]

    def __init__(self, study: Any, left: int) -> None:
        super().__init__()
        self._study, self._left = study, left

    def compose(self) -> ComposeResult:
        s = self._study
        with Vertical(id="confirm"):
            yield Label(
                f"Resume study {printable(s.name)} ({s.mode}/{s.pruner})?\n"
                f"{s.done} of {s.target} trials done, {self._left} left"
                + (
                    f"; {s.counts['interrupted']} interrupted run again first"
                    if s.counts["interrupted"]
                    else ""
                )
                + ".  [y/n]",
                id="resume-text",
            )

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class FinishedScreen(ModalScreen[HomeChoice | None]):
    """A study with nothing left: open it read-only (as `lorasearch watch` does), or extend it
    by N more trials, which is a resume with a larger `--n-trials`. A grid study has run every
    point of its grid, so it can only be opened."""

    BINDINGS = [
        Binding("enter,w", "watch", "Open read-only", id="finished.watch"),
        Binding("e", "extend", "Extend", id="finished.extend"),
        Binding("plus,up", "more(1)", "More trials", id="finished.more"),
        Binding("minus,down", "more(-1)", "Fewer trials", id="finished.fewer"),
        Binding("escape", "dismiss(None)", "Cancel", id="finished.cancel"),
    ]

    def __init__(self, study: Any) -> None:
        super().__init__()
        self._study = study
        self.more = max(study.target, 1)  # as many again as it ran the first time

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Label(self._text(), id="finished-text")

    def _text(self) -> str:
        s = self._study
        head = (
            f"Study {printable(s.name)} ({s.mode}/{s.pruner}) is finished: "
            f"{s.done} of {s.target} trials done."
        )
        if s.mode == "grid":
            return f"{head}\nEnter: open it read-only   Esc: cancel"
        return (
            f"{head}\nEnter: open it read-only   e: extend it by {self.more} more trials "
            f"(to {s.done + self.more}; +/- change it)   Esc: cancel"
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self._study.mode != "grid" or action not in ("extend", "more")

    def action_more(self, step: int) -> None:
        self.more = max(self.more + step, 1)
        self.query_one("#finished-text", Label).update(self._text())

    def action_watch(self) -> None:
        self.dismiss(HomeChoice("watch", self._study.name))

    def action_extend(self) -> None:
        self.dismiss(HomeChoice("resume", self._study.name, n_trials=self._study.done + self.more))


class ConfigPickerScreen(ModalScreen[Path | None]):
    """A config of `configs/` or `configs/examples/`, checked before the search starts; its
    error stays in place."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="configs.cancel")]

    def __init__(self, source: HomeSource) -> None:
        super().__init__()
        self._source = source
        self._paths = source.configs()

    def compose(self) -> ComposeResult:
        with Vertical(id="configs"):
            yield Label("New search: pick a config (Enter), Esc cancels", id="configs-title")
            if self._paths:
                yield OptionList(*[printable(str(p)) for p in self._paths], id="configs-list")
            else:
                yield Label(
                    "no config with a search_space in configs/ or configs/examples/: write one "
                    "(see `lorasearch schema`)"
                )
            yield Static("", id="configs-error")

    def on_mount(self) -> None:
        for options in self.query(OptionList):
            options.highlighted = 0
            options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        path = self._paths[event.option_index]
        why = self._source.check_config(path)
        if why is None:
            self.dismiss(path)
        else:
            self.query_one("#configs-error", Static).update(Text(f"{path}: {why}", style="bold red"))

    def action_cancel(self) -> None:
        self.dismiss(None)


class StudyReportScreen(ModalScreen[None]):
    """A study's report in the terminal: the trial table, the best trial, the importances."""

    BINDINGS = [Binding("escape,v,q", "dismiss", "Close", id="report.close")]

    def __init__(self, report: Any) -> None:
        super().__init__()
        self.report = report

    def compose(self) -> ComposeResult:
        with Vertical(id="detail"):
            yield VerticalScroll(Static(self.report, id="report-text"))
            yield Label("Esc closes", id="detail-hint")


class HomeHelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", id="home-help.close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="help"):
            yield Static(Text("Keys\n", style="bold") + Text(HOME_HELP))

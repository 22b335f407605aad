"""The trial table: one row per trial, coloured by state, sortable by any column."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from ...errors import printable
from ...events import SearchState, TrialView
from .header import format_duration

STATE_STYLE = {
    "RUNNING": "bold cyan",
    "COMPLETE": "green",
    "PRUNED": "yellow",
    "FAIL": "red",
    "OOM": "bold red",
}
_FIXED_COLUMNS = ("#", "state")
_TAIL_COLUMNS = ("value", "best", "time", "steps", "pruned@", "peak mem")


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else printable(str(value))


def _sort_key(value: Any) -> tuple[int, Any]:
    """Numbers sort as numbers, text as text, blanks last."""
    plain = value.plain if isinstance(value, Text) else value
    if plain in ("-", "", None):
        return (2, 0)
    try:
        return (0, float(str(plain).rstrip("sGiB ").split()[0]))
    except ValueError:
        return (1, str(plain))


def _mark(number: int, best: int | None, pareto: set[int]) -> Text | str:
    """★ the best trial (in the first objective); ◆ another trial of the Pareto front."""
    if number == best:
        return Text("★", style="bold green")
    return Text("◆", style="green") if number in pareto else ""


class TrialTable(DataTable):
    """Trials as rows; Enter opens the detail, `o` sorts by the next column."""

    BINDINGS = [Binding("o", "sort_next", "Sort", id="trial_table.sort")]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._param_names: list[str] = []
        self._more: tuple[str, ...] = ()  # the objectives after the first (several objectives)
        self._workers = False
        self._sort_index = 0
        self._sort_reverse = False
        self._shown: dict[int, tuple[str, ...]] = {}  # cells last drawn, per trial

    def setup(self, param_names: list[str], workers: bool = False, objectives: tuple[str, ...] = ()) -> None:
        """Columns for these searched parameters (once, when the search starts); with
        `workers`, a column saying where each trial trains (several trials at once); with
        several `objectives`, a column for each after the first (whose column is "value")."""
        if self.columns:
            return
        self._param_names = list(param_names)
        self._workers = workers
        self._more = tuple(objectives[1:])
        fixed = (*_FIXED_COLUMNS, "worker") if workers else _FIXED_COLUMNS
        value, *tail = _TAIL_COLUMNS
        for name in (*fixed, *self._param_names, value, *self._more, *tail):
            self.add_column(name, key=name)

    def show(self, state: SearchState) -> None:
        changed = False
        for number in sorted(state.trials):
            cells = self._cells(state.trials[number], state.best_number, state.pareto)
            plain = tuple(str(c) for c in cells)
            if self._shown.get(number) == plain:
                continue  # unchanged rows cost nothing
            self._shown[number] = plain
            changed = True
            key = str(number)
            if key in self.rows:
                # A row is first drawn RUNNING with blanks; a column must grow to the widest
                # value it later holds ("1500/1500" steps, "23.40 GiB"), not keep that width.
                for column, value in zip(self.columns, cells, strict=True):
                    self.update_cell(key, column, value, update_width=True)
            else:
                self.add_row(*cells, key=key)
        if changed and self._sort_index:
            self._apply_sort()

    def _cells(self, trial: TrialView, best: int | None, pareto: set[int]) -> list[Any]:
        label = trial.label
        steps = f"{trial.steps}/{trial.max_steps}" if trial.max_steps else str(trial.steps or "-")
        peak = f"{trial.peak_memory_bytes / 2**30:.2f} GiB" if trial.peak_memory_bytes else "-"
        return [
            str(trial.number),
            Text(label, style=STATE_STYLE.get(label, "")),
            *([printable(trial.worker) or "-"] if self._workers else []),
            *(_fmt(trial.params.get(name)) for name in self._param_names),
            f"{trial.value:.4f}" if trial.value is not None else "-",
            *(_fmt(trial.values[i + 1] if trial.values else None) for i in range(len(self._more))),
            _mark(trial.number, best, pareto),
            format_duration(trial.duration_s),
            steps,
            _fmt(trial.pruned_at),
            peak,
        ]

    def action_sort_next(self) -> None:
        """Sort by the next column; after the last one, back to trial order."""
        self._sort_index = (self._sort_index + 1) % len(self.columns)
        self._sort_reverse = False
        self._apply_sort()
        self.notify(f"sorted by {list(self.columns)[self._sort_index]}", timeout=1.5)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        index = list(self.columns).index(event.column_key)
        self._sort_reverse = not self._sort_reverse if index == self._sort_index else False
        self._sort_index = index
        self._apply_sort()

    def _apply_sort(self) -> None:
        column = list(self.columns)[self._sort_index]
        self.sort(column, key=_sort_key, reverse=self._sort_reverse)

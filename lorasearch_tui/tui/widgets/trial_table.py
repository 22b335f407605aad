"""The trial table: one row per trial, coloured by state, sortable by any column."""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from ...errors import printable
from ...events import STATE_COLOURS, SearchState, TrialOutcome, cells, headers, tied


def _sort_key(value: Any) -> tuple[int, Any]:
    """Numbers sort as numbers, text as text, blanks last."""
    plain = value.plain if isinstance(value, Text) else value
    if plain in ("-", "", None):
        return (2, 0)
    try:
        return (0, float(str(plain).rstrip("sGiB ").split()[0]))
    except ValueError:
        return (1, str(plain))


class TrialTable(DataTable):
    """Trials as rows; Enter opens the detail, `o` sorts by the next column."""

    BINDINGS = [
        Binding(
            "o",
            "sort_next",
            "Sort",
            id="trial_table.sort",
            tooltip="sort the trial table by the next column (or click a column's header)",
        )
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._param_names: list[str] = []
        self._objectives: tuple[str, ...] = ()  # several objectives: every metric
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
        self._objectives = objectives
        names = headers(self._param_names, objectives)
        if workers:
            names.insert(2, "worker")
        for name in names:
            self.add_column(name, key=name)

    def show(self, state: SearchState) -> None:
        changed = False
        ties = tied(state.best_number, [t.row for t in state.trials.values()])
        for number in sorted(state.trials):
            row = self._cells(state.trials[number].row, state.best_number, state.pareto, ties)
            plain = tuple(str(c) for c in row)
            before = self._shown.get(number)
            if before == plain:
                continue  # unchanged rows cost nothing
            self._shown[number] = plain
            changed = True
            key = str(number)
            if key in self.rows:
                # Only the cells that changed (a running trial's steps, at every tick).
                changes = [
                    (column, value)
                    for column, value, old, new in zip(self.columns, row, before or plain, plain, strict=True)
                    if old != new or before is None
                ]
                self._update_row(key, changes)
            else:
                self.add_row(*row, key=key)
        if changed and self._sort_index:
            self._apply_sort()

    def _update_row(self, key: str, changes: list[tuple[ColumnKey, Any]]) -> None:
        """Write a row's changed cells, and redraw that row alone when no column has to grow.

        Textual's `update_cell` throws away the rendering of every row (its caches are keyed by
        one count for the whole table) and redraws the whole table: at every tick, for one
        running trial's steps, that was the TUI's largest cost (bench/overhead.py, py-spy). So
        a change that fits its column's width is written in place, this row's cached cells and
        lines are dropped (the line cache, keyed by screen line, whole), and only its region is
        redrawn. A value wider than its column goes
        through `update_cell(update_width=True)`: a row is first drawn RUNNING with blanks, and
        a column must grow to the widest value it later holds ("1500/1500" steps, "23.40
        GiB"). Textual's private `_data` and render caches are touched here only;
        `tests/test_tui.py` checks what is drawn, not only what is stored.
        """
        fits = all(
            cell_len(getattr(value, "plain", str(value))) <= self.columns[column].content_width
            for column, value in changes
        )
        if not fits:
            for column, value in changes:
                self.update_cell(key, column, value, update_width=True)
            return
        row_key, index = RowKey(key), self.get_row_index(key)
        for column, value in changes:
            self._data[row_key][column] = value
        # the table's four render caches, this row's entries (the line cache is by screen line)
        for cache in (self._cell_render_cache, self._row_render_cache):
            for cached in [k for k in cache.keys() if k[0] == row_key]:
                cache.discard(cached)
        self._row_renderable_cache.discard((self._update_count, index))
        self._line_cache.clear()
        self.refresh_row(index)

    def _cells(self, trial: TrialOutcome, best: int | None, pareto: set[int], ties: list[int]) -> list[Any]:
        row: list[Any] = cells(trial, self._param_names, self._objectives, best, pareto, ties)
        row[1] = Text(trial.label, style=STATE_COLOURS.get(trial.label, ""))
        at = 3 + len(self._param_names) + max(len(self._objectives) - 1, 0)  # after the value(s)
        if row[at]:
            row[at] = Text(row[at], style={"★": "bold green", "=": "bold yellow"}.get(row[at], "green"))
        if self._workers:
            row.insert(2, printable(trial.worker) or "-")
        return row

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

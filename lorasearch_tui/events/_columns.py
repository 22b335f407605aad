"""The trial table's columns and state colours, for every view that lists trials.

The TUI's trial table, the console's summary at the end of a search, `lorasearch show` and the
HTML report all build their rows from `TrialOutcome`s with these: a new per-trial figure is one
more `Column` here and appears in all four (and `export` writes every field of the outcome).
The colours are plain colour names, which Rich, Textual and CSS all read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import printable
from ._outcome import TrialOutcome

STATE_COLOURS = {
    "RUNNING": "cyan",
    "WAITING": "blue",
    "COMPLETE": "green",
    "PRUNED": "yellow",
    "FAIL": "red",
    "OOM": "magenta",
}


def fmt_value(value: Any) -> str:
    """A parameter or a figure in a cell: `0.0003`, `8`, `-` when unknown."""
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else printable(str(value))


def fmt_seconds(seconds: float | None) -> str:
    """`1h02m`, `4m05s`, `12s`, or `-` when unknown."""
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def fmt_bytes(value: int | None) -> str:
    return f"{value / 2**30:.2f} GiB" if value else "-"


def _steps(t: TrialOutcome) -> str:
    return f"{t.steps}/{t.max_steps}" if t.max_steps else (str(t.steps) if t.steps else "-")


@dataclass(frozen=True)
class Column:
    """One measured figure of a trial: its header and its cell."""

    name: str
    cell: Callable[[TrialOutcome], str]


# After the trial's number, state, parameters, value(s) and best mark, in this order.
MEASURED = (
    Column("time", lambda t: fmt_seconds(t.duration_s)),
    Column("steps", _steps),
    Column("pruned@", lambda t: fmt_value(t.pruned_at)),
    Column("peak mem", lambda t: fmt_bytes(t.peak_memory_bytes)),
    Column("tokens/s", lambda t: f"{t.tokens_per_s:.0f}" if t.tokens_per_s else "-"),
    Column("batch", lambda t: printable(t.batch) if t.batch else "-"),
)


def headers(names: list[str], objectives: tuple[str, ...] = ()) -> list[str]:
    """The table's columns: the trial, its state, the searched parameters, the value (and each
    further objective's), the best mark, then the measured figures."""
    return ["#", "state", *names, "value", *objectives[1:], "best", *(c.name for c in MEASURED)]


def cells(
    t: TrialOutcome,
    names: list[str],
    objectives: tuple[str, ...] = (),
    best: int | None = None,
    pareto: set[int] | frozenset[int] | tuple[int, ...] = (),
    ties: list[int] | tuple[int, ...] = (),
) -> list[str]:
    """One trial's cells under `headers` (plain text: a view colours the state's cell with
    `STATE_COLOURS[t.label]`); `ties`: the trials tied for best (see `tied`)."""
    return [
        number_cell(t),
        t.label,
        *(fmt_value(t.shown.get(n)) for n in names),
        *value_cells(t, objectives),
        mark(t.number, best, pareto, ties),
        *(c.cell(t) for c in MEASURED),
    ]


def number_cell(t: TrialOutcome) -> str:
    """`7`; `7 enqueued` for a known set the user queued; `7 imported from screen#4` for a
    trial measured in an earlier study."""
    if t.imported:
        return f"{t.number} imported from {t.imported}"
    return f"{t.number} enqueued" if t.enqueued else str(t.number)


def value_cells(t: TrialOutcome, objectives: tuple[str, ...]) -> list[str]:
    """The trial's value (4 decimals), then each further objective's (several objectives)."""
    first = f"{t.value:.4f}" if t.value is not None else "-"
    more = [f"{t.values[i]:.4g}" if t.values else "-" for i in range(1, len(objectives))]
    return [first, *more]


def mark(
    number: int,
    best: int | None,
    pareto: set[int] | frozenset[int] | tuple[int, ...],
    ties: list[int] | tuple[int, ...] = (),
) -> str:
    """★ the best trial (in the first objective); = each of trials tied for best (none is
    better); ◆ another trial of the Pareto front."""
    if number in ties:
        return "="
    return "★" if number == best else ("◆" if number in pareto else "")

"""Rich renderings of a study for the terminal: the list of studies, the trial table, the best
trial and the command to train it, the importances as bars, the fail reasons grouped."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..errors import printable
from ..events import (
    STATE_COLOURS,
    ParamImportances,
    TrialOutcome,
    cells,
    evaluation_headers,
    evaluation_rows,
    evaluation_title,
    headers,
)
from ..events import fmt_bytes as fmt_bytes
from ..events import fmt_seconds as fmt_seconds
from ..events import fmt_value as fmt_value
from ..results import StudySummary


def studies_table(studies: list[StudySummary]) -> Table:
    table = Table(title="Studies", title_justify="left")
    counts = ("complete", "pruned", "failed", "running")
    for s in studies:
        cells = s.cells()
        if not table.columns:
            for column in cells:
                table.add_column(column, justify="right" if column in counts else "left")
        runner = (
            Text(f"running: {cells['runner']}", style="bold cyan")
            if s.alive
            else Text("not running", style="dim")
        )
        table.add_row(*[printable(v) for v in list(cells.values())[:-1]], runner)
    return table


def sort_rows(rows: list[TrialOutcome], by: str) -> list[TrialOutcome]:
    """Rows in the order `--sort` asks; trials with no value (or no duration) last."""
    if by == "value":
        return sorted(
            rows, key=lambda r: (r.value is None, r.value if r.value is not None else 0.0, r.number)
        )
    if by == "duration":
        return sorted(rows, key=lambda r: (r.duration_s is None, -(r.duration_s or 0.0), r.number))
    if by == "state":
        return sorted(rows, key=lambda r: (r.label, r.number))
    return sorted(rows, key=lambda r: r.number)


def trials_table(
    rows: list[TrialOutcome],
    names: list[str],
    best_number: int | None,
    title: str,
    objectives: tuple[str, ...] = (),
    pareto: frozenset[int] = frozenset(),
    ties: list[int] | None = None,
) -> Table:
    """The same columns as the TUI's trial table, and where each trial trained; with several
    objectives, one column per objective after the first, and ◆ for the Pareto front."""
    table = Table(title=title, title_justify="left")
    columns = headers(names, objectives)
    workers = any(r.worker for r in rows)
    if workers:
        columns.append("worker")
    for column in columns:
        table.add_column(printable(column), justify="left" if column in ("state", "worker") else "right")
    for r in rows:
        row: list[Any] = cells(r, names, objectives, best_number, pareto, ties or ())
        row[1] = Text(r.label, style=STATE_COLOURS.get(r.label, ""))
        if workers:
            row.append(printable(r.worker))
        table.add_row(*row)
    return table


def importance_bars(imp: ParamImportances, width: int = 30) -> Group:
    """`learning_rate  ██████████████░░  0.83`, largest first, with the evaluator named."""
    lines = [Text(f"Parameter importances ({imp.evaluator}, {imp.trials} complete trials)", style="bold")]
    if not imp.values:
        lines.append(Text(f"  none yet: {imp.reason}", style="dim"))
        return Group(*lines)
    longest = max(len(name) for name in imp.values)
    for name, share in imp.values.items():
        filled = round(share * width)
        line = Text(f"  {printable(name):<{longest}}  ")
        line.append("█" * filled, style="cyan")
        line.append("░" * (width - filled), style="dim")
        line.append(f"  {share:.2f}")
        lines.append(line)
    return Group(*lines)


def fail_reasons(rows: list[TrialOutcome]) -> list[tuple[str, int]]:
    """Why trials did not complete, grouped, most frequent first (pruning by the pruner apart)."""
    reasons = Counter(r.fail_reason for r in rows if r.fail_reason and r.state in ("FAIL", "PRUNED"))
    return reasons.most_common()


def evaluation_table(summary: dict[str, Any]) -> Table:
    """`lorasearch evaluate`'s table of one split: the rows OCR results are published with."""
    table = Table(title=evaluation_title(summary), title_justify="left")
    for header in evaluation_headers():
        table.add_column(header, overflow="fold")
    for row in evaluation_rows(summary):
        table.add_row(*(Text(printable(cell)) for cell in row))
    return table

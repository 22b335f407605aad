"""Rich renderings of a study for the terminal: the list of studies, the trial table, the best
trial and the command to train it, the importances as bars, the fail reasons grouped."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..errors import printable
from ..events import ParamImportances
from ..results import StudySummary, TrialRow

STATE_STYLE = {"COMPLETE": "green", "PRUNED": "yellow", "FAIL": "red", "OOM": "magenta", "RUNNING": "cyan"}


def fmt_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return printable(str(value))


def fmt_bytes(value: int | None) -> str:
    return f"{value / 2**30:.2f} GiB" if value else "-"


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return "-"
    value = int(value)
    if value >= 3600:
        return f"{value // 3600}h{value % 3600 // 60:02d}m"
    return f"{value // 60}m{value % 60:02d}s" if value >= 60 else f"{value}s"


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


def sort_rows(rows: list[TrialRow], by: str) -> list[TrialRow]:
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
    rows: list[TrialRow],
    names: list[str],
    best_number: int | None,
    title: str,
    objectives: tuple[str, ...] = (),
) -> Table:
    """The same columns as the TUI's trial table, and where each trial trained; with several
    objectives, one column per objective after the first, and ◆ for the Pareto front."""
    table = Table(title=title, title_justify="left")
    more = list(objectives[1:])
    columns = [
        "#",
        "state",
        *names,
        "value",
        *more,
        "best",
        "time",
        "steps",
        "pruned@",
        "peak mem",
        "tokens/s",
    ]
    workers = any(r.worker for r in rows)
    if workers:
        columns.append("worker")
    for column in columns:
        table.add_column(printable(column), justify="left" if column in ("state", "worker") else "right")
    for r in rows:
        steps = f"{r.steps}/{r.max_steps}" if r.steps is not None and r.max_steps else fmt_value(r.steps)
        cells = [
            str(r.number),
            Text(r.label, style=STATE_STYLE.get(r.label, "")),
            *[fmt_value(r.params.get(n)) for n in names],
            f"{r.value:.4f}" if r.value is not None else "-",
            *[f"{r.values[i + 1]:.4g}" if r.values else "-" for i in range(len(more))],
            "★" if r.number == best_number else ("◆" if r.pareto else ""),
            fmt_seconds(r.duration_s),
            steps,
            fmt_value(r.pruned_at),
            fmt_bytes(r.peak_memory_bytes),
            f"{r.tokens_per_s:.0f}" if r.tokens_per_s else "-",
        ]
        if workers:
            cells.append(printable(r.worker or ""))
        table.add_row(*cells)
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


def fail_reasons(rows: list[TrialRow]) -> list[tuple[str, int]]:
    """Why trials did not complete, grouped, most frequent first (pruning by the pruner apart)."""
    reasons = Counter(r.fail_reason for r in rows if r.fail_reason and r.state in ("FAIL", "PRUNED"))
    return reasons.most_common()

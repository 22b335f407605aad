"""A study in the terminal: what `lorasearch show` prints and the home screen's `v` shows."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.text import Text

from ..errors import printable
from ..events import TrialOutcome, difference_lines, saved_line, tie_text, tied
from ..results import StudyLook, doubt_line
from ..store import best_files, pareto_config_file
from ._tables import evaluation_table, fail_reasons, importance_bars, sort_rows, trials_table


def study_view(looked: StudyLook, sort: str = "number") -> Any:
    """A study in the terminal, as `show` prints it and the home screen's `v` shows it: the
    figures, the trial table, the best trial and the command that trains it, the importances
    and why trials did not complete."""
    summary, rows, names = looked.summary, looked.rows, looked.names
    ties = tied(summary.best_number, rows)
    counts = summary.counts
    state = "RUNNING (" + ", ".join(summary.runners) + ")" if summary.alive else "not running"
    parts: list[Any] = [
        Text(
            f"Study {printable(summary.name)}: {summary.mode}/{summary.pruner}, "
            f"{summary.done}/{summary.target} done ({counts['complete']} complete, "
            f"{counts['pruned']} pruned, "
            f"{counts['failed'] + counts['interrupted']} failed, {counts['running']} running), {state}"
        ),
        trials_table(
            sort_rows(rows, sort),
            names,
            summary.best_number,
            f"Trials (by {sort})",
            summary.objectives,
            looked.pareto,
            ties,
        ),
    ]
    best = next((r for r in rows if r.number == summary.best_number), None)
    if best is None:
        parts.append(Text("no COMPLETE trial yet"))
    else:
        parts.append(best_line(best, ties, summary.metric, summary.name))
        if looked.doubt is not None:
            parts.append(
                Text(
                    "  " + doubt_line(looked.doubt, summary.name, ties),
                    style="yellow" if looked.doubt.close else "",
                )
            )
        parts += [
            Text(f"  {printable(name)} = {printable(str(value))}") for name, value in best.shown.items()
        ]
        if best.adapter:
            parts.append(Text(f"  adapter: {best.adapter}"))
        parts.append(Text(f"  train it: lorasearch train --config {best_files(summary.name)[1]}"))
    front = [r for r in rows if r.number in looked.pareto]
    if front:
        parts.append(
            Text(
                f"Pareto front ({len(front)} of {counts['complete']} complete trials): "
                f"{', '.join(summary.objectives)}",
                style="bold",
            )
        )
        for r in front:
            values = ", ".join(f"{v:.4g}" for v in r.values or ())
            parts.append(
                Text(
                    f"  trial {r.number}: {values}  train it: lorasearch train --config "
                    f"{pareto_config_file(summary.name, r.number)}"
                )
            )
    for split in ("val", "test"):
        if split in looked.evaluation:
            parts.append(evaluation_view(looked.evaluation[split]))
    parts.append(importance_bars(looked.importances))
    reasons = fail_reasons(rows)
    if reasons:
        parts.append(Text("Why trials did not complete", style="bold"))
        parts += [Text(f"  {n} x {printable(reason)}") for reason, n in reasons]
    return Group(*parts)


def best_line(best: TrialOutcome, ties: list[int], metric: str, study: str | None = None) -> Text:
    """`Best: trial 3, cer 0.2140`; when others have exactly its value, a tie, not a best."""
    if not ties:
        return Text(f"Best: trial {best.number}, {metric} {best.value:.4f}", style="bold")
    return Text("Tie: " + tie_text(ties, metric, best.value, best.number, study), style="bold yellow")


def evaluation_view(summary: dict[str, Any]) -> Group:
    """One split's evaluation: the table, each adapter against the base and the best, and what
    the early stop saved (`lorasearch evaluate` prints it, `show` too)."""
    lines = [*difference_lines(summary), *filter(None, [saved_line(summary)])]
    return Group(evaluation_table(summary), *(Text(printable(line)) for line in lines))

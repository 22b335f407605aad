"""`lorasearch evaluate` in the console: a progress bar while the worker generates, then the
table OCR papers print (candidate, what differs, F1, CER, WER, exact match, each with its 95%
interval) and one line per paired difference that says whether the records tell the two apart.

It renders the summary dict `evaluation.score` makes, so it never imports the engine.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

_SHOWN = (("char_f1", "F1"), ("cer", "CER"), ("wer", "WER"), ("exact_match", "exact"))
_LOWER_IS_BETTER = {"cer": True, "cer_mean": True, "wer": True, "exact_match": False, "char_f1": False}


class EvaluateProgress:
    """A bar of generated answers (all candidates together); `update` takes the engine's Progress."""

    def __init__(self, console: Console) -> None:
        self._bar = Progress(
            TextColumn("{task.fields[stage]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task: Any = None

    def __enter__(self) -> EvaluateProgress:
        self._bar.__enter__()
        self._task = self._bar.add_task("evaluate", total=None, stage="starting")
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(*exc)

    def update(self, progress: Any) -> None:
        self._bar.update(
            self._task, total=progress.total or None, completed=progress.done, stage=progress.stage
        )


def interval(m: dict[str, float]) -> str:
    return f"{m['value']:.4f} [{m['low']:.4f}, {m['high']:.4f}]"


def difference(name: str, other: str, metric: str, d: dict[str, Any]) -> str:
    """`trial 7 vs base model: CER -0.2140 [-0.2510, -0.1800], better`."""
    verdict = "better" if d["better"] else "worse" if d["worse"] else "cannot tell apart on these records"
    label = dict(_SHOWN).get(metric, metric)
    return f"{name} vs {other}: {label} {d['value']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}], {verdict}"


def print_evaluation(summary: dict[str, Any], console: Console) -> None:
    """The table and the paired lines of one split's evaluation."""
    table = Table(
        title=f"{summary['split']} split, {summary['records']} records (95% bootstrap intervals)",
        title_justify="left",
    )
    for header in ("candidate", "params", "records", *(label for _, label in _SHOWN)):
        table.add_column(header, overflow="fold")
    for row in summary["candidates"]:
        name = row["name"] + (" (best)" if row["name"] == summary["best"] else "")
        params = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row["params"].items()
        )
        records = str(row["records"])
        if row.get("stopped_early"):
            records += " (stopped early)"
        cells = [interval(row["metrics"][m]) if row["metrics"] else "-" for m, _ in _SHOWN]
        table.add_row(Text(name), Text(params), records, *cells)
    console.print(table)
    best = summary["best"]
    for row in summary["candidates"]:
        for key, other in (("vs_base", "base model"), ("vs_best", best)):
            d = row.get(key, {}).get("cer")
            if d and other and row["name"] != "base model":
                console.print(difference(row["name"], other, "cer", d), markup=False, highlight=False)
    if summary.get("generations_saved"):
        console.print(
            f"stopped early: {summary['generations_saved']} of "
            f"{summary['generations'] + summary['generations_saved']} generations saved",
            markup=False,
        )

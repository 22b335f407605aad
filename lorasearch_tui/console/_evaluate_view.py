"""`lorasearch evaluate`'s progress in the console: a bar of generated answers while the worker
generates. (Its table is `report.evaluation_view`, which `show` prints too.)"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


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

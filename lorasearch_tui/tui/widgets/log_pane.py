"""The log pane: the tail of the engine's log and of the worker's log file."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from textual.widgets import RichLog

from ...errors import printable
from ...events import (
    SearchFinished,
    SearchStarted,
    TrialFinished,
    TrialOutcome,
    WorkerStateChanged,
    number_cell,
)


class LogPane(RichLog):
    """Appends lines; `follow_file` tails a log file from where it was last read."""

    def __init__(self, **kwargs) -> None:  # noqa: ANN003
        super().__init__(max_lines=500, wrap=False, markup=False, highlight=False, **kwargs)
        self._offsets: dict[Path, int] = {}

    def follow_file(self, path: Path, prefix: str) -> None:
        if not path.exists():
            return
        offset = self._offsets.get(path, 0)
        with path.open("rb") as source:
            source.seek(offset)
            data = source.read(65536)
        complete = data[: data.rfind(b"\n") + 1]
        self._offsets[path] = offset + len(complete)
        for line in complete.decode("utf-8", "replace").splitlines():
            if line.strip():
                self.write(f"{prefix}{line}")


class LogHandler(logging.Handler):
    """Sends `lorasearch.*` log records to the app, from whatever thread logs them."""

    def __init__(self, post) -> None:  # noqa: ANN001 - a callable taking one str
        super().__init__(level=logging.INFO)
        self._post = post

    def emit(self, record: logging.LogRecord) -> None:
        self._post(self.format(record))


def line_of(event: Any, objectives: tuple[str, ...] = ()) -> str | None:
    """What the log pane says of an event, if anything."""
    match event:
        case TrialFinished(outcome=outcome):
            return _trial_line(outcome, objectives)
        case SearchStarted(notice=notice, warm_start=warm, known_sets=known) if notice or warm or known:
            return "\n".join(line for line in (notice, known, warm) if line)
        case WorkerStateChanged(state="recycled"):
            where = f" ({event.worker})" if event.worker else ""
            return f"worker recycled{where}: {printable(event.detail)}"
        case SearchFinished():
            return f"search {event.reason}" + (f": {printable(event.message)}" if event.message else "")
    return None


def _trial_line(t: TrialOutcome, objectives: tuple[str, ...] = ()) -> str:
    value = f" {t.value:.4f}" if t.value is not None else ""
    if t.values is not None and objectives:
        value = " " + ", ".join(f"{m} {v:.4g}" for m, v in zip(objectives, t.values, strict=False))
    why = f" ({printable(t.fail_reason)})" if t.fail_reason else ""
    pruned = f" at step {t.pruned_at}" if t.pruned_at is not None else ""
    return f"trial {number_cell(t)} {t.label}{pruned}{value}{why}"

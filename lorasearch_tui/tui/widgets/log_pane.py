"""The log pane: the tail of the engine's log and of the worker's log file."""

from __future__ import annotations

import logging
from pathlib import Path

from textual.widgets import RichLog


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

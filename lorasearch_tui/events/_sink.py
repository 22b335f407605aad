"""Where events go: the console prints them, the TUI posts them as messages."""

from __future__ import annotations

import logging
from typing import Protocol

from ._records import Event


class Sink(Protocol):
    """Receives the engine's events, from the engine's own thread: it must not block for long
    (the TUI posts a message and returns)."""

    def emit(self, event: Event) -> None: ...


class NullSink:
    """Drops every event (tests, scripted use)."""

    def emit(self, event: Event) -> None:
        pass


class GuardedSink:
    """A front end that fails (a terminal gone with the SSH connection: every write is EIO)
    must not stop the search from recording its trials: its errors are logged once, then
    dropped."""

    def __init__(self, sink: Sink | None) -> None:
        self._sink = sink
        self._failed = False

    def emit(self, event: Event) -> None:
        if self._sink is None:
            return
        try:
            self._sink.emit(event)
        except Exception as exc:
            if not self._failed:
                self._failed = True
                logging.getLogger("lorasearch.search").warning(
                    "the front end failed (%s); the search goes on without it", exc
                )

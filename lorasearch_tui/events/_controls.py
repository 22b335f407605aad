"""Requests to a running search, from a front end's keys or a signal handler."""

from __future__ import annotations

import threading

POLL_S = 0.05  # how often the search loop reads the controls while a trial trains


class SearchControls:
    """Requests from a front end or a signal handler; safe from any thread.

    A request takes effect within `POLL_S` seconds while a trial trains.
    """

    def __init__(self) -> None:
        self.interrupted = threading.Event()
        self.stop_requested = threading.Event()
        self.paused = threading.Event()
        self._lock = threading.Lock()
        self._aborts: list[int | None] = []
        self._write = threading.Event()

    def interrupt(self) -> None:
        """Stop now: the running trial is recorded FAIL `interrupted` (Ctrl+C, SIGTERM, quit)."""
        self.interrupted.set()

    def stop_after_trial(self) -> None:
        """Start no new trial; the running ones finish."""
        self.stop_requested.set()

    def abort_trial(self, number: int | None = None) -> None:
        """End trial `number` (FAIL, `aborted by user`), or the one started last when None;
        the search goes on."""
        with self._lock:
            self._aborts.append(number)

    def pause(self) -> None:
        self.paused.set()

    def resume(self) -> None:
        self.paused.clear()

    def write_results_now(self) -> None:
        self._write.set()

    def take_aborts(self) -> list[int | None]:
        """The abort requests since the last call (trial numbers; None: the last started)."""
        with self._lock:
            aborts, self._aborts = self._aborts, []
        return aborts

    def take_write(self) -> bool:
        write = self._write.is_set()
        self._write.clear()
        return write

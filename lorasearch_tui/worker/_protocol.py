"""The pipe protocol between the search (parent) and the trial worker: JSON lines over two fds.

Parent -> worker: `run` (a trial's full parameters and folder), `decision` (after each eval:
prune or go on), `exit`. Worker -> parent: `ready`, `loading`, `started`, `step`, `eval`,
`finished`, `failed`. Plain file descriptors rather than the worker's stdout, because
libraries print to stdout and would corrupt the stream; the worker's stdout and stderr go to
its log file instead.
"""

from __future__ import annotations

import json
import os
import select
from typing import Any


class Channel:
    """Newline-delimited JSON over a pair of pipe ends, with a timeout on reads."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self._read_fd = read_fd
        self._write_fd = write_fd
        self._buffer = b""

    def send(self, message: dict[str, Any]) -> None:
        """Write one message; raises BrokenPipeError when the other side is gone."""
        data = (json.dumps(message, allow_nan=True) + "\n").encode()
        while data:
            written = os.write(self._write_fd, data)
            data = data[written:]

    def recv(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next message, or None when `timeout` seconds pass first.

        Raises:
            EOFError: the other side closed its end (exited or died).
        """
        while b"\n" not in self._buffer:
            if timeout is not None:
                ready, _, _ = select.select([self._read_fd], [], [], timeout)
                if not ready:
                    return None
            chunk = os.read(self._read_fd, 65536)
            if not chunk:
                raise EOFError("the other end of the pipe closed")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def peer_closed(self) -> bool:
        """True when the other side closed its end and nothing is left to read (never blocks)."""
        if b"\n" in self._buffer:
            return False
        ready, _, _ = select.select([self._read_fd], [], [], 0)
        if not ready:
            return False
        chunk = os.read(self._read_fd, 65536)
        self._buffer += chunk
        return not chunk

    def close(self) -> None:
        for fd in (self._read_fd, self._write_fd):
            try:
                os.close(fd)
            except OSError:
                pass

"""The pipe between the search (parent) and the trial worker: message lines over two fds.

Plain file descriptors rather than the worker's stdout, because libraries print to stdout and
would corrupt the stream; the worker's stdout and stderr go to its log file instead. What the
lines may hold is in `_messages.py`; this module only frames them, with a bound on a line's
length so that a runaway writer cannot fill the reader's memory.
"""

from __future__ import annotations

import os
import select
from collections.abc import Callable
from typing import Any

from ..events import EvalLogged, StepLogged
from ._messages import MAX_LINE, ProtocolError, _Message, encode


class Channel:
    """Newline-delimited messages over a pair of pipe ends, with a timeout on reads."""

    def __init__(self, read_fd: int, write_fd: int, decode: Callable[[bytes], Any]) -> None:
        """Args:
        decode: turns one line into a message (raises ProtocolError): the parent decodes the
            worker's messages, the worker the parent's commands.
        """
        self._read_fd = read_fd
        self._write_fd = write_fd
        self._decode = decode
        self._buffer = b""

    def send(self, message: _Message | StepLogged | EvalLogged) -> None:
        """Write one message; raises BrokenPipeError when the other side is gone."""
        data = encode(message)
        while data:
            written = os.write(self._write_fd, data)
            data = data[written:]

    def recv(self, timeout: float | None = None) -> Any:
        """The next message, or None when `timeout` seconds pass first.

        Raises:
            EOFError: the other side closed its end (exited or died).
            ProtocolError: the line is not a valid message, or is longer than `MAX_LINE`.
        """
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_LINE:
                self._buffer = b""
                raise ProtocolError(f"a line longer than {MAX_LINE} bytes")
            if timeout is not None:
                ready, _, _ = select.select([self._read_fd], [], [], timeout)
                if not ready:
                    return None
            chunk = os.read(self._read_fd, 65536)
            if not chunk:
                raise EOFError("the other end of the pipe closed")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return self._decode(line)

    def fileno(self) -> int:
        """The end to wait on (with `select`) for the next message."""
        return self._read_fd

    def has_line(self) -> bool:
        """A whole message is already read and waiting: `recv` returns it without reading."""
        return b"\n" in self._buffer

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


__all__ = ["Channel", "ProtocolError"]

"""A real pseudo-terminal for the tests that need one (an SSH session, the terminal UI)."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path


class Terminal:
    """`lorasearch` in a real pseudo-terminal, as in an SSH session: it is the session leader
    with the terminal as its controlling one. `hang_up()` closes the terminal as sshd does when
    the connection drops: SIGHUP, and every later write to the terminal fails."""

    def __init__(
        self, cwd: Path, *args: str, behind_a_shell: bool = False, env: dict[str, str | None] | None = None
    ) -> None:
        """Args:
        behind_a_shell: run it under a shell that ignores SIGHUP and passes none on, so the
            hang-up brings lorasearch no signal at all, only a dead terminal.
        env: variables to set for it (None removes one).
        """
        import fcntl
        import pty
        import struct
        import termios
        import threading

        given = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30", **(env or {})}
        env = {k: v for k, v in given.items() if v is not None}
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: become lorasearch
            os.chdir(cwd)
            command = [sys.executable, "-m", "lorasearch_tui", *args]
            if behind_a_shell:
                command = ["/bin/bash", "-c", 'trap "" HUP; "$@"; exit $?', "bash", *command]
            os.execve(command[0], command, env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        self.screen = bytearray()
        self._reading = True
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        import select

        while self._reading:
            if select.select([self.fd], [], [], 0.1)[0]:
                try:
                    self.screen += os.read(self.fd, 65536)
                except OSError:
                    return

    def type(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def hang_up(self) -> None:
        self._reading = False
        self._reader.join()
        os.close(self.fd)

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.1)
        os.killpg(self.pid, signal.SIGKILL)  # the session's group: lorasearch and its shell
        raise AssertionError(f"lorasearch did not end within {timeout} s")

"""The parent's handle on the trial worker process: start it, talk to it, replace it.

The worker runs in its own session, so a Ctrl+C in the terminal reaches only the parent, which
then decides (record the trial, stop the worker). The worker dies with the parent even on
`kill -9` (PR_SET_PDEATHSIG, and EOF on its pipe). Its stdout and stderr go to a log file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..worker import Channel


class WorkerDied(RuntimeError):
    """The worker process exited while a reply was expected."""


class WorkerProcess:
    """One worker process; `start()` again after `kill()` gives a fresh one."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None
        self._channel: Channel | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self, ready_timeout: float | None = None) -> None:
        """Start the process; with `ready_timeout`, wait for its `ready` message.

        Without it the caller receives `ready` among the other messages, and can go on
        watching its controls while the worker imports (~10 s on a CPU, ~16 s on a GPU host).
        """
        to_worker_r, to_worker_w = os.pipe()
        to_parent_r, to_parent_w = os.pipe()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "lorasearch_tui.worker", str(to_worker_r), str(to_parent_w)],
                pass_fds=(to_worker_r, to_parent_w),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        os.close(to_worker_r)
        os.close(to_parent_w)
        self._channel = Channel(to_parent_r, to_worker_w)
        if ready_timeout is not None:
            message = self.recv(ready_timeout)
            if message is None or message.get("event") != "ready":
                self.kill()
                raise WorkerDied(f"the worker did not start (see {self.log_path})")

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def exit_code(self) -> int | None:
        return self._proc.poll() if self._proc else None

    def send(self, message: dict[str, Any]) -> None:
        assert self._channel is not None
        try:
            self._channel.send(message)
        except (BrokenPipeError, OSError) as exc:
            raise WorkerDied(f"the worker is gone ({exc})") from None

    def recv(self, timeout: float | None) -> dict[str, Any] | None:
        """The next message, None after `timeout`; `WorkerDied` when the process is gone."""
        assert self._channel is not None
        try:
            return self._channel.recv(timeout)
        except EOFError:
            code = self._proc.wait(timeout=10) if self._proc else None
            raise WorkerDied(f"the worker process exited (code {code})") from None

    def kill(self) -> None:
        """Stop the process at once (abort, interrupt, after a failure)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=30)
        self._close()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the worker to exit; kill it if it does not within `timeout`."""
        if self.alive():
            try:
                self.send({"cmd": "exit"})
                assert self._proc is not None
                self._proc.wait(timeout=timeout)
            except (WorkerDied, subprocess.TimeoutExpired):
                pass
        self.kill()

    def _close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None

"""The parent's handle on the trial worker process: start it, talk to it, watch it, replace it.

The worker runs in its own session and process group, so a Ctrl+C in the terminal reaches
only the parent, which then decides (record the trial, stop the worker), and so that killing
the group takes whatever the worker started with it. The worker dies with the parent even on
`kill -9` (PR_SET_PDEATHSIG, and EOF on its pipe). Its stdout and stderr go to a log file.

The parent watches the process, not only the pipe: a worker that dies while a child of it
still holds the pipe open is noticed within one poll, and its group is killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ._messages import ProtocolError, decode_message
from ._protocol import Channel

WORKER_COMMAND = (sys.executable, "-m", "lorasearch_tui.worker")


class WorkerDied(RuntimeError):
    """The worker process is gone; the message says how (`worker died (signal 9: SIGKILL)`)."""


class WorkerProcess:
    """One worker process; `start()` again after `kill()` gives a fresh one."""

    def __init__(
        self, log_path: Path, command: tuple[str, ...] = WORKER_COMMAND, env: dict[str, str] | None = None
    ) -> None:
        """Args:
        command: the program to run with the two pipe fds as its last arguments (tests give a
            stand-in that speaks the protocol).
        env: variables set for the worker over this process's own (its GPU, its threads).
        """
        self.log_path = log_path
        self._command = command
        self._env = env or {}
        self._proc: subprocess.Popen[bytes] | None = None
        self._channel: Channel | None = None
        self.ready = False  # it sent `ready`: it started, imports done

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
                [*self._command, str(to_worker_r), str(to_parent_w)],
                pass_fds=(to_worker_r, to_parent_w),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **self._env} if self._env else None,
            )
        os.close(to_worker_r)
        os.close(to_parent_w)
        self._channel = Channel(to_parent_r, to_worker_w, decode_message)
        self.ready = False
        if ready_timeout is not None:
            deadline = time.monotonic() + ready_timeout
            message = None
            while message is None and time.monotonic() < deadline:
                message = self.recv(min(0.5, ready_timeout))
            if message is None or message.event != "ready":
                self.kill()
                raise WorkerDied(f"the worker did not start (see {self.log_path})")

    def fileno(self) -> int | None:
        """The pipe end its messages arrive on (to wait on several workers at once)."""
        return self._channel.fileno() if self._channel is not None else None

    def has_message(self) -> bool:
        """A message is already read and waiting (`select` would not say so)."""
        return self._channel is not None and self._channel.has_line()

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def send(self, message: Any) -> None:
        assert self._channel is not None
        try:
            self._channel.send(message)
        except OSError as exc:
            self.kill()
            raise WorkerDied(f"worker is gone ({exc.strerror or exc})") from None

    def recv(self, timeout: float | None) -> Any:
        """The next message, None after `timeout`.

        Raises:
            WorkerDied: the process exited, whether or not its pipe is still open.
            ProtocolError: the worker wrote something that is not a valid message.
        """
        assert self._channel is not None and self._proc is not None
        try:
            message = self._channel.recv(timeout)
        except EOFError:
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # closed its pipe but lives on: as good as dead
                pass
            raise self._died() from None
        except ProtocolError:
            raise
        if message is None and self._proc.poll() is not None:
            raise self._died()
        if message is not None and message.event == "ready":
            self.ready = True
        return message

    def _died(self) -> WorkerDied:
        """How the worker ended, after killing what is left of its process group."""
        code = self._proc.poll() if self._proc else None
        started = self.ready
        self.kill()
        if code is None:
            how = "closed its pipe"
        elif code < 0:
            how = f"signal {-code}: {_signal_name(-code)}"
        else:
            how = f"exit code {code}"
        if not started:
            last = _last_line(self.log_path)
            return WorkerDied(
                f"worker failed to start ({how})" + (f": {last}" if last else "") + f"; see {self.log_path}"
            )
        return WorkerDied(f"worker died ({how})")

    def kill(self) -> None:
        """Stop the process and everything in its process group at once.

        Done once per process, right when it ends: the group's id is the worker's pid, which
        the system may give to another process once the worker is long gone.
        """
        if self._proc is not None:
            _kill_group(self._proc.pid)
            if self._proc.poll() is None:
                self._proc.kill()
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:  # stuck in the kernel (a GPU driver call): let it be
                pass
            self._proc = None
        self.ready = False
        self._close()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the worker to exit; kill it (and its group) if it does not within `timeout`."""
        if self.alive():
            try:
                from ._messages import Exit

                self.send(Exit())
                assert self._proc is not None
                self._proc.wait(timeout=timeout)
            except (WorkerDied, subprocess.TimeoutExpired):
                pass
        self.kill()

    def _close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown"


def _kill_group(pgid: int) -> None:
    """SIGKILL every process of the group (the worker started its own, with its pid as id)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _last_line(path: Path, limit: int = 300) -> str:
    """The last non-empty line of a log file (a startup failure's own words)."""
    try:
        with path.open("rb") as log:
            log.seek(max(0, log.seek(0, os.SEEK_END) - 4096))
            lines = [line.strip() for line in log.read().decode("utf-8", "replace").splitlines()]
    except OSError:
        return ""
    lines = [line for line in lines if line]
    return lines[-1][:limit] if lines else ""

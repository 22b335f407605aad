"""How the commands meet Ctrl+C, SIGTERM, a scheduler's SIGUSR1 and a dropped SSH connection.

A search records its running trial and writes its files before it exits 130, whatever ended
it; a hung-up terminal also means that nothing may wait on the screen any more. `train` stops
after its current step and still saves.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def _handled(signals: tuple[signal.Signals, ...], handler: Callable[[int, Any], None]) -> Iterator[None]:
    """`handler` for `signals` while the block runs, the previous handlers again after it."""
    previous = {sig: signal.getsignal(sig) for sig in signals}
    for sig in signals:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _stopping(*signals: signal.Signals) -> tuple[signal.Signals, ...]:
    """`signals` and SIGHUP, unless SIGHUP is ignored already: `nohup` asked the process to
    outlive its terminal, and a hang-up must not stop it then."""
    kept = signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN
    return (*signals, signal.SIGHUP) if kept else signals


@contextmanager
def interrupt_on_signals(interrupt: Callable[[], None], hung_up: Callable[..., None]) -> Iterator[None]:
    """Ctrl+C, SIGTERM, SIGHUP and SIGUSR1 stop the search cleanly: the trial is recorded
    (interrupted: it runs again), the files are written, exit code 130. SIGUSR1 is what a
    scheduler sends before a time limit (Slurm's `--signal=USR1@300`). SIGHUP (the SSH
    connection dropped) also calls `hung_up`: the terminal is gone, so the front end must not
    wait on it; under `nohup` a hang-up stays ignored."""

    def handler(signum: int, frame: Any) -> None:
        interrupt()
        if signum == signal.SIGHUP:
            hung_up(signum)

    with _handled(_stopping(signal.SIGINT, signal.SIGTERM, signal.SIGUSR1), handler):
        yield


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP (unless `nohup` ignores it) raise KeyboardInterrupt, as Ctrl+C does:
    a command that cleans up on Ctrl+C (evaluate stops its worker and keeps what it wrote)
    does the same for them."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    with _handled(_stopping(signal.SIGTERM), handler):  # Ctrl+C raises it already
        yield


def on_terminal_gone(gone: Callable[[int], None]) -> None:
    """Call `gone` from a watching thread when the terminal hangs up.

    A hung-up terminal does not always bring a SIGHUP: the kernel sends it to the session
    leader only, and a shell that ignores it passes nothing on. The terminal UI would then
    spin with its screen writer dead. Polling the terminal for POLLHUP catches that case too.
    """
    import select

    try:
        fd = sys.__stdin__.fileno()
    except (AttributeError, ValueError, OSError):
        return
    poller = select.poll()
    poller.register(fd, 0)  # POLLHUP and POLLERR are reported whatever the mask

    def watch() -> None:
        while True:
            for _, event in poller.poll(1000):
                if event & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
                    gone(0)
                    return

    threading.Thread(target=watch, name="terminal-watch", daemon=True).start()


@contextmanager
def stop_on_sigint(request_stop: Callable[[], None], say: Callable[[str], None]) -> Iterator[None]:
    """First Ctrl+C: stop after this step and save; a second one: stop at once."""
    previous: Any = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        request_stop()
        say("stopping after this step; Ctrl+C again to quit without saving")
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)

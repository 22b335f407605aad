"""`lorasearch proxy`: a study storage served to many runners through Optuna's gRPC proxy, and
stopped within seconds of Ctrl+C.

Optuna's `run_grpc_proxy_server` serves until a KeyboardInterrupt and leaves the server and its
handler threads to the interpreter's exit, which joins those threads. Once, in a full test run
on a loaded machine, that exit had not happened 30 s after the Ctrl+C. A user who stops a
proxy expects it gone: so the handler threads are ours, shut at the interrupt, and a watchdog
ends the process with the interrupted exit code if it is still there `STOP_S` later.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from ..errors import ExitCode

STOP_S = 5.0  # how long the exit may take after Ctrl+C before the process is ended
_HANDLERS = 10  # Optuna's default pool


def serve_proxy(storage: Any, host: str, port: int) -> None:
    """Serve `storage` at host:port until Ctrl+C.

    Raises:
        KeyboardInterrupt: Ctrl+C (or SIGINT), with the handler threads told to stop and the
            watchdog armed: the caller exits as usual, or the watchdog ends the process.
    """
    from concurrent.futures import ThreadPoolExecutor

    from optuna.storages import run_grpc_proxy_server

    handlers = ThreadPoolExecutor(max_workers=_HANDLERS, thread_name_prefix="proxy")
    try:
        run_grpc_proxy_server(storage, host=host, port=port, thread_pool=handlers)
    except KeyboardInterrupt:
        arm_exit_watchdog(STOP_S)
        handlers.shutdown(wait=False, cancel_futures=True)
        raise


def arm_exit_watchdog(seconds: float, code: int = ExitCode.INTERRUPTED) -> threading.Timer:
    """End the process with `code` in `seconds` unless it has exited by then (a daemon timer:
    it outlives the interpreter's wait for the other threads, which is where an exit hangs)."""
    watchdog = threading.Timer(seconds, os._exit, (int(code),))
    watchdog.daemon = True
    watchdog.start()
    return watchdog

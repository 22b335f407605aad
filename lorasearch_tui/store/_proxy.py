"""`lorasearch proxy`: a study storage served to many runners through Optuna's gRPC proxy, until
Ctrl+C, SIGTERM or a hang-up.

Optuna's `run_grpc_proxy_server` serves until a KeyboardInterrupt, which Python raises on
SIGINT only when the process started with SIGINT at its default: one started as a background
job of a script (a shell without job control) inherits SIGINT ignored, and never stops on it;
a scheduler or `kill` sends SIGTERM, which ends Python without its cleanup. Every other command
of lorasearch sets its own handlers; the proxy does too, so it stops the same way (exit 130)
however it was started and whichever of these signals comes.
"""

from __future__ import annotations

import signal
from typing import Any

from ..interrupts import terminate_as_interrupt


def serve_proxy(storage: Any, host: str, port: int) -> None:
    """Serve `storage` at host:port until SIGINT, SIGTERM or SIGHUP.

    Raises:
        KeyboardInterrupt: one of those signals came (the caller exits 130).
    """
    from optuna.storages import run_grpc_proxy_server

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with terminate_as_interrupt():
            run_grpc_proxy_server(storage, host=host, port=port)
    finally:
        signal.signal(signal.SIGINT, previous)

"""The trial worker process and its pipe protocol, both sides: the worker's loop (`_loop`, run by
`python -m lorasearch_tui.worker`) and the parent's handle on it (`WorkerProcess`)."""

from ._faults import ENV_VAR as FAULT_ENV_VAR
from ._faults import parse_faults
from ._messages import (
    Decision,
    Failed,
    Finished,
    Loaded,
    Loading,
    ProtocolError,
    Ready,
    Result,
    Run,
    Save,
    Saved,
    Started,
    decode_command,
    decode_message,
)
from ._process import WORKER_COMMAND, WorkerDied, WorkerProcess
from ._protocol import Channel

__all__ = [
    "WORKER_COMMAND",
    "WorkerDied",
    "WorkerProcess",
    "FAULT_ENV_VAR",
    "Channel",
    "Decision",
    "Failed",
    "Finished",
    "Loaded",
    "Loading",
    "ProtocolError",
    "Ready",
    "Result",
    "Run",
    "Save",
    "Saved",
    "Started",
    "decode_command",
    "decode_message",
    "parse_faults",
]

"""The trial worker process and its pipe protocol (the parent side lives in `search`)."""

from ._faults import ENV_VAR as FAULT_ENV_VAR
from ._faults import parse_faults
from ._messages import (
    Alive,
    Decision,
    Exit,
    Failed,
    Finished,
    Loaded,
    Loading,
    ProtocolError,
    Ready,
    Result,
    Run,
    Started,
    decode_command,
    decode_message,
)
from ._protocol import Channel

__all__ = [
    "FAULT_ENV_VAR",
    "Alive",
    "Channel",
    "Decision",
    "Exit",
    "Failed",
    "Finished",
    "Loaded",
    "Loading",
    "ProtocolError",
    "Ready",
    "Result",
    "Run",
    "Started",
    "decode_command",
    "decode_message",
    "parse_faults",
]

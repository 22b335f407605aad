"""The trial worker process and its pipe protocol (the parent side lives in `search`)."""

from ._faults import ENV_VAR as FAULT_ENV_VAR
from ._protocol import Channel

__all__ = ["FAULT_ENV_VAR", "Channel"]

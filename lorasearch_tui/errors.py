"""The errors the user can fix, and the exit codes the CLI documents.

Anything raised as `UserError` reaches the user as one line and exit code 2, without a
traceback: a wrong config, a broken data file, a model folder that is not there. Anything
else is a bug of ours and keeps its traceback (exit code 1).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of every `lorasearch` command."""

    OK = 0
    BUG = 1
    USAGE = 2  # bad usage, config or data
    INTERRUPTED = 130


class UserError(Exception):
    """A problem in what the user gave us, stated in one line that says what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

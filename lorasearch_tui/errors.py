"""The errors the user can fix, the failures a run cannot ride out, and the exit codes.

Anything raised as `UserError` reaches the user as one line and exit code 2, without a
traceback: a wrong config, a broken data file, a model folder that is not there. A
`RunFailure` is not the user's input but the world around the run (a full disk, a storage
that stays locked, trials that keep failing the same way): one line too, exit code 1.
Anything else is a bug of ours and keeps its traceback (exit code 1).
"""

from __future__ import annotations

import errno
import re
import shutil
from enum import IntEnum
from pathlib import Path


class ExitCode(IntEnum):
    """Exit codes of every `lorasearch` command."""

    OK = 0
    BUG = 1  # also a RunFailure, which says what happened in one line
    USAGE = 2  # bad usage, config or data
    INTERRUPTED = 130


class OneLineError(Exception):
    """An error whose message is all a user needs: shown as one line, without a traceback."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UserError(OneLineError):
    """A problem in what the user gave us, stated in one line that says what to do."""


class RunFailure(OneLineError):
    """The run had to stop for a reason outside the user's input; one line says which."""


class DiskFull(RunFailure):
    """A write failed for lack of space; the message says where and how much is free."""

    def __init__(self, path: Path | str, what: str = "") -> None:
        path = Path(path)
        free = free_bytes(path)
        free_text = f"{free / 2**20:.1f} MiB free" if free is not None else "free space unknown"
        super().__init__(
            f"no space left on the disk of {path} ({free_text}){what}; free some space, "
            f"then run the search again with --resume"
        )
        self.path = path


def is_disk_full(exc: BaseException) -> bool:
    """An OSError of a full disk or an exhausted quota."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def free_bytes(path: Path) -> int | None:
    """Free bytes on the file system holding `path` (or its nearest existing parent)."""
    for folder in (path, *path.parents):
        try:
            return shutil.disk_usage(folder).free
        except OSError:
            continue
    return None


# C0 and C1 control characters, DEL, and the Unicode line/paragraph separators and bidi
# overrides: each can move the cursor, recolour or reorder what a terminal shows.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    r"""`text` with control characters written as escapes (`\x1b`, `\n`), safe for a terminal.

    Config keys, file names and record fields come from files the user may not have written;
    echoed raw, an escape sequence in one of them would drive the terminal.
    """
    return _UNPRINTABLE.sub(lambda m: repr(m.group())[1:-1], text)

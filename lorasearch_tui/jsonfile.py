"""Reading a JSON file the user gave us (a config, a data set): one line for every way it fails.

Config and data files are often made by other tools: saved as UTF-16 by an editor, truncated,
binary by mistake, written with Python's `NaN`/`Infinity` (which JSON does not have). Each of
these must end in one line that names the file and says what to do, never in a traceback.
"""

from __future__ import annotations

import codecs
import json
from pathlib import Path
from typing import Any

from .errors import UserError

_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


class _NonFinite(ValueError):
    pass


def read_text(path: Path, what: str) -> str:
    """The text of a UTF-8 file (a UTF-8 byte order mark is allowed).

    Args:
        what: what the file is, for the messages ("config file", "data file").

    Raises:
        UserError: the file is missing, not a regular file, unreadable, or not UTF-8 text.
    """
    if not path.exists():
        raise UserError(f"{what} not found: {path}")
    if not path.is_file():  # a folder, a FIFO (reading one would block), a device
        raise UserError(f"{what} {path} is not a regular file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    for bom, name in _WIDE_BOMS:
        if data.startswith(bom):
            raise UserError(f"{path}: the file is {name} text; save it as UTF-8 (JSON files are UTF-8)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(
            f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            f"the {what} must be UTF-8 JSON"
        ) from None
    if "\x00" in text:
        raise UserError(f"{path}: the file holds NUL bytes, so it is binary, not JSON text")
    return text


def loads(text: str, path: Path, first_line: int = 1) -> Any:
    """Parse JSON strictly: no `NaN` or `Infinity`, a depth Python can hold.

    Args:
        first_line: the file's line number of `text`'s first line (JSON Lines), for messages.

    Raises:
        UserError: invalid JSON, with its line and column.
    """
    try:
        return json.loads(text, parse_constant=_refuse)
    except json.JSONDecodeError as exc:
        line = exc.lineno + first_line - 1
        raise UserError(f"{path}: invalid JSON at line {line}, column {exc.colno}: {exc.msg}") from None
    except _NonFinite as exc:
        where = f" at line {first_line}" if first_line > 1 else ""
        raise UserError(f"{path}: {exc}{where} is not a JSON number; write a finite number") from None
    except RecursionError:
        raise UserError(f"{path}: the JSON is nested too deeply to read; flatten it") from None


def _refuse(constant: str) -> Any:
    raise _NonFinite(constant)

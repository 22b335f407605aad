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


class _NonFinite:
    """Stands where the file wrote `NaN`/`Infinity`, so the refusal can name its JSON path."""

    def __init__(self, constant: str) -> None:
        self.constant = constant


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
        UserError: invalid JSON, with its line and column; a non-finite number, with its JSON
            path (`search_space.learning_rate.high`).
    """
    found: list[_NonFinite] = []

    def mark(constant: str) -> _NonFinite:
        # Parsing on and then looking for the marker gives the key path, which the decoder's
        # callback cannot know; the search runs only when the file has such a constant.
        found.append(_NonFinite(constant))
        return found[-1]

    try:
        data = json.loads(text, parse_constant=mark)
    except json.JSONDecodeError as exc:
        line = exc.lineno + first_line - 1
        raise UserError(f"{path}: invalid JSON at line {line}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise UserError(f"{path}: the JSON is nested too deeply to read; flatten it") from None
    if found:
        # A duplicate key can drop a marker from the data; the first one is then named unplaced.
        json_path, constant = _first_non_finite(data) or ("", found[0].constant)
        key = f"{json_path}: " if json_path else ""
        where = f" at line {first_line}" if first_line > 1 else ""
        raise UserError(f"{path}: {key}{constant}{where} is not a JSON number; write a finite number")
    return data


def _first_non_finite(data: Any) -> tuple[str, str] | None:
    """The JSON path (`a.b[2]`, as config errors write it) and text of the first marker, in file
    order; a loop, not recursion, since the data may be nested as deeply as Python could parse."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        json_path, value = stack.pop()
        if isinstance(value, _NonFinite):
            return json_path, value.constant
        if isinstance(value, dict):
            items = [(f"{json_path}.{k}" if json_path else str(k), v) for k, v in value.items()]
        elif isinstance(value, list):
            items = [(f"{json_path}[{i}]", v) for i, v in enumerate(value)]
        else:
            continue
        stack.extend(reversed(items))
    return None

"""Read a data file into raw records, telling exactly where the JSON is broken.

A file whose first character is `[` is one JSON array; anything else is JSON Lines (one
object per line, blank lines allowed). Each record keeps its 1-based line number where the
format has one, so later errors can point at it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..jsonfile import loads, read_text


@dataclass(frozen=True)
class RawRecord:
    """One record as read, with its position for error messages."""

    index: int
    line: int | None
    data: dict[str, Any]

    def where(self) -> str:
        """`record 7 (line 8)` or `record 7`."""
        return f"record {self.index}" + (f" (line {self.line})" if self.line else "")


def read_records(path: Path) -> list[RawRecord]:
    """All records of a JSON array or JSON Lines file.

    Raises:
        UserError: missing or empty file, invalid JSON (with line and column), a record that
            is not an object, a file with no records.
    """
    text = read_text(path, "data file")
    if not text.strip():
        raise UserError(f"{path}: the file is empty; it must hold a JSON array or JSON Lines records")
    if text.lstrip().startswith("["):
        records = _read_array(path, text)
    else:
        records = _read_lines(path, text)
    if not records:
        raise UserError(f"{path}: the file holds no records")
    return records


def _read_array(path: Path, text: str) -> list[RawRecord]:
    items = loads(text, path)
    records = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise UserError(f"{path}: record {i} is {type(item).__name__}, not a JSON object")
        records.append(RawRecord(i, None, item))
    return records


def _read_lines(path: Path, text: str) -> list[RawRecord]:
    records = []
    # Only "\n" ends a JSON Lines record: `str.splitlines` would also split inside strings at
    # U+2028, U+0085 and other characters that JSON allows there unescaped.
    for lineno, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        try:
            item = loads(line, path, first_line=lineno)
        except UserError:
            if lineno == 1 and _is_single_object(text):
                raise UserError(
                    f"{path}: the file is one JSON object; write a JSON array of records "
                    f"or one record per line (JSON Lines)"
                ) from None
            raise
        if not isinstance(item, dict):
            raise UserError(f"{path}: line {lineno} is {type(item).__name__}, not a JSON object")
        records.append(RawRecord(len(records), lineno, item))
    return records


def _is_single_object(text: str) -> bool:
    try:
        return isinstance(loads(text, Path("-")), dict)
    except UserError:
        return False

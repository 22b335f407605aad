"""Files written so that a reader never sees half of one and a crash never leaves one."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .errors import DiskFull, is_disk_full


def write_json(path: Path, data: Any) -> None:
    """Write strict JSON (no NaN or Infinity) to a temporary file beside `path`, then rename it
    into place. On failure the temporary file is removed and `path` keeps its old content.

    Raises:
        DiskFull: the disk (or the quota) is full.
        ValueError: `data` holds a non-finite float, which JSON has no word for.
    """
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def write_text(path: Path, text: str) -> None:
    """Write `text` beside `path`, then rename it into place (see `write_json`)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if is_disk_full(exc):
            raise DiskFull(path) from None
        raise

"""A candidate's answers on one split: `{split}_generations.jsonl`, one line per record, written
as each batch ends, so that a killed `evaluate` resumes where it stopped and every score it
prints can be recomputed from the file by hand.

Each line keeps the raw texts (what the model wrote, what the record says) beside the normalized
ones that were scored, so a different `normalize` later needs no new generation.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Generation:
    """One record's answer."""

    record: int
    prediction: str  # normalized as the objective says: what is scored
    reference: str
    raw_prediction: str
    raw_reference: str


def generations_file(folder: Path, split: str) -> Path:
    return folder / f"{split}_generations.jsonl"


def read_generations(path: Path) -> list[Generation]:
    """The answers written so far, in order; a last line cut by a kill is left out (and is
    generated again), as is a second answer to the same record."""
    if not path.is_file():
        return []
    seen: dict[int, Generation] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = Generation(**json.loads(line))
        except (ValueError, TypeError):
            continue
        seen.setdefault(row.record, row)
    return list(seen.values())


def append_generations(path: Path, rows: list[Generation]) -> None:
    """Add a batch's answers; a kill mid-write leaves at most one cut line, which reading skips."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file() and path.stat().st_size:
        with path.open("rb+") as end:  # only the last byte: was the last line cut?
            end.seek(-1, 2)
            if end.read(1) != b"\n":
                end.write(b"\n")  # end a cut line so the next one starts clean
    with path.open("a", encoding="utf-8") as out:
        out.write("".join(json.dumps(asdict(r), ensure_ascii=False) + "\n" for r in rows))
        out.flush()

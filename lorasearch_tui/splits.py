"""Split specifications: the Hugging Face slice syntax and plain fractions.

`train[:90%]`, `train[90%:]`, `train[:400]`, `train[10:-10]`, `train` (everything), and a plain
fraction such as `0.9`. A fraction has no side of its own, so it takes the side of the split
it names: the first 90% for `train_split`, the last 10% for `val_split` with `0.1`, so that
`0.9`/`0.1` never overlap. Percent bounds round to the nearest record, as `datasets` does.
Records keep the order of the file: no shuffling, so a split is the same on every run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

_SLICE = re.compile(r"^\s*train\s*(?:\[\s*(?P<start>[^:\]]*)\s*:\s*(?P<stop>[^:\]]*)\s*\])?\s*$")
_BOUND = re.compile(r"^(?P<num>-?\d+(?:\.\d+)?)(?P<pct>%?)$")

SplitSide = Literal["head", "tail"]


@dataclass(frozen=True)
class SplitSpec:
    """A parsed split: bounds as record counts or percentages (None = open end)."""

    start: float | None
    stop: float | None
    percent: bool

    def indices(self, n: int) -> range:
        """The record indices this split selects out of `n` usable records."""
        return range(n)[slice(self._bound(self.start, n), self._bound(self.stop, n))]

    def _bound(self, value: float | None, n: int) -> int | None:
        if value is None:
            return None
        return int(round(n * value / 100)) if self.percent else int(value)


def parse_split(text: str, side: SplitSide = "head") -> SplitSpec:
    """Parse a split string; `side` says where a plain fraction is taken from.

    Raises:
        ValueError: with a message that shows the accepted forms.
    """
    text = str(text).strip()
    try:
        fraction = float(text)
    except ValueError:
        fraction = None
    if fraction is not None:
        if not 0 < fraction <= 1:
            raise ValueError(f"a plain fraction must be in (0, 1], got {text}")
        pct = fraction * 100
        return SplitSpec(None, pct, True) if side == "head" else SplitSpec(100 - pct, None, True)

    match = _SLICE.match(text)
    if not match:
        raise ValueError(
            f"'{text}' is not a split; use the form train[:90%], train[90%:], train[:400] or 0.9"
        )
    bounds = [match.group("start"), match.group("stop")]
    parsed: list[float | None] = []
    kinds: set[bool] = set()
    for bound in bounds:
        if bound is None or bound.strip() == "":
            parsed.append(None)
            continue
        m = _BOUND.match(bound.strip())
        if not m or (not m.group("pct") and "." in m.group("num")):
            raise ValueError(f"'{bound}' in '{text}' is not a record count or a percentage like 90%")
        value = float(m.group("num"))
        if m.group("pct") and not -100 <= value <= 100:
            raise ValueError(f"'{bound}' in '{text}' is not a percentage between -100% and 100%")
        parsed.append(value)
        kinds.add(bool(m.group("pct")))
    if len(kinds) > 1:
        raise ValueError(f"'{text}' mixes a percentage and a record count; use one kind")
    return SplitSpec(parsed[0], parsed[1], percent=kinds == {True})

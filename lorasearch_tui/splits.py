"""Split specifications: the Hugging Face split syntax, parsed by `datasets.ReadInstruction`,
and plain fractions on top.

The library's grammar, rules and rounding are followed here rather than called: importing
`datasets` costs 1-2 s to every command that reads a config or checks data, the search's parent
among them. `tests/test_splits.py` holds the two to the same verdicts and the same records.

`train[:90%]`, `train[90%:]`, `validation`, `test[:400]`, `train[10:-10]`, `train+validation`:
the name is a split of the data (a data file or an image folder is one split, `train`; a Hub
dataset or a `save_to_disk` folder has its own names), the slice is the library's, rounding to the
nearest record as it does. What the library lacks is kept here: a plain fraction such as `0.9`,
which has no side of its own, so it takes the side of the split it names: the first 90% of
`train` for `train_split`, the last 10% for `val_split` with `0.1`, so that `0.9`/`0.1` never
overlap; spaces inside the brackets; and a refusal of `train[10%:400]`, which the library would
read as 10% to 400%. Records keep their order: no shuffling unless the config asks for it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

SplitSide = Literal["head", "tail"]
# one bound with % and the other without: the library would take both as percentages
_MIXED = re.compile(r"\[\s*-?\d+\s*%\s*:\s*-?\d+\s*\]|\[\s*-?\d+\s*:\s*-?\d+\s*%\s*\]")
FORMS = "use the form train[:90%], train[90%:], validation, test[:400] or 0.9"


@dataclass(frozen=True)
class Split:
    """A parsed split: the library's instruction, or a plain fraction of `train`."""

    text: str
    side: SplitSide
    fraction: float | None = None

    @property
    def names(self) -> list[str]:
        """The data splits it reads, in order."""
        if self.fraction is not None:
            return ["train"]
        return [part.split("[")[0].split("(")[0] for part in _compact(self.text).split("+")]

    def select(self, sizes: dict[str, int]) -> list[tuple[str, range]]:
        """The records it selects: (split name, indices) for each part, given each split's size.

        Raises:
            ValueError: the library's refusal (a rounding that empties a small split).
        """
        if self.fraction is not None:
            # one boundary for both sides, `0.9` and `0.1` alike: round(0.9 n), so that they
            # neither overlap nor leave a record out (n - round(0.1 n) would, at half-way n)
            n = sizes["train"]
            pct = self.fraction * 100
            if self.side == "head":
                return [("train", range(0, int(round(n * pct / 100))))]
            return [("train", range(int(round(n * (100 - pct) / 100)), n))]
        return [_absolute(part, sizes) for part in _parts(_compact(self.text))]


def parse_split(text: str, side: SplitSide = "head") -> Split:
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
        return Split(text, side, fraction)
    if _MIXED.search(text):
        raise ValueError(f"'{text}' mixes a percentage and a record count; use one kind")
    try:
        _parts(_compact(text))
    except ValueError as exc:
        raise ValueError(f"'{text}' is not a split ({exc}); {FORMS}") from None
    return Split(text, side)


# `datasets.arrow_reader`'s grammar of one part: a split name, a slice, a rounding
_PART = re.compile(
    r"^(?P<split>\w+(\.\w+)*)"
    r"(\[((?P<from>-?[\d_]+)(?P<from_pct>%)?)?:((?P<to>-?[\d_]+)(?P<to_pct>%)?)?\])?"
    r"(\((?P<rounding>[^\)]*)\))?$"
)
_ROUNDINGS = ("closest", "pct1_dropremainder")


@dataclass(frozen=True)
class _Part:
    """One `+`-separated part: `datasets`' `_RelativeInstruction`."""

    name: str
    from_: int | None
    to: int | None
    percent: bool
    rounding: str | None  # "closest" or "pct1_dropremainder" for a percent slice


def _parts(spec: str) -> list[_Part]:
    """The parts of `spec`, refused where `ReadInstruction.from_spec` refuses, in its words.

    Raises:
        ValueError: the part that is wrong and why.
    """
    parts = []
    for text in re.split(r"\s*\+\s*", spec):
        match = _PART.match(text)
        if not match:
            raise ValueError(f"Unrecognized instruction format: {text}")
        bounds = [int(b) if b is not None else None for b in (match["from"], match["to"])]  # `1_000` is one
        percent = bool(match["from_pct"] or match["to_pct"])
        rounding = match["rounding"]
        if rounding is not None and rounding not in _ROUNDINGS:
            raise ValueError("rounding must be either closest or pct1_dropremainder")
        if rounding is not None and not percent:
            raise ValueError("It is forbidden to specify rounding if not using percent slicing.")
        if percent and any(b is not None and abs(b) > 100 for b in bounds):
            raise ValueError("Percent slice boundaries must be > -100 and < 100.")
        start, stop = bounds
        rounding = rounding or ("closest" if percent else None)
        parts.append(_Part(match["split"], start, stop, percent, rounding))
    first = parts[0]
    if first.percent and any(p.percent and p.rounding != first.rounding for p in parts[1:]):
        raise ValueError("It is forbidden to sum ReadInstruction instances with different rounding values.")
    return parts


def _absolute(part: _Part, sizes: dict[str, int]) -> tuple[str, range]:
    """The records a part selects, rounded as `datasets`' `_rel_to_abs_instr` rounds.

    Raises:
        ValueError: an unknown split, or `pct1_dropremainder` on a split under 100 records.
    """
    if part.name not in sizes:
        raise ValueError(f'Unknown split "{part.name}". Should be one of {list(sizes)}.')
    n = sizes[part.name]

    def records(bound: int) -> int:
        if not part.percent:
            return bound
        if part.rounding == "closest":
            return int(round(bound * n / 100.0))
        if n < 100:
            raise ValueError(
                'Using "pct1_dropremainder" rounding on a split with less than 100 '
                "elements is forbidden: it always results in an empty dataset."
            )
        return bound * math.trunc(n / 100.0)

    start = 0 if part.from_ is None else records(part.from_)
    stop = n if part.to is None else records(part.to)
    # a slice of a range counts negative bounds from the end and clamps, as the library does
    return part.name, range(n)[start:stop]


def _compact(text: str) -> str:
    """Spaces beside brackets, colons, signs and `+` dropped; one inside a name stays (and fails)."""
    return re.sub(r"\s*([\[\]:+%()-])\s*", r"\1", text.strip())

"""Split specifications: the Hugging Face split syntax, parsed by `datasets.ReadInstruction`,
and plain fractions on top.

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
        from datasets import ReadInstruction

        parts = ReadInstruction.from_spec(_compact(self.text)).to_absolute(sizes)
        return [(p.splitname, range(sizes[p.splitname])[p.from_ : p.to]) for p in parts]


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
    from datasets import ReadInstruction

    try:
        ReadInstruction.from_spec(_compact(text))
    except (ValueError, AssertionError) as exc:
        raise ValueError(f"'{text}' is not a split ({exc}); {FORMS}") from None
    return Split(text, side)


def _compact(text: str) -> str:
    """Spaces beside brackets, colons, signs and `+` dropped; one inside a name stays (and fails)."""
    return re.sub(r"\s*([\[\]:+%()-])\s*", r"\1", text.strip())

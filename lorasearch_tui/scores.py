"""How generated answers are scored, by `evaluate` and by the views that judge a search's evals:
per record first, then over the records, with seeded bootstrap intervals and paired differences.

Per record: the character and word edits (`jiwer`'s alignment) and the reference's length, exact
match, and the bag-of-characters F1 (the characters both texts hold, counted with repetition,
over each text's length: the seed project's "F1" beside its CER, blind to order). Over records:
CER and WER at the corpus level (all edits over all reference characters or words, what
`jiwer.cer(references, predictions)` gives), the mean of per-record CER beside it (each record
weighs the same), the share of exact matches and the mean F1.

Why a bootstrap: a score over a few hundred records is a measurement, and two adapters that differ
by less than its noise are not told apart by it. Resampling the records (with replacement, a
fixed seed, the same draws for every candidate) gives each score an interval, and, paired, the
difference of two candidates an interval that does not count the records' own spread twice:
`trial 7 vs base: CER -0.214 [-0.251, -0.180]` says trial 7 is better on these records beyond
their noise. A blank reference is compared as `∅` (`blank_as_symbol`), as the search's evals
compare it: nothing divides by zero, and a blank answer to a blank page is right.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Any

GENERATIONS_FILE = "generations.jsonl"  # a search's eval answers, beside each trial's adapter
EMPTY = "\u2205"
METRICS = ("cer", "cer_mean", "wer", "exact_match", "char_f1")
LOWER_IS_BETTER = {"cer": True, "cer_mean": True, "wer": True, "exact_match": False, "char_f1": False}
ROUNDS = 1000  # bootstrap resamples: the interval's ends move by ~0.002 between seeds at 200 records
LEVEL = 0.95


@dataclass(frozen=True)
class RecordScore:
    """One record's answer against its reference."""

    record: int
    char_edits: int
    ref_chars: int
    word_edits: int
    ref_words: int
    exact: bool
    char_f1: float


def normalized(text: str, how: Any) -> str:
    """`text` cleaned as `how` says: NFKC first (full-width forms become plain ones, so their
    punctuation and spaces are recognised), then punctuation, then whitespace, then case."""
    if how.nfkc:
        text = unicodedata.normalize("NFKC", text)
    if how.remove_punctuation:
        text = "".join(c for c in text if not unicodedata.category(c).startswith("P"))
    if how.remove_whitespace:
        text = "".join(text.split())
    if how.collapse_whitespace:
        text = " ".join(text.split())
    if how.strip:
        text = text.strip()
    if how.lowercase:
        text = text.lower()
    return text


def blank_as_symbol(prediction: str, reference: str) -> tuple[str, str]:
    """A blank reference becomes `∅` (jiwer refuses an empty one, and a ratio needs a length);
    a blank answer to it becomes `∅` too, so that it counts as right (a blank page read blank)."""
    if reference:
        return prediction, reference
    return (prediction or EMPTY), EMPTY


def score_record(record: int, prediction: str, reference: str) -> RecordScore:
    """Edits, lengths, exact match and bag-of-characters F1 of one (already normalized) pair."""
    import jiwer

    prediction, reference = blank_as_symbol(prediction, reference)
    chars = jiwer.process_characters(reference, prediction)
    words = jiwer.process_words(reference, prediction)
    common = sum((Counter(prediction) & Counter(reference)).values())
    f1 = 2 * common / (len(prediction) + len(reference))  # the reference is never blank here
    return RecordScore(
        record=record,
        char_edits=chars.substitutions + chars.deletions + chars.insertions,
        ref_chars=chars.hits + chars.substitutions + chars.deletions,
        word_edits=words.substitutions + words.deletions + words.insertions,
        ref_words=words.hits + words.substitutions + words.deletions,
        exact=prediction == reference,
        char_f1=f1,
    )


def _columns(scores: list[RecordScore]) -> dict[str, Any]:
    import numpy as np

    def column(name: str) -> Any:
        return np.array([getattr(s, name) for s in scores], dtype=float)

    return {
        name: column(name)
        for name in ("char_edits", "ref_chars", "word_edits", "ref_words", "exact", "char_f1")
    }


def _metrics(c: dict[str, Any], idx: Any) -> dict[str, Any]:
    """Every metric for each row of `idx` (resampled record positions, one draw per row)."""
    return {
        "cer": c["char_edits"][idx].sum(-1) / c["ref_chars"][idx].sum(-1),
        "cer_mean": (c["char_edits"] / c["ref_chars"])[idx].mean(-1),
        "wer": c["word_edits"][idx].sum(-1) / c["ref_words"][idx].sum(-1),
        "exact_match": c["exact"][idx].mean(-1),
        "char_f1": c["char_f1"][idx].mean(-1),
    }


def _draws(n: int, seed: int, rounds: int) -> Any:
    import numpy as np

    return np.random.default_rng(seed).integers(0, n, size=(rounds, n))


def summarize(scores: list[RecordScore], seed: int = 0, rounds: int = ROUNDS) -> dict[str, dict[str, float]]:
    """Each metric's value over all records and its bootstrap interval: {metric: {value, low, high}}."""
    import numpy as np

    if not scores:
        return {}
    c = _columns(scores)
    whole = _metrics(c, np.arange(len(scores)))
    drawn = _metrics(c, _draws(len(scores), seed, rounds))
    tail = (1 - LEVEL) / 2 * 100
    return {
        m: {
            "value": float(whole[m]),
            "low": float(np.percentile(drawn[m], tail)),
            "high": float(np.percentile(drawn[m], 100 - tail)),
        }
        for m in METRICS
    }


def paired(a: list[RecordScore], b: list[RecordScore], seed: int = 0) -> dict[str, dict[str, float]]:
    """`a` minus `b` for each metric on the records both scored, with a paired bootstrap interval.

    Both are resampled with the same draws, so what the records share (a hard page is hard for
    both) cancels. `better` says whether the whole interval is on `a`'s better side, `worse`
    whether it is on its worse side; neither: these records cannot tell the two apart.
    """
    import numpy as np

    mine = {s.record: s for s in a}
    theirs = {s.record: s for s in b}
    common = sorted(mine.keys() & theirs.keys())
    if not common:
        return {}
    ca, cb = _columns([mine[r] for r in common]), _columns([theirs[r] for r in common])
    whole_a, whole_b = _metrics(ca, np.arange(len(common))), _metrics(cb, np.arange(len(common)))
    draws = _draws(len(common), seed, ROUNDS)
    da, db = _metrics(ca, draws), _metrics(cb, draws)
    tail = (1 - LEVEL) / 2 * 100
    out = {}
    for m in METRICS:
        diff = da[m] - db[m]
        low, high = float(np.percentile(diff, tail)), float(np.percentile(diff, 100 - tail))
        lower_better = LOWER_IS_BETTER[m]
        out[m] = {
            "value": float(whole_a[m] - whole_b[m]),
            "low": low,
            "high": high,
            "better": bool(high < 0 if lower_better else low > 0),
            "worse": bool(low > 0 if lower_better else high < 0),
            "records": len(common),
        }
    return out


def per_record_cer(scores: list[RecordScore]) -> dict[int, float]:
    """Each record's CER: what the paired test of the re-ranking compares."""
    return {s.record: s.char_edits / s.ref_chars for s in scores}

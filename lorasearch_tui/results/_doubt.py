"""Can the search tell its best trials apart? An answer from what its evals already wrote.

A generated-answer objective (CER, WER, exact match) is scored at every eval on the same first
`eval_samples` val records for every trial, and each eval's answers are in the trial's
`generations.jsonl`. So the best trial's value gets a bootstrap interval over those records,
and each of the next best trials a paired difference against it on the same records
(`lorasearch_tui.evaluation`'s statistics, the ones `evaluate` prints). A trial whose paired
interval holds 0 is one the search's measurement cannot tell from the best: the views say so
and suggest `lorasearch evaluate STUDY --top K`, which scores them on more records.

The eval whose answers count is the one whose score is the trial's value (the last eval, or
the best one when early stopping kept it). Trials trained on another host have no file here
and are left out; eval_loss and token accuracy have no per-record answers, hence no doubt.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..events import TrialOutcome
from ..scores import GENERATIONS_FILE, paired, score_record, summarize

CLOSE_CANDIDATES = 3  # the best trial and the next ones compared with it


@dataclass(frozen=True)
class Doubt:
    """The best trial's interval and the trials the search cannot tell from it."""

    best: int
    metric: str
    records: int
    interval: dict[str, float]  # value, low, high of the metric at the counted eval
    close: list[int] = field(default_factory=list)  # trials whose paired difference holds 0
    ranks: dict[int, int] = field(default_factory=dict)  # trial -> its place among the complete (1: best)


def _scores_at_value(trial_dir: str | None, metric: str, value: float | None) -> list[Any] | None:
    """The per-record scores of the eval whose score is `value` (None: no file, no answers)."""
    if not trial_dir or value is None:
        return None
    path = Path(trial_dir) / GENERATIONS_FILE
    if not path.is_file():
        return None
    steps: dict[int, list[Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
            steps.setdefault(int(row["step"]), []).append(
                score_record(int(row["record"]), row["prediction"], row["reference"])
            )
        except (ValueError, KeyError, TypeError):
            continue  # a line cut by a kill
    if not steps:
        return None
    key = _MEASURE[metric]

    def gap(step: int) -> float:
        return abs(summarize(steps[step], rounds=1)[key]["value"] - value)

    return steps[min(sorted(steps, reverse=True), key=gap)]  # the latest on equal gaps


_MEASURE = {"cer": "cer", "wer": "wer", "exact_match": "exact_match"}


def search_doubt(rows: list[TrialOutcome], best: int | None, metric: str, goal: str) -> Doubt | None:
    """The best trial's interval, and which of the next best trials the search cannot tell from
    it; None when the metric has no per-record answers or the files are not on this host."""
    if best is None or metric not in _MEASURE:
        return None
    complete = [r for r in rows if r.state == "COMPLETE" and r.value is not None and not r.imported]
    complete.sort(key=lambda r: (r.value if goal == "minimize" else -r.value, r.number))
    top = complete[:CLOSE_CANDIDATES]
    leader = next((r for r in top if r.number == best), None)
    if leader is None:
        return None
    mine = _scores_at_value(leader.trial_dir, metric, leader.value)
    if not mine:
        return None
    key = _MEASURE[metric]
    close = []
    for other in top:
        if other.number == best:
            continue
        theirs = _scores_at_value(other.trial_dir, metric, other.value)
        diff = paired(theirs, mine).get(key) if theirs else None
        if diff is not None and diff["low"] <= 0 <= diff["high"]:
            close.append(other.number)
    ranks = {r.number: place for place, r in enumerate(complete, 1)}
    return Doubt(best, metric, len(mine), summarize(mine)[key], sorted(close), ranks)


def doubt_line(doubt: Doubt, study: str, ties: list[int] | tuple[int, ...] = ()) -> str:
    """`cer 0.2140 [0.1800, 0.2500] over its eval's 32 records; trials 5, 7 ... cannot tell`.
    Trials tied with the best are left out: the tie line already says it of them."""
    m = doubt.interval
    close = [n for n in doubt.close if n not in ties]
    text = (
        f"{doubt.metric} {m['value']:.4f} [{m['low']:.4f}, {m['high']:.4f}] (95% interval over the "
        f"{doubt.records} records of its eval)"
    )
    if not close:
        return text
    several = len(close) > 1
    top = max(doubt.ranks.get(n, 0) for n in close)  # the --top that reaches every trial named
    return (
        f"{text}; trial{'s' if several else ''} {', '.join(map(str, close))}: the search cannot tell "
        f"{'them' if several else 'it'} from trial {doubt.best} (a paired interval holds 0); "
        f"score them on more records: lorasearch evaluate {study} --top {top}"
    )

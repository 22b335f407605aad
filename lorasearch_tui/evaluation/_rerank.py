"""When a candidate of the re-ranking may stop generating: it is significantly worse than the
leader on the records both have answered so far.

The test is the one Optuna's `WilcoxonPruner` uses, on the same kind of data: paired per-record
scores (here each record's CER), a one-sided Wilcoxon signed-rank test that the candidate's are
higher than the leader's, checked after every batch. It needs no assumption about how CER is
distributed (it is not normal: many records at 0, a few near 1). A candidate that stops keeps the
answers it wrote; its scores are then over fewer records and its row says where it stopped.
Exact ties on a record carry no information and are dropped (`zero_method="wilcox"`).
"""

from __future__ import annotations

ALPHA = 0.05
MIN_RECORDS = 8  # fewer differing records and no p-value can fall under 0.05 anyway (2^-5 = 0.03)


def worse_p(leader: dict[int, float], other: dict[int, float]) -> float | None:
    """The p-value that `other` is worse (higher per-record CER) than `leader` on their common
    records, or None when too few records differ to say anything."""
    from scipy.stats import wilcoxon

    common = sorted(leader.keys() & other.keys())
    diffs = [other[r] - leader[r] for r in common]
    if sum(1 for d in diffs if d != 0) < MIN_RECORDS:
        return None
    return float(wilcoxon(diffs, zero_method="wilcox", alternative="greater").pvalue)


def leader_of(scores: dict[str, dict[int, float]]) -> str | None:
    """The candidate with the lowest mean per-record CER so far (the first one on a tie)."""
    scored = {name: sum(s.values()) / len(s) for name, s in scores.items() if s}
    return min(scored, key=lambda name: scored[name]) if scored else None


def to_stop(scores: dict[str, dict[int, float]], alpha: float = ALPHA) -> dict[str, float]:
    """The candidates to stop now, with their p-values: every one significantly worse than the
    leader. The leader itself never stops."""
    leader = leader_of(scores)
    if leader is None:
        return {}
    stops = {}
    for name, mine in scores.items():
        if name == leader:
            continue
        p = worse_p(scores[leader], mine)
        if p is not None and p < alpha:
            stops[name] = p
    return stops

"""When a candidate of the re-ranking may stop generating: it is significantly worse than the
leader on the records both have answered so far.

The test is the one Optuna's `WilcoxonPruner` uses, on the same kind of data: paired per-record
scores (here each record's CER), a one-sided Wilcoxon signed-rank test that the candidate's are
higher than the leader's. It needs no assumption about how CER is distributed (it is not normal:
many records at 0, a few near 1). A candidate that stops keeps the answers it wrote; its scores
are then over fewer records and its row says where it stopped. Exact ties on a record carry no
information and are dropped (`zero_method="wilcox"`).

Looking often and at several candidates would stop equally good ones far more often than 5%
(a review simulated 38% with 2 candidates checked after every batch, 75% with 3): so the test
runs only at three points (a quarter, half and three quarters of the records), at
`ALPHA / (2 x 3 x (adapters - 1))` each: Bonferroni over the checks and the candidates, halved
again because the leader is chosen on the same records (without that half, a simulation of three
equal candidates stopped one in 11.5% of runs; with it, 4.5%). `tests/test_evaluate.py` runs
that simulation.
"""

from __future__ import annotations

ALPHA = 0.05  # the chance of stopping an equally good candidate, over all checks and candidates
CHECKS = (0.25, 0.5, 0.75)  # the shares of the records after which the re-ranking looks
MIN_RECORDS = 8  # differing records before a test is run at all


def check_points(records: int, batch: int) -> set[int]:
    """The record counts (ends of batches) at which the re-ranking tests: the first batch end
    past each share of `CHECKS`."""
    ends = sorted({min(start + batch, records) for start in range(0, records, batch)})
    return {next(e for e in ends if e >= share * records) for share in CHECKS if ends}


def check_alpha(adapters: int) -> float:
    """The level of one test: `ALPHA` shared among every check and every candidate but the
    leader, halved for choosing the leader from the data."""
    return ALPHA / (2 * len(CHECKS) * max(1, adapters - 1))


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


def to_stop(
    scores: dict[str, dict[int, float]], alpha: float = ALPHA, leader: str | None = None
) -> dict[str, float]:
    """The candidates to stop now, with their p-values: every one significantly worse than the
    leader (given, or the lowest mean per-record CER). The leader itself never stops."""
    leader = leader if leader is not None else leader_of(scores)
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

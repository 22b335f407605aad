"""What an evaluation says, in words every view shares: `evaluate`'s console output, `show`, the
report page. The summary is the plain dict `lorasearch_tui.evaluation.score` makes (and the study
keeps), so a front end renders it without importing the engine that made it.
"""

from __future__ import annotations

from typing import Any

# the columns OCR results are published with, in that order
SHOWN = (("char_f1", "F1"), ("cer", "CER"), ("wer", "WER"), ("exact_match", "exact"))
BASE_MODEL = "base model"


def fmt_interval(m: dict[str, float] | None) -> str:
    """`0.2140 [0.1900, 0.2380]`: a value and its 95% bootstrap interval."""
    return "-" if not m else f"{m['value']:.4f} [{m['low']:.4f}, {m['high']:.4f}]"


def difference_line(name: str, other: str, d: dict[str, Any], label: str = "CER") -> str:
    """`trial 7 vs base model: CER -0.2140 [-0.2510, -0.1800], better`."""
    verdict = "better" if d["better"] else "worse" if d["worse"] else "cannot tell apart on these records"
    return f"{name} vs {other}: {label} {d['value']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}], {verdict}"


def difference_lines(summary: dict[str, Any]) -> list[str]:
    """Each adapter's CER against the base model and against the best adapter."""
    lines = []
    for row in summary["candidates"]:
        if row["name"] == BASE_MODEL:
            continue
        for key, other in (("vs_base", BASE_MODEL), ("vs_best", summary.get("best"))):
            d = row.get(key, {}).get("cer")
            if d and other:
                lines.append(difference_line(row["name"], other, d))
    return lines


def fmt_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def evaluation_rows(summary: dict[str, Any]) -> list[list[str]]:
    """The table's rows under `evaluation_headers()`: candidate, params, records, F1, CER, WER, exact."""
    rows = []
    for row in summary["candidates"]:
        name = row["name"] + (" (best)" if row["name"] == summary.get("best") else "")
        records = str(row["records"]) + (" (stopped early)" if row.get("stopped_early") else "")
        metrics = row.get("metrics") or {}
        rows.append(
            [name, fmt_params(row["params"]), records, *(fmt_interval(metrics.get(m)) for m, _ in SHOWN)]
        )
    return rows


def evaluation_headers() -> list[str]:
    return ["candidate", "params", "records", *(label for _, label in SHOWN)]


def evaluation_title(summary: dict[str, Any]) -> str:
    return f"{summary['split']} split, {summary['records']} records (95% bootstrap intervals)"


def saved_line(summary: dict[str, Any]) -> str | None:
    """How many generations the re-ranking's early stop saved, when it saved any."""
    saved = summary.get("generations_saved")
    if not saved:
        return None
    return f"stopped early: {saved} of {summary['generations'] + saved} generations saved"


def evaluated_cer(evaluation: dict[str, Any], split: str) -> dict[int, dict[str, float]]:
    """Trial number -> its CER and interval on `split`, from a study's stored evaluation."""
    summary = evaluation.get(split) or {}
    return {
        row["trial"]: row["metrics"]["cer"]
        for row in summary.get("candidates", [])
        if row.get("trial") is not None and row.get("metrics")
    }


def tie_text(ties: list[int], metric: str, value: float, best: int, study: str | None = None) -> str:
    """What a view says instead of "best" when trials have exactly the best value: none of them
    is better, and `evaluate` on more records is how to tell them apart."""
    hint = (
        f"lorasearch evaluate {study} --top {len(ties)}"
        if study
        else f"lorasearch evaluate STUDY --top {len(ties)}"
    )
    return (
        f"trials {', '.join(map(str, ties))} have exactly {metric} {value:.4f}: nothing measured tells "
        f"them apart; trial {best}'s parameters are in the best files only because it came first. "
        f"Score them on more records: {hint}"
    )

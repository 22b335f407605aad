"""The failure budget: when trials keep failing the same way, stop instead of burning the study.

A worker that cannot start, a model that does not load, the same exception every time: each
trial fails in seconds, and a study of a hundred trials would be spent in minutes with
nothing learned. Only failures about the environment count (see `Ending.budget`): a diverged,
timed-out, aborted or out-of-memory trial says something about its parameters instead.
"""

from __future__ import annotations

from typing import Any

from ..errors import RunFailure
from ..store import RERUN_ATTR
from ._live_trial import Ending


class FailureBudget:
    """Counts same-reason failures in a row; `limit` 0 never stops."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._streak: list[tuple[int, str]] = []

    def spend(self, study: Any, ending: Ending) -> None:
        """Count how a trial ended.

        Raises:
            RunFailure: the budget is spent; those trials are listed in the study
                (`lorasearch_rerun`) so that `--resume` runs their parameters again first.
        """
        number, reason = ending.outcome.number, ending.outcome.fail_reason or ""
        if not ending.budget:
            self._streak = []
            return
        if self._streak and self._streak[-1][1] != reason:
            self._streak = []
        self._streak.append((number, reason))
        if self._limit and len(self._streak) >= self._limit:
            numbers = sorted(set(study.user_attrs.get(RERUN_ATTR, [])) | {n for n, _ in self._streak})
            study.set_user_attr(RERUN_ATTR, numbers)
            raise RunFailure(f"{len(self._streak)} trials in a row failed: {reason}; nothing more will run")

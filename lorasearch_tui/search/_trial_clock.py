"""When a trial has run too long, or its worker has stopped talking.

Two limits, both checked by the search loop at every poll:

- the trial's time limit (`--trial-timeout`, or `trial_timeout` in the config): counted from
  the moment the worker is ready for the trial, without the time it spends loading the base
  model (that time serves every later trial, and a 12B model takes minutes to load);
- the stall limit: how long the worker may say nothing. While it trains it sends a message at
  least every few seconds (steps, evals, `alive` between micro-batches), so silence means a
  stuck CUDA call or a deadlocked data loader. While it starts, loads the model or prepares
  the data it cannot say anything for a while, so the limit is longer then.

The clock is told of every message and of every answer the parent sends (a worker waiting
for the pruner's decision is not stalled, however long the storage took to answer).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..options import STALL_LIMIT_S

MIN_LOAD_STALL_S = 120.0
LOAD_STALL_FACTOR = 6  # the stall limit while starting or loading: 6x, at least 2 minutes

_PHASES = {"starting": "starting", "preparing": "loading the model or the data", "training": "training"}


def load_stall_s(stall_s: float) -> float:
    """The stall limit while the worker starts or loads: 30 minutes for the default 5."""
    return max(stall_s * LOAD_STALL_FACTOR, MIN_LOAD_STALL_S)


class TrialClock:
    """Tracks one trial's time and its worker's last sign of life."""

    def __init__(
        self,
        worker_ready: bool,
        stall_s: float = STALL_LIMIT_S,
        limit_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._stall_s = stall_s
        self._limit_s = limit_s
        now = clock()
        self._heard = now
        self.phase = "preparing" if worker_ready else "starting"
        self._began: float | None = now if worker_ready else None
        self._loading_since: float | None = None
        self._loading_s = 0.0

    def heard(self, event: str) -> None:
        """A message arrived from the worker (`event` is its kind)."""
        now = self._clock()
        self._heard = now
        if event == "ready" and self._began is None:
            self._began = now
            self.phase = "preparing"
        elif event == "loading":
            self._loading_since = now
        elif event == "loaded" and self._loading_since is not None:
            self._loading_s += now - self._loading_since
            self._loading_since = None
        elif event == "started":
            self.phase = "training"

    def answered(self) -> None:
        """The parent sent the worker something it was waiting for."""
        self._heard = self._clock()

    def trial_seconds(self) -> float:
        """The trial's own time so far (model loading and worker start-up left out)."""
        if self._began is None:
            return 0.0
        now = self._clock()
        loading = self._loading_s + (now - self._loading_since if self._loading_since is not None else 0.0)
        return now - self._began - loading

    def expired(self) -> str | None:
        """Why the trial must be stopped now, or None."""
        if self._limit_s is not None and self.trial_seconds() > self._limit_s:
            return f"timed out after {self._limit_s:g} s"
        quiet = self._clock() - self._heard
        limit = self._stall_s if self.phase == "training" else load_stall_s(self._stall_s)
        if quiet > limit:
            return f"worker stalled (no sign of life for {quiet:.0f} s while {_PHASES[self.phase]})"
        return None

"""The search loop: Optuna over reused trial workers, with pruning, failures, leases and resume.

Front ends give it a `Sink` for its events and a `SearchControls` for their requests; both,
and the events, live in `lorasearch_tui.events`, the only part of the engine front ends import.
What a search leaves behind (the study, its files) is `lorasearch_tui.store`'s.
"""

from ..options import SearchOptions
from ._placement import Placement, plan_workers
from ._runner import SearchRunner

__all__ = [
    "Placement",
    "plan_workers",
    "SearchOptions",
    "SearchRunner",
]

"""The search loop: Optuna over reused trial workers, with pruning, failures, leases and resume.

Front ends give it a `Sink` for its events and a `SearchControls` for their requests; both,
and the events, live in `lorasearch_tui.events`, the only part of the engine front ends import.
What a search leaves behind (the study, its files) is `lorasearch_tui.store`'s.
"""

from ._preflight import FAULT_ENV_VAR
from ._runner import DEFAULT_MAX_FAILURES, SearchOptions, SearchRunner
from ._samplers import MODES, PRUNERS
from ._trial_clock import DEFAULT_STALL_S

__all__ = [
    "DEFAULT_MAX_FAILURES",
    "DEFAULT_STALL_S",
    "FAULT_ENV_VAR",
    "MODES",
    "PRUNERS",
    "SearchOptions",
    "SearchRunner",
]

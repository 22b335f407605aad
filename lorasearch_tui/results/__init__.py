"""A study as data, for looking at it after (or during) a search: its trials as rows, its
summary, its parameter importances. Read-only; no UI or plotting library here (the renderers
live in `lorasearch_tui.report`)."""

from ..store import MIN_TRIALS, importances, open_existing
from ._adapters import fetched_adapter, find_adapter
from ._doubt import Doubt, doubt_line
from ._look import StudyLook, look
from ._open import stored_config
from ._rows import curves, flat
from ._studies import StudySummary, list_studies, storages_here

__all__ = [
    "Doubt",
    "doubt_line",
    "MIN_TRIALS",
    "StudyLook",
    "StudySummary",
    "curves",
    "fetched_adapter",
    "find_adapter",
    "flat",
    "importances",
    "list_studies",
    "look",
    "open_existing",
    "storages_here",
    "stored_config",
]

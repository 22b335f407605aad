"""The one face of the engine that front ends see: its events, its state, its controls.

The engine emits the events to a `Sink`, `SearchState` folds them into what a view shows, and
`SearchControls` carries a front end's requests back. The terminal UI and the headless console
import only this package from the engine side (an import-linter contract in `pyproject.toml`,
run by the tests, holds them to it); the worker pipe, `metrics.jsonl` and `lorasearch watch`
share its one encoder and decoder.
"""

from ._base import Codec, RecordError, keyword_record
from ._codec import decode, decode_lines, encode
from ._columns import (
    MEASURED,
    STATE_COLOURS,
    cells,
    fmt_bytes,
    fmt_seconds,
    fmt_value,
    headers,
    mark,
    number_cell,
    value_cells,
)
from ._controls import POLL_S, SearchControls
from ._evaluation import (
    BASE_MODEL,
    difference_lines,
    evaluated_cer,
    evaluation_headers,
    evaluation_rows,
    evaluation_title,
    saved_line,
    tie_text,
)
from ._outcome import FINISHED, TrialOutcome, tied
from ._records import (
    FAULT_ENV_VAR,
    EvalLogged,
    Event,
    HardwareSampled,
    ParamImportances,
    SearchFinished,
    SearchStarted,
    StepLogged,
    StudyProgress,
    TrialFinished,
    TrialStarted,
    WorkerStateChanged,
)
from ._sink import GuardedSink, Sink
from ._state import NOT_RUNNING, SearchState, TrialView

__all__ = [
    "Codec",
    "RecordError",
    "keyword_record",
    "FINISHED",
    "BASE_MODEL",
    "difference_lines",
    "evaluated_cer",
    "evaluation_headers",
    "evaluation_rows",
    "evaluation_title",
    "saved_line",
    "tie_text",
    "MEASURED",
    "STATE_COLOURS",
    "TrialOutcome",
    "cells",
    "number_cell",
    "fmt_bytes",
    "fmt_seconds",
    "fmt_value",
    "headers",
    "mark",
    "tied",
    "value_cells",
    "FAULT_ENV_VAR",
    "NOT_RUNNING",
    "POLL_S",
    "EvalLogged",
    "Event",
    "GuardedSink",
    "HardwareSampled",
    "ParamImportances",
    "SearchControls",
    "SearchFinished",
    "SearchStarted",
    "SearchState",
    "Sink",
    "StepLogged",
    "StudyProgress",
    "TrialFinished",
    "TrialStarted",
    "TrialView",
    "WorkerStateChanged",
    "decode",
    "decode_lines",
    "encode",
]

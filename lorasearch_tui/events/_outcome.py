"""How a trial ended: the one shape of a finished trial, from the search loop to every view.

The search loop builds it once from what the worker measured (`search/_live_trial.py`), the
store keeps it (its fields as the trial's user attributes, and `trial_results.json`) and reads
it back (`store/_outcomes.py`), `TrialFinished` carries it to the front ends, the TUI's
`TrialView` holds it beside the live curves, and `show`, `export` and the report list it. Its
label, adapter and duration are computed here only, so no view decides them again.

The read side also lists trials that are not finished (`show` of a running study): those have
the state RUNNING or WAITING and no value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from ._base import Count as _Count
from ._base import record as _record

FINISHED = ("COMPLETE", "PRUNED", "FAIL")
State = Literal["COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING"]
METRIC = "eval_loss"


@_record
class TrialOutcome:
    """A trial as it ended (or, read from a study, as it stands). COMPLETE always has a finite
    `value`; anything else has none (`settled` makes it so). A study of several objectives
    keeps each one's in `values` (the first is `value`)."""

    number: _Count
    state: State
    params: dict[str, Any] = Field(default_factory=dict)
    value: float | None = None
    values: tuple[float, ...] | None = None
    fail_reason: str | None = None
    pruned_at: int | None = None
    steps: int = 0
    max_steps: int = 0
    duration_s: float | None = None  # wall time in the search, loading and evals included
    runtime_s: float | None = None  # the training's own time
    tokens_per_s: float | None = None
    peak_memory_bytes: int | None = None
    memory_kind: str | None = None  # "gpu" or "rss"
    generate_s: float | None = None  # time spent generating answers for the metric
    retained_bytes: int | None = None  # memory the worker still held after it (the guard's)
    batch: str = ""  # micro-batch x accumulation it trained with: "4x1 fitted" (batch_fit)
    early_stopped_at: int | None = None  # early_stopping_patience ran out at this step
    oom: bool = False  # out of memory (recorded PRUNED with a violated constraint)
    interrupted: bool = False  # cut short (quit, Ctrl+C, lost runner, full disk): it runs again
    trial_dir: str = ""  # its folder: metrics, adapter, results (on the host that trained it)
    worker: str = ""  # where it trained: "GPU 1", "host-b GPU 1"
    rerun_of: int | None = None  # the trial whose parameters it runs again
    enqueued: bool = False  # a known parameter set the user queued (enqueue, --enqueue)
    imported: str | None = None  # "screen#4": measured in an earlier study (--warm-start-from)
    # drawn values a trial trains with in another form: {"lora_alpha": 32} where the study
    # stores the factor 2 of a `multiple_of` entry (`params` keeps what was drawn)
    derived: dict[str, Any] = Field(default_factory=dict)
    metric: str = METRIC  # what `value` measures
    started_at: str | None = None  # ISO time, UTC
    completed_at: str | None = None

    @classmethod
    def settled(cls, **fields: Any) -> TrialOutcome:
        """The outcome, checked the way a result is kept: a COMPLETE trial without a finite value
        (or with an objective's missing) is a FAIL saying so. A failure is never disguised as a
        result."""
        state, value, values = fields.get("state"), fields.get("value"), fields.get("values")
        if state == "COMPLETE" and values is not None:
            if not values or not all(_finite(v) for v in values):
                state, fields["fail_reason"] = (
                    "FAIL",
                    fields.get("fail_reason") or "an objective without a finite value",
                )
            else:
                value = values[0]
        if state == "COMPLETE" and not _finite(value):
            state = "FAIL"
            fields["fail_reason"] = fields.get("fail_reason") or "no finite eval loss at the end of training"
        if state != "COMPLETE":
            value = values = None
        fields.update(state=state, value=value, values=tuple(values) if values is not None else None)
        return cls(**fields)

    @property
    def shown(self) -> dict[str, Any]:
        """The searched parameters as the trial trained with them: what every view shows."""
        return {**self.params, **self.derived}

    @property
    def label(self) -> str:
        """The state a person reads: OOM apart from pruning."""
        return "OOM" if self.oom else self.state

    @property
    def adapter(self) -> Path | None:
        """Where its adapter is (on the host that trained it): a COMPLETE trial's only."""
        return Path(self.trial_dir) / "adapter" if self.trial_dir and self.state == "COMPLETE" else None

    @property
    def reason(self) -> str:
        """Why it did not complete, in a few words ("" for a COMPLETE or running trial)."""
        if self.fail_reason or self.interrupted:
            return self.fail_reason or "interrupted"
        return f"pruned at step {self.pruned_at}" if self.pruned_at is not None else ""


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def tied(best: int | None, outcomes: Iterable[TrialOutcome]) -> list[int]:
    """The COMPLETE trials whose value is exactly the best trial's, the best among them, in
    number order; empty when none ties with it. Optuna names the first of equal trials best;
    a view calls them a tie instead, since nothing measured tells them apart. Imported trials
    (measured in an earlier study) tie with nothing here."""
    outcomes = [o for o in outcomes if not o.imported]
    value = next((o.value for o in outcomes if o.number == best), None)
    if value is None:
        return []
    same = sorted(o.number for o in outcomes if o.state == "COMPLETE" and o.value == value)
    return same if len(same) > 1 else []

"""A study's trials as rows: one typed record per trial, for `show`, `export`, the report.

Read from the study itself (its states, values, params and the user attributes the search
wrote), so a study searched on several hosts shows every trial, wherever its folder is.
Trials the study created but never ran (a runner found the target already met) are left out:
they are no trials of the study's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..store import (
    INTERRUPTED,
    LEASE_ATTR,
    LIVE_METRICS,
    SURPLUS_ATTR,
    first_value,
    pareto_trials,
    read_metrics,
)


@dataclass(frozen=True)
class TrialRow:
    number: int
    state: str  # COMPLETE, PRUNED, FAIL, RUNNING (WAITING: queued, not started)
    value: float | None
    params: dict[str, Any]
    fail_reason: str | None = None
    duration_s: float | None = None
    steps: int | None = None
    max_steps: int | None = None
    pruned_at: int | None = None
    peak_memory_bytes: int | None = None
    tokens_per_s: float | None = None
    trial_dir: str | None = None
    oom: bool = False
    interrupted: bool = False  # its params ran again (or will, on resume): it does not count
    rerun_of: int | None = None
    worker: str | None = None  # where it trained: "host GPU 1"
    started: datetime | None = None
    completed: datetime | None = None
    intermediate: dict[int, float] = field(default_factory=dict)  # eval loss by step
    values: tuple[float, ...] | None = None  # several objectives: each one's (the first is `value`)
    pareto: bool = False  # several objectives: on the Pareto front

    @property
    def label(self) -> str:
        """The state a person reads: OOM apart from pruning."""
        return "OOM" if self.oom else self.state

    @property
    def adapter(self) -> Path | None:
        """Where its adapter is (on the host that trained it), None when its folder is unknown."""
        return Path(self.trial_dir) / "adapter" if self.trial_dir else None

    def flat(self, names: list[str], objectives: tuple[str, ...] = ()) -> dict[str, Any]:
        """The row for a CSV or JSON export: params as `param_NAME` columns, times as ISO text;
        with several objectives, each one's value as `value_METRIC` and a `pareto` column."""
        data = asdict(self)
        params = data.pop("params")
        data.pop("intermediate")
        values = data.pop("values")
        pareto = data.pop("pareto")
        several = {}
        if len(objectives) > 1:
            several = {f"value_{m}": values[i] if values else None for i, m in enumerate(objectives)}
            several["pareto"] = pareto
        data["state"] = self.label
        for key in ("started", "completed"):
            data[key] = data[key].isoformat(timespec="seconds") if data[key] else None
        return {
            "number": data.pop("number"),
            "state": data.pop("state"),
            "value": data.pop("value"),
            **several,
            **{f"param_{name}": params.get(name) for name in names},
            **data,
        }


def trial_rows(study: Any) -> list[TrialRow]:
    """Every trial the study ran, in number order."""
    rows = []
    front = {t.number for t in pareto_trials(study)}
    for trial in study.get_trials(deepcopy=False):
        attrs = trial.user_attrs
        if attrs.get(SURPLUS_ATTR):
            continue
        lease = attrs.get(LEASE_ATTR)
        duration = attrs.get("duration_s")
        if duration is None and trial.datetime_start and trial.datetime_complete:
            duration = (trial.datetime_complete - trial.datetime_start).total_seconds()
        state = trial.state.name
        rows.append(
            TrialRow(
                number=trial.number,
                state=state,
                value=first_value(trial) if state == "COMPLETE" else None,
                values=tuple(trial.values) if state == "COMPLETE" and len(trial.values or ()) > 1 else None,
                pareto=trial.number in front,
                params=dict(trial.params),
                fail_reason=attrs.get("fail_reason"),
                duration_s=duration,
                steps=attrs.get("steps"),
                max_steps=attrs.get("max_steps"),
                pruned_at=attrs.get("pruned_at"),
                peak_memory_bytes=attrs.get("peak_memory_bytes"),
                tokens_per_s=attrs.get("tokens_per_s"),
                trial_dir=attrs.get("trial_dir"),
                oom=bool(attrs.get("oom")),
                interrupted=bool(attrs.get(INTERRUPTED)),
                rerun_of=attrs.get("rerun_of"),
                worker=" ".join(str(p) for p in (lease.get("host"), lease.get("worker")) if p)
                if isinstance(lease, dict)
                else None,
                started=trial.datetime_start,
                completed=trial.datetime_complete,
                intermediate={int(k): float(v) for k, v in trial.intermediate_values.items()},
            )
        )
    return rows


def curves(row: TrialRow) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    """The train steps and evals of a trial, from its `metrics.jsonl` (empty when its folder
    is not on this host)."""
    if not row.trial_dir:
        return [], []
    _, train, evals = read_metrics(Path(row.trial_dir) / LIVE_METRICS)
    return train, evals

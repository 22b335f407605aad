"""What one training run gives back: its curves and its measurements."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class RunHistory:
    """Filled while the run goes: every logged train step and every eval."""

    train: list[dict[str, float]] = field(default_factory=list)
    evals: list[dict[str, float]] = field(default_factory=list)
    eval_seconds: float = 0.0
    stopped_at: int | None = None  # step where the observer asked to stop


@dataclass(frozen=True)
class RunResult:
    """The outcome of a finished run.

    `eval_loss` is the loss on the val split of the final adapter (evaluated once more at the
    end when the last step was not an eval step); `initial_eval_loss` is the untrained model's.
    `peak_memory_bytes` is the GPU's peak allocation on CUDA, else the process's peak RSS.
    `value` is the objective's metric for the final adapter (`eval_loss` unless the config's
    `objective` names another), `initial_value` the untrained one's; `values` has one entry
    per objective (`objectives`), the first being `value`.
    """

    eval_loss: float | None  # None only when the run was stopped before any eval
    initial_eval_loss: float | None
    train_history: list[dict[str, float]]
    eval_history: list[dict[str, float]]
    steps: int
    max_steps: int
    stopped_at: int | None
    runtime_s: float
    train_tokens: int
    tokens_per_s: float
    peak_memory_bytes: int
    memory_kind: str  # "gpu" or "rss"
    metric: str = "eval_loss"  # the objective's metric
    value: float | None = None  # its value for the final adapter (the eval loss by default)
    initial_value: float | None = None  # the untrained adapter's
    generate_s: float = 0.0  # time spent generating answers for the metric, apart from training
    values: list[float] | None = None  # every objective's value, in the config's order (None: no eval)
    batch: str = ""  # micro-batch x accumulation it trained with: "4x1 fitted" (batch_fit) or "1x4"
    early_stopped_at: int | None = None  # early_stopping_patience ran out at this eval's step
    best_step: int | None = None  # with early_stopping_patience: the eval whose adapter is kept

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the metrics file's content)."""
        return asdict(self)

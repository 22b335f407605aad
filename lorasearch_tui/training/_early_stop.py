"""`early_stopping_patience`: stop a run whose objective has not improved for N evals, and keep
the adapter of its best eval.

Transformers' `EarlyStoppingCallback` needs `load_best_model_at_end`, which saves a checkpoint
at every eval and reloads the best one from disk; a LoRA adapter is a few MB, so the best one is
kept in memory instead (its tensors copied to the CPU at each improvement) and put back when
the run ends. The run is then a result, COMPLETE with its best eval, not a pruned trial.
"""

from __future__ import annotations

from typing import Any

from ._result import RunHistory


class EarlyStopping:
    """Watches the evals `history` records; makes the callback that stops the trainer."""

    def __init__(self, patience: int, maximize: bool, history: RunHistory) -> None:
        self.patience = patience
        self._maximize = maximize
        self._history = history
        self.best: dict[str, float] | None = None  # the best eval's record
        self.stopped_at: int | None = None
        self._waited = 0
        self._weights: dict[str, Any] | None = None

    def _better(self, value: float) -> bool:
        if self.best is None:
            return True
        return value > self.best["value"] if self._maximize else value < self.best["value"]

    def seen(self, model: Any) -> bool:
        """After an eval: remember it if it is the best so far; True when patience ran out."""
        from peft import get_peft_model_state_dict

        record = self._history.evals[-1]
        if self._better(record["value"]):
            self.best, self._waited = record, 0
            self._weights = {
                k: v.detach().to("cpu", copy=True) for k, v in get_peft_model_state_dict(model).items()
            }
            return False
        self._waited += 1
        if self._waited >= self.patience:
            self.stopped_at = int(record["step"])
            return True
        return False

    def restore(self, model: Any) -> None:
        """Put the best eval's adapter back (when a later one is worse)."""
        from peft import set_peft_model_state_dict

        if self._weights is not None and self.best is not self._history.evals[-1]:
            set_peft_model_state_dict(model, self._weights)

    def callback(self) -> Any:
        from transformers import TrainerCallback

        stopping = self

        class _EarlyStop(TrainerCallback):
            def on_log(self, args, state, control, logs=None, model=None, **kwargs):
                # after the observer's callback: the eval is in the history already
                if logs and "eval_loss" in logs and stopping._history.evals and stopping.seen(model):
                    control.should_training_stop = True

        return _EarlyStop()

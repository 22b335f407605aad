"""The callback interface through which a caller follows a run and can stop it.

A caller (the `train` command's console, the search's trial worker) passes a
`TrainingObserver`; the run calls it for every logged train step and every eval, and asks
`should_stop()` after each. A non-finite train or eval loss ends the run at once with
`TrainingDiverged`: a diverged run is a failure, never a result.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol

from ._result import RunHistory


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""

    def __init__(self, step: int, what: str, value: float) -> None:
        super().__init__(f"{what} became {value} at step {step}")
        self.step = step


class TrainingObserver(Protocol):
    """What a run tells its caller; every method may be a no-op."""

    def on_start(self, max_steps: int) -> None:
        """Training begins; `max_steps` optimizer steps are planned."""

    def on_step(self, step: int, loss: float, learning_rate: float) -> None:
        """A train loss was logged at optimizer step `step`."""

    def on_eval(self, step: int, eval_loss: float, value: float, scores: tuple[float, ...] = ()) -> None:
        """The val split was evaluated after optimizer step `step` (0 = before training);
        `value` is the objective's (`eval_loss` itself unless the config names another metric);
        `scores`, each scored record's own value (a generated metric's; () otherwise)."""

    def should_stop(self) -> bool:
        """Asked after every step and eval; True ends the run there (pruned, aborted)."""
        return False

    def on_progress(self) -> None:
        """A micro-batch or an eval batch went through (many times a step; keep it cheap)."""


class NullObserver:
    """An observer that watches nothing and never stops the run."""

    def on_start(self, max_steps: int) -> None:
        pass

    def on_step(self, step: int, loss: float, learning_rate: float) -> None:
        pass

    def on_eval(self, step: int, eval_loss: float, value: float, scores: tuple[float, ...] = ()) -> None:
        pass

    def should_stop(self) -> bool:
        return False

    def on_progress(self) -> None:
        pass


def make_callback(  # noqa: C901 - one hook per trainer event; training, outside the cap's scope
    observer: TrainingObserver,
    history: RunHistory,
    value_of: Callable[[dict, Any, int], float] | None = None,
    scores_of: Callable[[], tuple[float, ...]] | None = None,
) -> Any:
    """A transformers `TrainerCallback` that feeds `observer` and records `history`.

    `value_of(logs, model, step)` gives the objective's value at an eval (None: the eval loss);
    `scores_of()` each record's score behind the value just given (the Wilcoxon pruner's).
    Built in a function so transformers is imported only when a run starts.
    """
    from transformers import TrainerCallback

    progress = getattr(observer, "on_progress", lambda: None)
    save_asked = getattr(observer, "should_save", lambda: False)  # optional, as on_saved
    saved = getattr(observer, "on_saved", lambda step: None)

    class _ObserverCallback(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            observer.on_start(state.max_steps)

        def on_log(self, args, state, control, logs=None, model=None, **kwargs):
            logs = logs or {}
            step = state.global_step
            if "loss" in logs:
                loss = float(logs["loss"])
                if not math.isfinite(loss):
                    raise TrainingDiverged(step, "train loss", loss)
                lr = float(logs.get("learning_rate", 0.0))
                history.train.append({"step": step, "loss": loss, "learning_rate": lr})
                observer.on_step(step, loss, lr)
            if "eval_loss" in logs:
                value = float(logs["eval_loss"])
                if not math.isfinite(value):
                    raise TrainingDiverged(step, "eval loss", value)
                history.eval_seconds += float(logs.get("eval_runtime", 0.0))
                objective = value if value_of is None else float(value_of(logs, model, step))
                if not math.isfinite(objective):
                    raise TrainingDiverged(step, "the objective", objective)
                record = {"step": step, "eval_loss": value, "value": objective}
                if "eval_mean_token_accuracy" in logs:  # an objective besides the first one may be it
                    record["token_accuracy"] = float(logs["eval_mean_token_accuracy"])
                history.evals.append(record)
                observer.on_eval(step, value, objective, scores_of() if scores_of is not None else ())
            self._maybe_stop(state, control)

        def on_step_end(self, args, state, control, **kwargs):
            progress()
            self._maybe_stop(state, control)

        def on_substep_end(self, args, state, control, **kwargs):
            progress()

        def on_prediction_step(self, args, state, control, **kwargs):
            progress()

        def on_save(self, args, state, control, **kwargs):
            saved(state.global_step)

        def _maybe_stop(self, state, control):
            if history.stopped_at is None and observer.should_stop():
                history.stopped_at = state.global_step
            if history.stopped_at is not None:
                control.should_training_stop = True
                # asked to save as it stops (the search is stopping): a checkpoint of this
                # step, which the trainer writes right after this hook, before it stops
                control.should_save = control.should_save or save_asked()

    return _ObserverCallback()

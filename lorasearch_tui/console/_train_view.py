"""Progress of one training run in the console: a step bar, a line per eval, a summary."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

if TYPE_CHECKING:  # a front end never imports the training stack's package, only reads its result
    from ..training import RunResult


class TrainProgress:
    """A `TrainingObserver` that draws a progress bar and can be asked to stop the run.

    `request_stop()` is safe from a signal handler: it only sets an event that the run reads
    after its current step.
    """

    def __init__(self, console: Console) -> None:
        self._console = console
        self._stop = threading.Event()
        self._progress = Progress(
            TextColumn("training"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._task = None
        self._last_loss = float("nan")

    def request_stop(self) -> None:
        """Stop after the current step (Ctrl+C)."""
        self._stop.set()

    def __enter__(self) -> TrainProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def on_start(self, max_steps: int) -> None:
        self._task = self._progress.add_task("train", total=max_steps, status="")

    def on_step(self, step: int, loss: float, learning_rate: float) -> None:
        self._last_loss = loss
        if self._task is not None:
            self._progress.update(
                self._task, completed=step, status=f"loss {loss:.4f}  lr {learning_rate:.2e}"
            )

    def on_eval(self, step: int, eval_loss: float, value: float, scores: tuple[float, ...] = ()) -> None:
        label = "before training" if step == 0 else f"step {step}"
        other = f", objective {value:.4f}" if value != eval_loss else ""
        self._progress.console.print(
            f"eval loss {eval_loss:.4f}{other} ({label})", markup=False, highlight=False
        )

    def should_stop(self) -> bool:
        return self._stop.is_set()


def print_run_result(result: RunResult, folder: Path, merged: bool, console: Console) -> None:
    """The summary after a run: losses, speed, memory, where it was saved."""
    if result.initial_eval_loss is not None and result.eval_loss is not None:
        console.print(
            f"eval loss {result.initial_eval_loss:.4f} -> {result.eval_loss:.4f} after {result.steps} steps",
            markup=False,
        )
    elif result.eval_loss is not None:
        console.print(f"eval loss {result.eval_loss:.4f} after {result.steps} steps", markup=False)
    if result.metric != "eval_loss" and result.value is not None:
        before = f"{result.initial_value:.4f} -> " if result.initial_value is not None else ""
        console.print(
            f"{result.metric} {before}{result.value:.4f} (generating answers took {result.generate_s:.1f} s)",
            markup=False,
        )
    if result.stopped_at is not None:
        console.print(
            f"stopped at step {result.stopped_at} of {result.max_steps} (interrupted)", markup=False
        )
    memory = "GPU memory" if result.memory_kind == "gpu" else "process memory (RSS)"
    console.print(
        f"{result.runtime_s:.1f} s, {result.tokens_per_s:,.0f} tokens/s, "
        f"peak {memory} {result.peak_memory_bytes / 2**30:.2f} GiB",
        markup=False,
    )
    console.print(f"adapter, processor and metrics saved to {folder}", markup=False, highlight=False)
    if merged:
        console.print(f"merged 16-bit model saved to {folder / 'merged'}", markup=False, highlight=False)

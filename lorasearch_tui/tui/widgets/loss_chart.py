"""The live chart: the running trial's train loss and eval loss against step, with the best
trial's eval curve for reference (plotext, through textual-plotext)."""

from __future__ import annotations

import time

from textual_plotext import PlotextPlot

from ...events import SearchState, TrialView


def plot_trial(
    plot: PlotextPlot, trial: TrialView | None, best: TrialView | None, title: str, metric: str = "eval_loss"
) -> None:
    """Draw one trial's curves (and the best trial's eval curve) into a plotext widget; the
    evals are the objective's `metric` (a CER or an accuracy has its own axis on the right)."""
    plt = plot.plt
    plt.clear_data()
    plt.clear_figure()
    plt.title(title)
    plt.xlabel("step")
    if trial is not None and trial.train:
        plt.plot([s for s, _ in trial.train], [v for _, v in trial.train], label="train", marker="braille")
    if trial is not None and trial.evals:
        plt.plot(
            [s for s, _ in trial.evals],
            [v for _, v in trial.evals],
            label=_eval_label(metric),
            marker="dot",
            yside=_side(metric),
        )
    if best is not None and best is not trial and best.evals:
        plt.plot(
            [s for s, _ in best.evals],
            [v for _, v in best.evals],
            label=f"best #{best.number}",
            marker="dot",
            yside=_side(metric),
        )
    plot.refresh()


class LossChart(PlotextPlot):
    """Redraws only when the running trial's curve grew, to stay light while watching."""

    # plotext redraws are the dearest thing on screen: at most one each 2 s (the progress's
    # pace, `SearchScreen.PROGRESS_EVERY_S`), a trial's end and the next one's start included
    MIN_INTERVAL_S = 2.0

    def __init__(self, **kwargs) -> None:  # noqa: ANN003
        super().__init__(**kwargs)
        self._drawn: tuple[int | None, int, int, int | None] | None = None
        self._last_draw = float("-inf")
        self._pending: SearchState | None = None

    def show(self, state: SearchState) -> None:
        """Draw now, or once the minimum interval has passed (the newest state wins)."""
        now = time.monotonic()
        if now - self._last_draw >= self.MIN_INTERVAL_S:
            self._draw(state)
            return
        if self._pending is None:
            self.set_timer(self.MIN_INTERVAL_S - (now - self._last_draw), self._draw_pending)
        self._pending = state

    def _draw_pending(self) -> None:
        state, self._pending = self._pending, None
        if state is not None:
            self._draw(state)

    def _draw(self, state: SearchState) -> None:
        number = state.running if state.running is not None else max(state.trials, default=None)
        trial = state.trials.get(number) if number is not None else None
        best = state.best_trial()
        key = (number, len(trial.train) if trial else 0, len(trial.evals) if trial else 0, state.best_number)
        if key == self._drawn:
            return
        self._drawn = key
        self._last_draw = time.monotonic()
        title = f"trial {number}" if number is not None else "no trial yet"
        plot_trial(self, trial, best, title, state.started.metric if state.started else "eval_loss")


def _eval_label(metric: str) -> str:
    return "eval" if metric == "eval_loss" else metric


def _side(metric: str) -> str:
    """The eval loss shares the train loss's axis; another metric gets the right-hand one."""
    return "left" if metric == "eval_loss" else "right"

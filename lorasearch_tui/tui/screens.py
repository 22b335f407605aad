"""The screens over the main one: a trial's detail, the help, the quit confirmation."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static
from textual_plotext import PlotextPlot

from ..errors import printable
from ..events import SearchState, TrialView
from .widgets.loss_chart import plot_trial


def _fmt(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


class TrialDetailScreen(ModalScreen[None]):
    """Everything about one trial: params, full config, curves, fail reason, folder."""

    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close", id="detail.close")]

    def __init__(
        self, trial: TrialView, config: dict[str, Any], folder: Path | None, best: TrialView | None
    ) -> None:
        super().__init__()
        self._trial, self._config, self._folder, self._best = trial, config, folder, best

    def compose(self) -> ComposeResult:
        t = self._trial.row
        text = Text()
        text.append(f"Trial {t.number}  ", style="bold")
        text.append(t.label, style="bold")
        if t.value is not None:
            metric = (self._config.get("objective") or {}).get("metric", "eval_loss")
            text.append(f"  {metric} {t.value:.4f}")
        if t.pruned_at is not None:
            text.append(f"  pruned at step {t.pruned_at}", style="yellow")
        if t.batch:
            text.append(f"\nmicro-batch x accumulation: {printable(t.batch)}")
        if t.fail_reason:
            text.append(f"\nreason: {printable(t.fail_reason)}", style="red")
        if t.rerun_of is not None:
            text.append(f"\nruns again the parameters of interrupted trial {t.rerun_of}")
            if self._trial.resumed_at is not None:
                text.append(f", from its checkpoint at step {self._trial.resumed_at}")
        text.append(f"\nfolder: {self._folder or 'not known yet'}")
        text.append("\n\nparameters\n", style="bold")
        for name, value in t.shown.items():
            text.append(f"  {name} = {_fmt(value)}\n")
        text.append("\nfull config\n", style="bold")
        for name, value in self._config.items():
            text.append(f"  {name}: {_fmt(value)}\n")
        with Vertical(id="detail"):
            with Horizontal(id="detail-body"):
                yield VerticalScroll(Static(text), id="detail-text")
                yield PlotextPlot(id="detail-chart")
            yield Label("Esc closes", id="detail-hint")

    def on_mount(self) -> None:
        plot_trial(
            self.query_one("#detail-chart", PlotextPlot),
            self._trial,
            self._best,
            f"trial {self._trial.number}",
            (self._config.get("objective") or {}).get("metric", "eval_loss"),
        )


def importance_text(state: SearchState, width: int = 30) -> Text:
    """The parameter importances so far as bars, largest first, or why there are none yet."""
    imp = state.importances
    text = Text("Parameter importances\n", style="bold")
    if imp is None:
        return text + Text("computed after the first trials end", style="dim")
    text.append(
        f"{imp.evaluator}\nfrom {imp.trials} complete trials, updated after each trial\n\n", style="dim"
    )
    if not imp.values:
        return text + Text(f"none yet: {printable(imp.reason or '')}", style="yellow")
    longest = max(len(printable(name)) for name in imp.values)
    for name, share in imp.values.items():
        filled = round(share * width)
        text.append(f"{printable(name):<{longest}}  ")
        text.append("█" * filled, style="cyan")
        text.append("░" * (width - filled), style="dim")
        text.append(f"  {share:.2f}\n")
    return text


class ImportancesScreen(ModalScreen[None]):
    """Which parameters mattered so far; redrawn when the engine sends new importances."""

    BINDINGS = [Binding("escape,i,q", "dismiss", "Close", id="importances.close")]

    def __init__(self, state: SearchState) -> None:
        super().__init__()
        self._state = state

    def compose(self) -> ComposeResult:
        with Vertical(id="importances"):
            yield Static(importance_text(self._state), id="importances-text")
            yield Label("Esc closes", id="detail-hint")

    def update_from(self, state: SearchState) -> None:
        self.query_one("#importances-text", Static).update(importance_text(state))


def plot_front(plot: PlotextPlot, state: SearchState) -> None:
    """The first two objectives of every complete trial, the Pareto front joined up."""
    plt = plot.plt
    plt.clear_data()
    plt.clear_figure()
    names = state.objectives
    done = sorted(
        (
            t
            for t in (v.row for v in state.trials.values())
            if t.state == "COMPLETE" and t.values and len(t.values) > 1
        ),
        key=lambda t: (t.values[0], t.values[1]),  # type: ignore[index]
    )
    plt.title(f"Pareto front: {len(state.pareto)} of {len(done)} complete trials")
    if len(names) > 1:
        plt.xlabel(names[0])
        plt.ylabel(names[1])
    others = [t for t in done if t.number not in state.pareto]
    front = [t for t in done if t.number in state.pareto]
    if others:
        plt.scatter([t.values[0] for t in others], [t.values[1] for t in others], label="other", marker="dot")  # type: ignore[index]
    if front:
        xs, ys = [t.values[0] for t in front], [t.values[1] for t in front]  # type: ignore[index]
        plt.plot(xs, ys, label="front", marker="braille", color="green")
        plt.scatter(xs, ys, marker="●", color="green")
    plot.refresh()


def front_text(state: SearchState) -> Text:
    """The front's trials, a line each: number, every objective, the parameters."""
    names = state.objectives
    text = Text()
    for number in sorted(state.pareto):
        view = state.trials.get(number)
        trial = view.row if view is not None else None
        if trial is None or not trial.values:
            continue
        mark = "★" if number == state.best_number else "◆"
        values = "  ".join(f"{m} {v:.4g}" for m, v in zip(names, trial.values, strict=False))
        params = "  ".join(f"{k}={_fmt(v)}" for k, v in trial.params.items())
        text.append(f"{mark} trial {number}  ", style="green")
        text.append(f"{values}  {printable(params)}\n")
    return text


class ParetoScreen(ModalScreen[None]):
    """A study of several objectives: its Pareto front so far, redrawn after each trial."""

    BINDINGS = [Binding("escape,f,q", "dismiss", "Close", id="pareto.close")]

    def __init__(self, state: SearchState) -> None:
        super().__init__()
        self._state = state

    def compose(self) -> ComposeResult:
        with Vertical(id="pareto"):
            yield PlotextPlot(id="pareto-chart")
            yield Static(front_text(self._state), id="pareto-text")
            yield Label("Esc closes", id="detail-hint")

    def on_mount(self) -> None:
        self.update_from(self._state)

    def update_from(self, state: SearchState) -> None:
        plot_front(self.query_one("#pareto-chart", PlotextPlot), state)
        self.query_one("#pareto-text", Static).update(front_text(state))


# At most 64 columns a line, so the box fits an 80x24 terminal with its border and padding.
# What the bindings cannot say: keys of Textual's own widgets, and watching.
_HELP_MORE = """\
Enter  open the selected trial's detail
Esc    close a detail or this help

lorasearch watch keeps only the keys that change nothing."""


def help_text(bindings: list[Binding]) -> str:
    """A line per key, made from the bindings themselves (their tooltip, else their
    description), so a new key is in the help the moment it is bound."""
    lines = []
    for binding in bindings:
        key = binding.key_display or binding.key.split(",")[0]
        # wrapped to fit the help box on an 80-column terminal
        wrapped = textwrap.wrap(binding.tooltip or binding.description, 48)
        lines.append(f"{key:<6} " + "\n       ".join(wrapped))
    return "\n".join(lines) + "\n" + _HELP_MORE


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", id="help.close")]

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="help"):
            yield Static(Text("Keys\n", style="bold") + Text(self._text))


class ConfirmQuitScreen(ModalScreen[bool]):
    """Quit? The running trial is recorded as interrupted and runs again on --resume."""

    BINDINGS = [
        Binding("y", "answer(True)", "Quit", id="quit.yes"),
        Binding("n,escape", "answer(False)", "Stay", id="quit.no"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Label(
                "Quit the search? The running trial is recorded as interrupted;\n"
                "lorasearch search --resume runs it again.  [y/n]"
            )
            with Horizontal():
                yield Button("Quit (y)", id="yes", variant="error")
                yield Button("Stay (n)", id="no")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

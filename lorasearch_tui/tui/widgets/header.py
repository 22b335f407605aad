"""The header: study, mode, storage, progress, best, elapsed time and time left."""

from __future__ import annotations

from collections import Counter

from rich.text import Text
from textual.widgets import Static

from ...errors import printable
from ...events import SearchState, fmt_seconds, tied


class StudyHeader(Static):
    """Two lines about the search as a whole.

    Drawn at the app's tick and at every redraw of the trials: always two lines (the stylesheet
    fixes its height), so an update never asks the screen for a new layout, which would cost
    more than drawing the header itself (bench/overhead.py, the TUI's CPU).
    """

    def show(self, state: SearchState, elapsed: float, mode_note: str = "") -> None:
        started = state.started
        if started is None:
            self.update(Text(f"lorasearch: {mode_note or 'starting...'}", style="bold"), layout=False)
            return
        # What matters most comes first on each line: a narrow terminal cuts the ends.
        line1 = Text(no_wrap=True, overflow="ellipsis")
        if started.fault_injection:  # first: fake failures must never pass for real ones
            line1.append("FAULT INJECTION", style="bold reverse red")
            line1.append("  ")
        line1.append(f"trials {state.done}/{state.total}", style="bold")
        running, here = state.study_running, len(state.running_numbers)
        if running > 1 or running != here:
            line1.append(f"  {running} running", style="bold cyan")
            if here != running:  # other hosts share the study
                line1.append(f" ({here} here)", style="cyan")
        line1.append("  best " if started.metric == "eval_loss" else f"  best {started.metric} ")
        if state.best_value is not None:
            line1.append(f"{state.best_value:.4f}", style="bold green")
            ties = tied(state.best_number, [t.row for t in state.trials.values()])
            line1.append(f" (tie: #{', #'.join(map(str, ties))})" if ties else f" (#{state.best_number})")
        else:
            line1.append("-")
        if state.nobody_runs_it:
            line1.append(f"  elapsed {fmt_seconds(elapsed)}  ")
            line1.append("NOT RUNNING", style="bold reverse")
        else:
            line1.append(f"  elapsed {fmt_seconds(elapsed)}  left ~{fmt_seconds(state.eta_s())}")
        if mode_note:
            line1.append("  ")
            line1.append(mode_note, style="reverse")
        line2 = Text(no_wrap=True, overflow="ellipsis")
        line2.append(started.study_name, style="bold")
        line2.append(f"  {started.mode}/{started.pruner}")
        if started.sampler and started.sampler != started.mode:
            line2.append(f" ({started.sampler})", style="dim")
        if len(state.workers) > 1:
            states = Counter(w.state for w in state.workers.values())
            said = ", ".join(f"{n} {what}" for what, n in states.most_common())
            line2.append(f"  {len(state.workers)} workers: {said}", style="dim")
        elif state.worker is not None:
            line2.append(f"  worker {state.worker.state}", style="dim")
        line2.append(f"  {printable(started.storage)}")
        self.update(Text("\n", no_wrap=True).join([line1, line2]), layout=False)

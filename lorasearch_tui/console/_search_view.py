"""The headless search console: a progress bar for the running trial, a line per finished
trial, the best so far, and a summary table at the end.

It is a `Sink` of the engine's events. Rich drops colours and the live bar when the output is
not a terminal (a file, nohup, a pipe), so the log then holds only the plain lines.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from ..errors import printable
from ..events import (
    FAULT_ENV_VAR,
    MEASURED,
    STATE_COLOURS,
    EvalLogged,
    Event,
    SearchFinished,
    SearchStarted,
    StepLogged,
    StudyProgress,
    TrialFinished,
    TrialOutcome,
    TrialStarted,
    WorkerStateChanged,
    fmt_value,
    mark,
    number_cell,
    tie_text,
    tied,
    value_cells,
)

_WORKER_NOTES = {"starting": "starting the trial worker", "loading model": "worker: loading {detail}"}


def format_params(params: dict[str, Any]) -> str:
    """`learning_rate=0.0119 lora_r=8`: short, in the order of the space, control characters
    of a categorical choice escaped."""
    return printable(
        " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())
    )


class SearchConsole:
    """Renders search events to a Rich console; safe to call from the engine's threads.

    Every eval gets a line (step, the objective's value, the pruner's decision). Where the output is not a
    terminal (a nohup log), the live bar is hidden, so a progress line is also printed when
    nothing was for `PROGRESS_EVERY_S`: `tail -f` of the log always shows life.
    """

    PROGRESS_EVERY_S = 30.0

    def __init__(self, console: Console, clock: Callable[[], float] = time.monotonic) -> None:
        self._console = console
        self._clock = clock
        self._last_line = clock()
        self._lock = threading.Lock()
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task: Any = None
        self._finished: list[TrialOutcome] = []
        self._pareto: tuple[int, ...] = ()  # the Pareto front as the last trial left it
        self._started: SearchStarted | None = None
        self._study: StudyProgress | None = None

    def __enter__(self) -> SearchConsole:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._progress.stop()
        except OSError:  # the terminal is gone (SSH dropped): nothing left to tidy on it
            pass

    def emit(self, event: Event) -> None:
        with self._lock:
            match event:
                case SearchStarted():
                    self._on_started(event)
                case WorkerStateChanged():
                    self._on_worker(event)
                case TrialStarted():
                    self._on_trial_started(event)
                case StepLogged():
                    self._on_step(event)
                case EvalLogged():
                    self._on_eval(event)
                case TrialFinished():
                    self._on_trial_finished(event)
                case StudyProgress():
                    self._on_progress(event)
                case SearchFinished():
                    self._on_finished(event)

    @property
    def _metric(self) -> str:
        """What the values are: eval_loss unless the config's objective names another metric."""
        return self._started.metric if self._started is not None else "eval_loss"

    def _print(self, text: str | Text) -> None:
        self._progress.console.print(text, markup=False, highlight=False, soft_wrap=True)
        self._last_line = self._clock()

    def _on_started(self, e: SearchStarted) -> None:
        self._started = e
        verb = (
            f"Resuming study {e.study_name} ({e.trials_done} trials done)"
            if e.resumed
            else f"Study {e.study_name}"
        )
        self._print(Text(verb, style="bold"))
        self._print(
            f"  {e.mode} search{f' ({e.sampler})' if e.sampler and e.sampler != e.mode else ''}, "
            f"{e.pruner} pruner, {e.n_trials} trials, storage {printable(e.storage)}"
        )
        for name, dist in e.space.items():
            self._print(f"  search {name}: {printable(dist)}")
        if e.notice:
            self._print(Text(f"  {e.notice}", style="yellow"))
        for line in (e.known_sets, e.warm_start):
            if line:
                self._print(f"  {line}")
        if e.fault_injection:
            self._print(
                Text(
                    f"  FAULT INJECTION ({FAULT_ENV_VAR}={printable(e.fault_injection)}): "
                    f"some failures below are made on purpose, not real",
                    style="bold red",
                )
            )

    def _on_worker(self, e: WorkerStateChanged) -> None:
        # which worker, when there are several
        where = f" ({e.worker})" if self._started is not None and len(self._started.workers) > 1 else ""
        if e.state in _WORKER_NOTES:
            self._print(Text(_WORKER_NOTES[e.state].format(detail=e.detail) + where, style="dim"))
        elif e.state == "replaced":
            self._print(Text(f"worker replaced by a fresh process after the failure{where}", style="dim"))
        elif e.state == "recycled":
            self._print(
                Text(f"worker recycled{where}: {printable(e.detail)}; a fresh one takes the next trial")
            )

    def _on_trial_started(self, e: TrialStarted) -> None:
        if self._task is not None:
            self._progress.remove_task(self._task)
        again = f" (again, interrupted as trial {e.rerun_of})" if e.rerun_of is not None else ""
        self._task = self._progress.add_task(
            f"trial {e.number}{again}", total=None, status=format_params(e.params)
        )
        if e.rerun_of is not None:  # the bar is hidden in a log: say it there too
            resumed = f", from its checkpoint at step {e.resumed_at}" if e.resumed_at is not None else ""
            again = f"trial {e.number:>3}  runs the params of trial {e.rerun_of} again{resumed}"
            self._print(Text(again, style="dim"))
        if self._started is not None and len(self._started.workers) > 1:  # which trials run at once
            self._print(
                Text(f"trial {e.number:>3}  starts on {e.worker}  {format_params(e.params)}", style="dim")
            )

    def _on_step(self, e: StepLogged) -> None:
        if self._task is not None:
            self._progress.update(
                self._task, completed=e.step, total=e.max_steps or None, status=f"loss {e.loss:.4f}"
            )
        quiet = self._clock() - self._last_line
        if not self._console.is_terminal and quiet >= self.PROGRESS_EVERY_S:
            of = f"/{e.max_steps}" if e.max_steps else ""
            self._print(Text(f"trial {e.number:>3}  step {e.step}{of}  loss {e.loss:.4f}", style="dim"))

    def _on_eval(self, e: EvalLogged) -> None:
        if self._task is not None and e.step > 0:
            self._progress.update(self._task, status=f"eval {e.value:.4f}" + (" pruned" if e.pruned else ""))
        if e.step == 0:
            decision = "(the untrained adapter)"
        else:
            decision = "pruned here" if e.pruned else "goes on"
        self._print(
            Text(f"trial {e.number:>3}  step {e.step}  {self._metric} {e.value:.4f}  {decision}", style="dim")
        )

    def _on_trial_finished(self, e: TrialFinished) -> None:
        if self._task is not None:
            self._progress.remove_task(self._task)
            self._task = None
        t = e.outcome
        self._finished.append(t)
        self._pareto = e.pareto
        line = Text(f"trial {t.number:>3}  ")
        line.append(f"{t.label:<8}", style=STATE_COLOURS.get(t.label, ""))
        line.append(f"  {t.value:.4f}" if t.value is not None else "        -")
        if t.values is not None and self._started is not None:
            more = zip(self._started.objectives[1:], t.values[1:], strict=False)
            line.append("".join(f"  {metric} {v:.4g}" for metric, v in more))
        line.append(f"  {format_params(t.shown)}  {t.duration_s or 0.0:.1f} s")
        if t.pruned_at is not None:
            line.append(f"  pruned at step {t.pruned_at}", style="yellow")
        if t.fail_reason:
            line.append(f"  {printable(t.fail_reason)}", style="red")
        if e.best_number == t.number:
            line.append("  new best", style="bold green")
        elif t.number in e.pareto:
            line.append("  on the Pareto front", style="green")
        self._print(line)
        if e.pareto and len(e.pareto) > 1:
            self._print(Text(f"  Pareto front: trials {', '.join(map(str, e.pareto))}", style="dim"))
        if e.best_number is not None:
            ties = tied(e.best_number, self._finished)
            who = f"trials {', '.join(map(str, ties))} tie at" if ties else f"trial {e.best_number},"
            self._print(Text(f"  best so far: {who} {self._metric} {e.best_value:.4f}", style="dim"))

    def _on_progress(self, e: StudyProgress) -> None:
        """The study's figures each time its count of finished trials grows (other runners'
        trials included): the engine sends them right after each of this runner's trials."""
        if self._study is not None and e.done != self._study.done:
            self._print(Text(f"  study: {e.done}/{e.target} done, {e.running} running", style="dim"))
        self._study = e

    def _on_finished(self, e: SearchFinished) -> None:
        if self._task is not None:
            self._progress.remove_task(self._task)
            self._task = None
        names = list(self._started.space) if self._started else []
        objectives = self._started.objectives if self._started else ()
        table = Table(title=f"Search {e.reason}", title_justify="left")
        columns = (
            "trial",
            "state",
            self._metric,
            *objectives[1:],
            *names,
            *(c.name for c in MEASURED),
            "note",
        )
        for column in columns:
            table.add_column(column, justify="left" if column in ("state", "note") else "right")
        ties = tied(e.best_number, self._finished)
        for t in self._finished:
            marked = mark(t.number, e.best_number, self._pareto, ties)
            table.add_row(
                f"{number_cell(t)}{' *' if marked == '★' else (' ' + marked if marked else '')}",
                Text(t.label, style=STATE_COLOURS.get(t.label, "")),
                *value_cells(t, objectives),
                *(fmt_value(t.shown.get(n)) for n in names),
                *(c.cell(t) for c in MEASURED),
                printable(t.reason),
            )
        if self._finished:
            self._progress.console.print(table)
        else:
            self._print(Text(f"Search {e.reason}", style="bold"))
        c = e.counts
        self._print(
            f"{c.get('complete', 0)} complete, {c.get('pruned', 0)} pruned, "
            f"{c.get('failed', 0) + c.get('interrupted', 0)} failed"
        )
        if e.best_number is not None and ties:
            study = self._started.study_name if self._started is not None else None
            self._print(
                Text(
                    "tie: " + tie_text(ties, self._metric, e.best_value, e.best_number, study),
                    style="bold yellow",
                )
            )
        elif e.best_number is not None:
            self._print(
                Text(
                    f"best: trial {e.best_number}, {self._metric} {e.best_value:.4f}, "
                    f"{format_params(e.best_params)}",
                    style="bold green",
                )
            )
        if e.message and e.reason == "failed":
            self._print(Text(f"search stopped: {printable(e.message)}", style="bold red"))
        elif e.message:  # a runner that ended well before the study did (--max-trials-here)
            self._print(printable(e.message))

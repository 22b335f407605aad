"""The headless console (a sink of the engine's events) as a nohup log shows it: a line per
eval with the pruner's decision, and a progress line when nothing was printed for a while."""

from __future__ import annotations

import io

from rich.console import Console

from lorasearch_tui.console import SearchConsole
from lorasearch_tui.events import EvalLogged, SearchStarted, StepLogged, TrialStarted


def log_of(events_and_pauses) -> str:
    now = [0.0]
    out = io.StringIO()
    console = SearchConsole(Console(file=out, width=120), clock=lambda: now[0])
    with console:
        for item in events_and_pauses:
            if isinstance(item, float):
                now[0] += item
            else:
                console.emit(item)
    return out.getvalue()


STARTED = SearchStarted(
    "s", "sqlite:///x.db", "bayesian", "median", 8, {"lr": "loguniform(0.01, 0.1)"}, {}, False, 0
)


def test_every_eval_is_a_line_with_the_pruners_decision():
    log = log_of(
        [
            STARTED,
            TrialStarted(0, {"lr": 0.02}),
            EvalLogged(0, 0, 8.1, False),
            EvalLogged(0, 10, 6.4, False),
            EvalLogged(0, 20, 6.9, True),
        ]
    )
    assert "trial   0  step 0  eval_loss 8.1000  (the untrained adapter)" in log
    assert "trial   0  step 10  eval_loss 6.4000  goes on" in log
    assert "trial   0  step 20  eval_loss 6.9000  pruned here" in log


def test_a_quiet_log_gets_a_progress_line_every_half_minute():
    steps = [StepLogged(0, n, 500, 3.0 - n / 1000, 0.01) for n in range(1, 5)]
    log = log_of(
        [STARTED, TrialStarted(0, {"lr": 0.02}), steps[0], 10.0, steps[1], 25.0, steps[2], 5.0, steps[3]]
    )
    assert "trial   0  step 1/500" not in log  # printed something 0 s ago
    assert "trial   0  step 2/500" not in log  # 10 s of quiet
    assert "trial   0  step 3/500  loss 2.9970" in log  # 35 s of quiet
    assert "trial   0  step 4/500" not in log  # 5 s after that line

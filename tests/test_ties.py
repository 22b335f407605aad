"""Exactly equal values are a tie, never a "best" (issue 21, item 5).

On the demo every CER was 1.0 and `show` named trial 0 best (Optuna breaks ties by trial
number) and offered its train command: nothing measured told it from the others. Now the views
that name a best say it is a tie, and which trials tie.
"""

from __future__ import annotations

import io

import optuna
from helpers.searching import lorasearch
from rich.console import Console

from lorasearch_tui.config import parse_config
from lorasearch_tui.console import SearchConsole
from lorasearch_tui.events import (
    SearchFinished,
    SearchStarted,
    TrialFinished,
    TrialOutcome,
    cells,
    headers,
    tied,
)
from lorasearch_tui.store import CONFIG_ATTR, SETTINGS_ATTR


def _outcome(number: int, value: float | None, state: str = "COMPLETE") -> TrialOutcome:
    return TrialOutcome(
        number=number, state=state, value=value, params={"learning_rate": 0.01 * (number + 1)}
    )


def test_tied_names_the_trials_of_exactly_the_best_value():
    same = [_outcome(0, 1.0), _outcome(1, 1.0), _outcome(2, None, "PRUNED"), _outcome(3, 1.0)]
    assert tied(0, same) == [0, 1, 3]
    assert tied(0, [_outcome(0, 0.5), _outcome(1, 0.5000001)]) == []  # close is not equal
    assert tied(None, same) == [] and tied(7, same) == []
    shown = cells(same[1], ["learning_rate"], best=0, ties=[0, 1, 3])
    row = dict(zip(headers(["learning_rate"]), shown, strict=True))
    assert row["best"] == "="  # no ★ for any of them


def _study(folder, values):
    (folder / "optuna_studies").mkdir()
    study = optuna.create_study(study_name="t", storage=f"sqlite:///{folder}/optuna_studies/t.db")
    space = {"learning_rate": {"type": "loguniform", "low": 0.01, "high": 0.1}}
    config = parse_config({"objective": {"metric": "cer"}, "search_space": space}, "t")
    study.set_user_attr(CONFIG_ATTR, config.to_dict())
    study.set_user_attr(SETTINGS_ATTR, {"mode": "random", "pruner": "none", "n_trials": len(values)})
    distributions = {"learning_rate": optuna.distributions.FloatDistribution(0.01, 0.1, log=True)}
    for value in values:
        study.tell(study.ask(distributions), value)


def test_show_calls_equal_best_values_a_tie(tmp_path):
    _study(tmp_path, [1.0, 1.0, 1.0])
    shown = lorasearch(tmp_path, "show", "t")
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    assert "Tie: trials 0, 1, 2 have exactly cer 1.0000: nothing measured tells them apart" in text
    assert "Best:" not in text and "★" not in text
    as_json = lorasearch(tmp_path, "show", "t", "--json")
    assert '"tied_with": [\n      0,\n      1,\n      2\n    ]' in as_json.stdout


def test_show_names_a_best_that_is_one(tmp_path):
    _study(tmp_path, [1.0, 0.5, 1.0])
    text = " ".join(lorasearch(tmp_path, "show", "t").stdout.split())
    assert "Best: trial 1, cer 0.5000" in text and "Tie" not in text


def test_the_console_says_tie_at_the_end_of_a_search():
    out = io.StringIO()
    console = SearchConsole(Console(file=out, width=200))
    started = SearchStarted("t", "sqlite:///t.db", "random", "none", 2, {}, {}, False, 0, metric="cer")
    with console:
        console.emit(started)
        console.emit(TrialFinished(_outcome(0, 1.0), 0, 1.0))
        console.emit(TrialFinished(_outcome(1, 1.0), 0, 1.0))
        console.emit(SearchFinished("completed", {"complete": 2}, 0, 1.0, {"learning_rate": 0.01}))
    text = out.getvalue()
    assert "best so far: trials 0, 1 tie at cer 1.0000" in text
    assert "tie: trials 0, 1 have exactly cer 1.0000: nothing measured tells them apart" in text
    assert "best: trial" not in text

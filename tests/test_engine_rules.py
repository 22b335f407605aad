"""The engine's decisions, fast: the pruners' rules, seeded samplers, what a trial leaves in its
folder, where the worker's log goes, and the headless lines of a pruning search.

Each test runs the real engine (Optuna study, SQLite storage, result files, a real worker
process on the real pipe) with the stand-in worker of tests/helpers/standin_worker.py, whose
eval loss is 1/(1 + learning_rate) + 0.1/step: what is checked is the engine, in seconds. The
same promises over real training are in test_search.py (slow).
"""

from __future__ import annotations

import io
import json
import statistics

import pytest
from helpers.searching import run_standin
from rich.console import Console

from lorasearch_tui.console import SearchConsole
from lorasearch_tui.events import EvalLogged, StepLogged, decode


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_the_median_pruner_waits_for_two_trials_and_never_judges_a_first_eval(tmp_path):
    """Each decision is checked against the rule: after two complete trials, from the second
    eval on, a trial whose eval loss is worse than the median of the complete trials' eval
    losses at that step is pruned there, and only then."""
    finished, study, _ = run_standin(tmp_path, n_trials=14, pruner="median", fixed={"max_steps": 8})
    assert finished.reason == "completed"
    trials = study.trials
    assert [t.state.name for t in trials[:2]] == ["COMPLETE", "COMPLETE"]
    pruned = [t for t in trials if t.state.name == "PRUNED"]
    assert pruned and len(pruned) < len(trials) - 2, [t.state.name for t in trials]  # the rule bites
    for trial in trials[2:]:
        complete = [t for t in trials[: trial.number] if t.state.name == "COMPLETE"]
        stops = sorted(trial.intermediate_values)
        for step in stops[1:]:  # the first eval (step 2) is never judged
            median = statistics.median(t.intermediate_values[step] for t in complete)
            worse = trial.intermediate_values[step] > median
            if worse:
                assert trial.state.name == "PRUNED" and step == stops[-1], (trial.number, step)
                break
        else:
            assert trial.state.name == "COMPLETE", trial.number
    for trial in pruned:
        record = json.loads((tmp_path / f"out/s/trial_{trial.number}/trial_results.json").read_text())
        assert record["pruned_at"] == record["steps"] == max(trial.intermediate_values) > 2


def test_no_pruner_judges_a_trials_last_eval(tmp_path):
    """From trial 2 on, the stand-in's curve turns bad at its last eval only (step 8): the
    median pruner would prune there, but the last eval is the trial's result, so every trial
    is COMPLETE with it.

    Mutation it catches: `_slot.py` asking the pruner at the last eval too (trials 2 and 3
    are then PRUNED at step 8)."""
    finished, study, _ = run_standin(
        tmp_path, "late-bad", n_trials=4, pruner="median", fixed={"max_steps": 8}
    )
    assert finished.reason == "completed"
    trials = study.trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 4
    median = statistics.median(t.intermediate_values[8] for t in trials[:2])
    assert all(t.intermediate_values[8] > median for t in trials[2:])  # the rule would bite there
    assert [t.value for t in trials[2:]] == [t.intermediate_values[8] for t in trials[2:]]


def test_hyperband_prunes_at_its_rungs(tmp_path):
    """Hyperband counts its resource in optimizer steps from `eval_steps` on: a pruned trial
    stops at an eval, and the search still completes some trials."""
    finished, study, _ = run_standin(tmp_path, n_trials=20, pruner="hyperband", fixed={"max_steps": 18})
    assert finished.reason == "completed"
    states = [t.state.name for t in study.trials]
    assert "PRUNED" in states and "COMPLETE" in states, states
    for trial in study.trials:
        if trial.state.name == "PRUNED":
            assert max(trial.intermediate_values) % 2 == 0 and max(trial.intermediate_values) < 18
        else:  # a trial that reached its last eval is a result, never pruned there
            assert max(trial.intermediate_values) == 18


def test_pruner_none_lets_every_trial_finish(tmp_path):
    _, study, _ = run_standin(tmp_path, n_trials=6, pruner="none", fixed={"max_steps": 8})
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 6


@pytest.mark.parametrize("mode", ["bayesian", "random"])
def test_the_same_seed_draws_the_same_trials(tmp_path, mode):
    """Two studies with seed 7 draw the same params, in the same order; seed 8 does not."""

    def drawn(name: str, seed: int) -> list[dict]:
        _, study, _ = run_standin(tmp_path, name=name, n_trials=12, mode=mode, fixed={"seed": seed})
        return [t.params for t in study.trials]

    first = drawn("a", 7)
    assert drawn("b", 7) == first
    assert drawn("c", 8) != first


def test_a_grid_runs_each_point_once_whatever_the_seed(tmp_path):
    space = {
        "lora_r": {"type": "categorical", "choices": [4, 8, 16]},
        "learning_rate": {"type": "categorical", "choices": [0.01, 0.1]},
    }
    _, study, _ = run_standin(tmp_path, space=space, n_trials=50, mode="grid")
    points = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(points) == 6 and len(set(points)) == 6


def test_metrics_jsonl_holds_each_step_and_eval_as_they_came(tmp_path):
    _, study, sink = run_standin(tmp_path, n_trials=1, fixed={"max_steps": 6, "eval_steps": 3})
    folder = tmp_path / "out/s/trial_0"
    lines = (folder / "metrics.jsonl").read_bytes().splitlines()
    events = [decode(line) for line in lines]  # every line is an event: none is skipped
    steps = [e for e in events if isinstance(e, StepLogged)]
    evals = [e for e in events if isinstance(e, EvalLogged)]
    assert len(steps) + len(evals) == len(lines)
    assert [e.step for e in steps] == [1, 2, 3, 4, 5, 6] and {e.max_steps for e in steps} == {6}
    assert [e.step for e in evals] == [3, 6] and {e.number for e in events} == {0}
    lr = study.trials[0].params["learning_rate"]
    assert steps[0].loss == pytest.approx(1 / (1 + lr) + 1)
    assert evals[1].value == pytest.approx(1 / (1 + lr) + 0.1 / 6)
    # one format: the file holds exactly the step and eval events the front ends were sent,
    # the pruner's decisions included
    assert events == [e for e in sink.events if isinstance(e, StepLogged | EvalLogged)]
    # the same curves, whole, in the trial's result file
    record = json.loads((folder / "trial_results.json").read_text())
    assert [e["step"] for e in record["eval"]] == [3, 6] and len(record["train_loss"]) == 6


def test_the_worker_log_is_in_the_studys_output_folder(tmp_path):
    finished, _, _ = run_standin(tmp_path, "no-start", n_trials=3)
    log = tmp_path / "out" / "s" / "worker.log"
    assert "ModuleNotFoundError: No module named 'torch'" in log.read_text()
    assert finished.message and "worker.log" in finished.message


def test_the_headless_log_of_a_pruning_search(tmp_path):
    """What `tail -f` of a nohup log shows: each eval with the pruner's decision, each trial."""
    out = io.StringIO()
    console = SearchConsole(Console(file=out, width=120))
    with console:
        _, study, _ = run_standin(tmp_path, n_trials=8, pruner="median", sink=console, fixed={"max_steps": 8})
    log = out.getvalue()
    for trial in study.trials:
        last = max(trial.intermediate_values)
        decision = "pruned here" if trial.state.name == "PRUNED" else "goes on"
        assert f"trial {trial.number:3d}  step {last}  eval_loss " in log
        line = next(x for x in log.splitlines() if f"trial {trial.number:3d}  step {last}  eval_loss" in x)
        assert line.endswith(decision), line
        assert f"trial {trial.number:3d}  {trial.state.name}" in log


def test_the_engine_sends_the_importances_after_each_trial(tmp_path):
    """What the `i` screen shows: a reason until 3 trials are complete, then PED-ANOVA's
    importances over all of them, learning_rate first (the stand-in's loss depends on it only)."""
    from lorasearch_tui.events import ParamImportances

    space = {
        "learning_rate": {"type": "loguniform", "low": 0.001, "high": 0.5},
        "lora_r": {"type": "categorical", "choices": [4, 8, 16]},
    }
    _, study, sink = run_standin(tmp_path, n_trials=5, space=space)
    sent = [e for e in sink.events if isinstance(e, ParamImportances)]
    assert [e.trials for e in sent] == [1, 2, 3, 4, 5]
    assert [e.reason for e in sent[:2]] == [f"needs 3 complete trials, the study has {n}" for n in (1, 2)]
    for event in sent[2:]:
        assert set(event.values) == set(space) and sum(event.values.values()) == pytest.approx(1.0)
        assert list(event.values)[0] == "learning_rate"


def test_bayesian_models_the_space_after_a_start_up_sized_to_the_budget(tmp_path):
    """TPE's random start-up is a quarter of the budget (3 to 10), not Optuna's fixed 10, so
    a small search reaches the model; multivariate; what it is stands in the study."""
    from lorasearch_tui.events import SearchStarted
    from lorasearch_tui.search._samplers import make_sampler
    from lorasearch_tui.store import tpe_startup

    assert [tpe_startup(n) for n in (1, 8, 12, 20, 40, 200)] == [3, 3, 3, 5, 10, 10]
    sampler = make_sampler("bayesian", {}, 1, 0, n_trials=20)
    assert sampler._n_startup_trials == 5 and sampler._multivariate and sampler._constant_liar
    _, study, sink = run_standin(tmp_path, n_trials=8, mode="bayesian")
    assert study.user_attrs["lorasearch_settings"]["sampler"] == "TPE multivariate, 3 random first"
    started = next(e for e in sink.events if isinstance(e, SearchStarted))
    assert started.sampler == "TPE multivariate, 3 random first"
    # from the 4th trial on, TPE proposes: the learning rates move toward the high end the
    # stand-in rewards (its loss is 1/(1 + learning_rate)), past the random start-up's median
    rates = [t.params["learning_rate"] for t in study.trials]
    assert statistics.median(rates[3:]) > statistics.median(rates[:3])


def test_a_maximized_objectives_best_trial_is_its_highest(tmp_path):
    """With `token_accuracy` (maximized) the best trial, the best file and the search's answer
    are the trial of the highest value.

    Mutation it catches: the best trial picked as the lowest value whatever the direction."""
    objective = {"objective": {"metric": "token_accuracy"}}
    finished, study, _ = run_standin(tmp_path, n_trials=4, fixed=objective)
    values = [t.value for t in study.trials]
    assert study.direction.name == "MAXIMIZE" and len(set(values)) == 4
    assert finished.best_number == values.index(max(values))
    best = json.loads((tmp_path / "optuna_studies/s_best_params.json").read_text())
    assert best["best_value"] == max(values) and best["direction"] == "maximize"


def test_the_parent_freezes_what_it_holds_while_it_searches_and_thaws_it_after(tmp_path):
    """The parent's long-lived objects (libraries, study, the screen) are frozen for the search,
    so a full collection does not walk them mid-search (one took 0.1 s of its CPU); after it,
    unfrozen, so what the search held can go (the TUI's home screen starts more searches).
    Mutations: `run()` without `gc.freeze()` (0 frozen during trials); without `gc.unfreeze()`."""
    import gc

    from helpers.searching import ListSink

    class Frozen(ListSink):
        def __init__(self) -> None:
            super().__init__()
            self.counts: list[int] = []

        def emit(self, event) -> None:
            if type(event).__name__ == "TrialStarted":
                self.counts.append(gc.get_freeze_count())
            super().emit(event)

    sink = Frozen()
    finished, _, _ = run_standin(tmp_path, n_trials=2, sink=sink)
    assert finished.reason == "completed"
    assert len(sink.counts) == 2 and all(count > 1000 for count in sink.counts), sink.counts
    assert gc.get_freeze_count() == 0

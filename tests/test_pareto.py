"""Several objectives: the config's rules, a real two-objective search on the demo (CER and peak
memory) whose Pareto front lands in the best files with a config per trial that trains as it
is, the views that mark the front, and the samplers beside TPE (GP, NSGA-II)."""

from __future__ import annotations

import json
import subprocess
import sys

import optuna
import pytest
from helpers.pilot import wait_until
from helpers.searching import config_file, search

from lorasearch_tui.config import parse_config
from lorasearch_tui.errors import UserError
from lorasearch_tui.events import SearchControls, SearchStarted, TrialFinished, TrialOutcome, TrialStarted
from lorasearch_tui.store import describe_sampler, nsga2_population
from lorasearch_tui.tui import SearchApp
from lorasearch_tui.tui.screens import ParetoScreen
from lorasearch_tui.tui.widgets import LogPane, TrialTable

TWO = [{"metric": "cer", "eval_samples": 4}, {"metric": "peak_memory_gb"}]


def _error(raw: dict) -> str:
    with pytest.raises(UserError) as caught:
        parse_config(raw, "c.json")
    return str(caught.value)


def test_the_objectives_are_checked_with_their_paths():
    params = parse_config({"objectives": TWO}, "c").params
    assert params.multi and params.objective.metric == "cer"  # the first one is what evals report
    assert [g.goal for g in params.goals] == ["minimize", "minimize"]
    assert (
        parse_config({"objectives": [{"metric": "wer"}, {"metric": "tokens_per_second"}]}, "c")
        .params.goals[1]
        .goal
        == "maximize"
    )
    # stored and read back: the same parameters (the stored config holds both keys)
    config = parse_config({"objectives": TWO}, "c")
    assert parse_config(config.to_dict(), "s").params == config.params
    assert _error({"objectives": [{"metric": "cre"}]}) == (
        "c.json: objectives[0].metric: must be 'eval_loss', 'cer', 'wer', 'exact_match', 'token_accuracy', "
        "'peak_memory_gb', 'train_seconds' or 'tokens_per_second'; did you mean 'cer'? (got 'cre')"
    )
    assert _error({"objectives": [{"metric": "cer"}, {"metirc": "x"}]}) == (
        "c.json: objectives[1].metirc: unknown key; did you mean 'metric'?"
    )
    assert "objectives[0].metric: the first objective is what every eval reports" in _error(
        {"objectives": [{"metric": "peak_memory_gb"}, {"metric": "cer"}]}
    )
    assert "objectives[1].metric: cer scores generated answers" in _error(
        {"objectives": [{"metric": "eval_loss"}, {"metric": "cer"}]}
    )
    assert "objectives[1].metric: cer is already an objective" in _error(
        {"objectives": [{"metric": "cer"}, {"metric": "cer"}]}
    )
    assert "objective.metric: train_seconds is measured once a trial ends" in _error(
        {"objective": {"metric": "train_seconds"}}
    )
    assert "objective: objectives[0] is the objective" in _error(
        {"objective": {"metric": "wer"}, "objectives": TWO}
    )
    assert "search_space.objectives: what a search measures cannot be searched" in _error(
        {"search_space": {"objectives": {"type": "categorical", "choices": ["cer"]}}}
    )


def test_the_samplers_are_sized_to_the_budget():
    assert [nsga2_population(n) for n in (3, 12, 30, 300)] == [4, 4, 10, 50]
    assert describe_sampler("nsga2", 12) == "NSGA-II, generations of 4"
    assert describe_sampler("gp", 12) == "Gaussian process, 3 random first"


@pytest.mark.slow
def test_a_two_objective_search_writes_a_pareto_front_that_trains(tmp_path):
    space = {
        "learning_rate": {"type": "loguniform", "low": 1e-3, "high": 5e-2},
        "lora_r": {"type": "categorical", "choices": [4, 64]},
    }
    config = config_file(tmp_path, space, max_steps=4, eval_steps=2, objectives=TWO)
    proc = search(
        tmp_path, "-c", str(config), "--study-name", "p", "--n-trials", "3", "--search-mode", "nsga2"
    )
    assert proc.returncode == 0, proc.stderr
    assert "2 objectives (cer, peak_memory_gb): Optuna does not prune" in proc.stdout
    assert "NSGA-II, generations of 4" in proc.stdout and "none pruner" in proc.stdout
    study = optuna.load_study(study_name="p", storage=f"sqlite:///{tmp_path}/optuna_studies/p.db")
    assert [d.name for d in study.directions] == ["MINIMIZE", "MINIMIZE"]
    for trial in study.trials:
        assert trial.state.name == "COMPLETE" and len(trial.values) == 2
        assert trial.intermediate_values == {}  # never reported: nothing pretends to prune
        folder = tmp_path / "models/hyperparam_search/p" / f"trial_{trial.number}"
        record = json.loads((folder / "trial_results.json").read_text())
        assert record["values"] == trial.values and record["value"] == trial.values[0]
        assert 0 <= trial.values[0] and trial.values[1] == pytest.approx(record["peak_memory_bytes"] / 2**30)
        assert record["eval"][-1]["value"] == trial.values[0]  # the last eval's CER is the result
    best = json.loads((tmp_path / "optuna_studies/p_best_params.json").read_text())
    front = best["best_trials"]
    assert front and {t["number"] for t in front} == {t.number for t in study.best_trials}
    assert best["objectives"] == [
        {"metric": "cer", "direction": "minimize"},
        {"metric": "peak_memory_gb", "direction": "minimize"},
    ]
    for entry in front:
        assert len(entry["values"]) == 2 and entry["adapter"].endswith(f"trial_{entry['number']}/adapter")
    files = sorted((tmp_path / "optuna_studies").glob("p_pareto_trial_*_config.json"))
    assert [f.name for f in files] == sorted(f"p_pareto_trial_{t['number']}_config.json" for t in front)
    assert "Pareto config" in proc.stdout

    # a config of the front trains unchanged
    trained = subprocess.run(
        [sys.executable, "-m", "lorasearch_tui", "train", "-c", str(files[0]), "--output-dir", "out"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert trained.returncode == 0, trained.stderr
    metrics = json.loads((tmp_path / "out/metrics.json").read_text())
    assert metrics["metric"] == "cer" and len(metrics["values"]) == 2

    # show and export name every objective and mark the front
    shown = subprocess.run(
        [sys.executable, "-m", "lorasearch_tui", "show", "p", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    data = json.loads(shown.stdout)
    assert data["objectives"] == ["cer", "peak_memory_gb"]
    assert {t["number"] for t in data["pareto_front"]} == {t["number"] for t in front}
    row = data["trials"][0]
    assert row["value_cer"] == study.trials[0].values[0] and "pareto" in row


def _events() -> list:
    started = SearchStarted(
        "mo",
        "sqlite:///optuna_studies/mo.db",
        "bayesian",
        "none",
        4,
        {"lora_r": "categorical[4, 64]"},
        {"model_name": "demo:model"},
        False,
        0,
        metric="cer",
        objectives=("cer", "peak_memory_gb"),
        directions=("minimize", "minimize"),
    )
    events: list = [started]
    results = [(0, 4, (0.40, 9.0), (0,)), (1, 64, (0.30, 12.0), (0, 1)), (2, 64, (0.35, 13.0), (0, 1))]
    for number, rank, values, front in results:
        events.append(TrialStarted(number, {"lora_r": rank}))
        events.append(
            TrialFinished(
                TrialOutcome(
                    number=number,
                    state="COMPLETE",
                    value=values[0],
                    values=values,
                    params={"lora_r": rank},
                    duration_s=10.0,
                    steps=4,
                ),
                1,
                0.30,
                pareto=front,
            )
        )
    return events


async def test_the_terminal_ui_marks_the_pareto_front_and_draws_it():
    controls = SearchControls()

    def engine(sink):
        for event in _events():
            sink.emit(event)
        controls.stop_requested.wait(30)

    app = SearchApp(engine, controls, clock=lambda: 100.0)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: 2 in app.state.trials and app.state.trials[2].state == "COMPLETE", 30)
        await pilot.pause(0.2)
        table = app.query_one(TrialTable)
        assert [str(c.label) for c in table.columns.values()][:5] == [
            "#",
            "state",
            "lora_r",
            "value",
            "peak_memory_gb",
        ]
        rows = {key.value: [str(getattr(c, "plain", c)) for c in table.get_row(key)] for key in table.rows}
        assert rows["0"][3:6] == ["0.4000", "9", "◆"]  # on the front, not the best in CER
        assert rows["1"][5] == "★" and rows["2"][5] == ""  # best in CER; dominated
        log = "\n".join(line.text for line in app.query_one(LogPane).lines)
        assert "Optuna does not prune a study of several objectives" in log
        assert "trial 1 COMPLETE cer 0.3, peak_memory_gb 12" in log
        await pilot.press("f")
        await wait_until(pilot, lambda: isinstance(app.screen, ParetoScreen), 10)
        text = str(app.screen.query_one("#pareto-text").render())
        assert "★ trial 1" in text and "◆ trial 0" in text and "trial 2" not in text
        await pilot.press("escape")
        controls.stop_requested.set()


@pytest.mark.slow
def test_a_gp_search_runs_on_the_demo_and_stores_its_sampler(tmp_path):
    """GPSampler after its random start-up (4 trials: 3 random, then the Gaussian process)."""
    space = {"learning_rate": {"type": "loguniform", "low": 1e-3, "high": 5e-2}}
    config = config_file(tmp_path, space, max_steps=2, eval_steps=2)
    proc = search(tmp_path, "-c", str(config), "--study-name", "g", "--n-trials", "4", "--search-mode", "gp")
    assert proc.returncode == 0, proc.stderr
    study = optuna.load_study(study_name="g", storage=f"sqlite:///{tmp_path}/optuna_studies/g.db")
    assert study.user_attrs["lorasearch_settings"]["sampler"] == "Gaussian process, 3 random first"
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 4
    assert len({t.params["learning_rate"] for t in study.trials}) == 4

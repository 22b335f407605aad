"""Known parameter sets first: `--enqueue FILE` and the config's `enqueue` (issue 23).

The searches here are real (engine, storage, sampler) with the stand-in worker, so each takes
a second; the bad inputs go through the CLI, as a user meets them.
"""

from __future__ import annotations

import pytest
from conftest import write_json
from helpers.searching import LR_SPACE, lorasearch, run_standin

from lorasearch_tui.events import cells
from lorasearch_tui.store import outcome_of


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def rates(study) -> list[float]:
    return [t.params["learning_rate"] for t in sorted(study.trials, key=lambda t: t.number)]


def test_known_sets_run_first_are_marked_and_never_run_twice(tmp_path):
    """Mutations it catches: the sets queued after the sampler's first trial; queued again on
    a resume (`skip_if_exists` off); the mark lost between the study and the table."""
    known = write_json(tmp_path / "known.json", [{"learning_rate": 0.02}, {"learning_rate": 0.07}])
    finished, study, _ = run_standin(tmp_path, n_trials=3, enqueue=str(known))
    assert finished.reason == "completed"
    assert rates(study)[:2] == [0.02, 0.07]
    outcomes = [outcome_of(t) for t in sorted(study.trials, key=lambda t: t.number)]
    assert [o.enqueued for o in outcomes] == [True, True, False]
    assert cells(outcomes[0], ["learning_rate"])[0] == "0 enqueued"
    assert cells(outcomes[2], ["learning_rate"])[0] == "2"
    # A resume with the same file and a larger target: the sets are in the study already.
    finished, study, _ = run_standin(tmp_path, n_trials=5, enqueue=str(known), resume=True)
    assert finished.reason == "completed"
    assert len(study.trials) == 5 and rates(study).count(0.02) == 1 and rates(study).count(0.07) == 1
    assert [outcome_of(t).enqueued for t in study.trials[3:]] == [False, False]


def test_an_earlier_studys_best_params_and_the_config_key_run_first(tmp_path):
    """A best_params file of another study is a set; so is each entry of `enqueue` in the
    config, queued when the study is created (before the file's)."""
    run_standin(tmp_path, name="before", n_trials=2)
    best = tmp_path / "optuna_studies" / "before_best_params.json"
    known = {"enqueue": [{"learning_rate": 0.05}]}
    _, study, _ = run_standin(tmp_path, name="after", n_trials=3, enqueue=str(best), fixed=known)
    import json

    before_best = json.loads(best.read_text())["best_params"]["learning_rate"]
    assert rates(study)[:2] == [0.05, before_best]
    assert [outcome_of(t).enqueued for t in study.trials] == [True, True, False]


def test_a_set_that_does_not_fit_is_one_line_and_nothing_is_written(tmp_path):
    config = write_json(tmp_path / "c.json", {"max_steps": 4, "eval_steps": 2, "search_space": LR_SPACE})
    sets = {
        "outside.json": ([{"learning_rate": 0.5}], "outside.json[0].learning_rate: 0.5 is outside"),
        "unknown.json": ([{"lora_r": 8}], "unknown.json[0].lora_r: not searched here"),
        "search.json": ({"search_space": LR_SPACE}, "a search config, not known values"),
        "list.json": (["0.02"], "list.json[0]: a parameter set is an object"),
        "typo.json": ({"learning_rate": 0.02, "lerning_rate": 0.03}, "typo.json[0].lerning_rate: not"),
        "other.json": ({"best_params": {"lora_r": 8}}, "none of its values are of parameters searched here"),
    }
    for name, (content, expected) in sets.items():
        write_json(tmp_path / name, content)
        proc = lorasearch(tmp_path, "search", "--no-tui", "-c", str(config), "--enqueue", name)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and expected in lines[0], (name, proc.stderr)
    good = write_json(tmp_path / "good.json", [{"learning_rate": 0.02}])
    choices = {"learning_rate": {"type": "categorical", "choices": [0.02, 0.05]}}
    grid = write_json(tmp_path / "g.json", {"max_steps": 4, "search_space": choices})
    proc = lorasearch(
        tmp_path, "search", "--no-tui", "-c", str(grid), "--enqueue", str(good), "--search-mode", "grid"
    )
    assert proc.returncode == 2 and "a grid search runs every combination" in proc.stderr, proc.stderr
    assert not (tmp_path / "optuna_studies").exists() or not list((tmp_path / "optuna_studies").iterdir())


def test_the_start_says_what_became_of_the_known_sets(tmp_path):
    """More sets than --n-trials: the start says how many stay queued, and they run on a resume
    with a larger target; sets the study holds are said to be there already. Nothing is
    dropped, nothing runs past the target."""
    from lorasearch_tui.events import SearchStarted

    known = write_json(tmp_path / "known.json", [{"learning_rate": r} for r in (0.02, 0.05, 0.07)])
    finished, study, sink = run_standin(tmp_path, n_trials=2, enqueue=str(known))
    said = next(e for e in sink.events if isinstance(e, SearchStarted)).known_sets
    assert said == (
        "3 known sets queued to run first; 1 of them beyond --n-trials 2 stay queued "
        "(--resume with a larger --n-trials runs them)"
    )
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE", "WAITING"]
    finished, study, sink = run_standin(tmp_path, n_trials=3, enqueue=str(known), resume=True)
    said = next(e for e in sink.events if isinstance(e, SearchStarted)).known_sets
    assert said == "0 known sets queued to run first; 3 in the study already (not queued again)"
    assert rates(study) == [0.02, 0.05, 0.07] and finished.reason == "completed"

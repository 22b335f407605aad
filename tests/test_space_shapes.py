"""LoRA-shaped search spaces (issue 23, item 4): `lora_alpha` as a searched multiple of
`lora_r`, and `lora_dropout` searched only without DoRA.

The study stores what was drawn (the factor; no dropout where it is not searched); the trial
trains with what it means (the product; the fixed dropout), and the tables show that. The
grid and bayesian searches run with the stand-in worker, which writes the config it was given
into `trial_results.json`; the last test trains the demo for real and reads the adapters.
"""

from __future__ import annotations

import json

import pytest
from conftest import REPO, write_json
from helpers.searching import lorasearch, run_standin, study_of, trial_results

from lorasearch_tui.events import TrialStarted, cells
from lorasearch_tui.store import outcome_of

SHAPED = {
    "lora_r": {"type": "categorical", "choices": [4, 8]},
    "lora_alpha": {"type": "multiple_of", "of": "lora_r", "choices": [1, 2]},
    "use_dora": {"type": "categorical", "choices": [True, False]},
    "lora_dropout": {"type": "categorical", "choices": [0.05, 0.1], "when": {"use_dora": False}},
}
FIXED_DROPOUT = 0.0  # TrainParams' default: what a trial with DoRA trains with


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def check_trained_as_drawn(tmp_path, study, name: str, sink) -> None:
    """Every trial: the study holds the factor and a dropout only without DoRA; the trial
    trained with the product and the fixed dropout under DoRA; the table and the start event
    show the product."""
    started = {e.number: e for e in sink.events if isinstance(e, TrialStarted)}
    for trial in study.trials:
        p = trial.params
        config = trial_results(tmp_path, name, trial.number, base=tmp_path / "out")["config"]
        assert p["lora_alpha"] in (1, 2) and config["lora_alpha"] == p["lora_alpha"] * p["lora_r"]
        if p["use_dora"]:
            assert "lora_dropout" not in p and config["lora_dropout"] == FIXED_DROPOUT
        else:
            assert config["lora_dropout"] == p["lora_dropout"] in (0.05, 0.1)
        row = cells(outcome_of(trial), ["lora_r", "lora_alpha", "lora_dropout"])
        shown_dropout = "-" if p["use_dora"] else f"{p['lora_dropout']:.4g}"
        assert row[2:5] == [str(p["lora_r"]), str(config["lora_alpha"]), shown_dropout], row
        assert started[trial.number].params["lora_alpha"] == config["lora_alpha"]


def test_a_grid_over_a_shaped_space_is_the_product_of_the_choices(tmp_path):
    """2 ranks x 2 factors x DoRA or not x 2 dropouts: 16 points, each once (under DoRA the
    dropout is not searched, so its two points train alike: the grid is the plain product).
    Mutations it catches: the factor trained as alpha; the dropout drawn under DoRA; the table
    showing the factor."""
    finished, study, sink = run_standin(tmp_path, name="g", space=SHAPED, n_trials=100, mode="grid")
    assert finished.reason == "completed" and len(study.trials) == 16
    assert all(t.state.name == "COMPLETE" for t in study.trials)
    points = {t.system_attrs["grid_id"] for t in study.trials}
    assert len(points) == 16
    pairs = {(t.params["lora_r"], t.params["lora_alpha"] * t.params["lora_r"]) for t in study.trials}
    assert pairs == {(4, 4), (4, 8), (8, 8), (8, 16)}
    check_trained_as_drawn(tmp_path, study, "g", sink)


def test_bayesian_and_random_searches_draw_a_shaped_space(tmp_path):
    for mode in ("bayesian", "random"):
        finished, study, sink = run_standin(tmp_path, name=mode, space=SHAPED, n_trials=8, mode=mode)
        assert finished.reason == "completed" and len(study.trials) == 8
        assert {t.params["use_dora"] for t in study.trials} == {True, False}, mode
        check_trained_as_drawn(tmp_path, study, mode, sink)


@pytest.mark.slow
def test_a_shaped_space_trains_the_demo_as_it_means(tmp_path):
    """Real training: each adapter's own config holds the product and the dropout it trained
    with. The two known sets fix which trial has DoRA."""
    config = json.loads((REPO / "configs" / "demo.json").read_text())
    del config["search_space"]
    config |= {
        "train_split": "train[:10%]",
        "search_space": {"learning_rate": {"type": "loguniform", "low": 0.01, "high": 0.1}, **SHAPED},
        "enqueue": [
            {"lora_r": 4, "lora_alpha": 2, "use_dora": True},
            {"lora_r": 8, "lora_alpha": 2, "use_dora": False, "lora_dropout": 0.1},
        ],
    }
    path = write_json(tmp_path / "shaped.json", config)
    proc = lorasearch(
        tmp_path, "search", "-c", str(path), "--study-name", "shaped", "--n-trials", "2", "--no-tui"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = study_of(tmp_path, "shaped")
    adapters = tmp_path / "models/hyperparam_search/shaped"
    trained = []
    for trial in sorted(study.trials, key=lambda t: t.number):
        assert trial.state.name == "COMPLETE", trial.user_attrs.get("fail_reason")
        saved = json.loads((adapters / f"trial_{trial.number}/adapter/adapter_config.json").read_text())
        trained.append((saved["r"], saved["lora_alpha"], saved["use_dora"], saved["lora_dropout"]))
    assert trained == [(4, 8, True, FIXED_DROPOUT), (8, 16, False, 0.1)]
    assert "lora_alpha: lora_r x [1, 2]" in proc.stdout and "when use_dora=False" in proc.stdout
    assert "lora_alpha=16" in proc.stdout  # the trial's line: what it trained with


def test_an_entry_without_a_condition_is_stored_as_before_conditions_existed():
    """A study made before `when` existed stores its entries without it: a `--resume --config`
    of it must still find the same config (the study compares the stored dict with the new)."""
    from lorasearch_tui.config import parse_config

    config = parse_config({"search_space": SHAPED}, "t")
    stored = config.to_dict()["search_space"]
    assert "when" not in stored["lora_r"] and stored["lora_dropout"]["when"] == {"use_dora": False}
    assert parse_config(config.to_dict(), "again").space == config.space


def test_a_best_config_enqueued_runs_what_it_trained_with(tmp_path):
    """A best config holds what its trial trained with (alpha 16 of rank 8, the fixed dropout
    under DoRA): enqueued, it is the factor 2 and no dropout, which train the same again."""
    from lorasearch_tui.config import parse_config, read_sets

    best = write_json(
        tmp_path / "best_config.json",
        {"lora_r": 8, "lora_alpha": 16, "use_dora": True, "lora_dropout": 0.0, "learning_rate": 0.01},
    )
    space = parse_config({"search_space": SHAPED}, "t").space
    assert read_sets(best, space) == ({"lora_r": 8, "lora_alpha": 2, "use_dora": True},)

"""The pruners a config's `pruner` block (or `--pruner NAME`) chooses (issue 23, item 5),
decision by decision: which trial stops at which eval, and which goes on.

Searches run with the stand-in worker on known learning rates (the config's `enqueue`), so
every curve is known in advance: the eval loss is 1/(1 + rate) + 0.1/step (`good`; `stall`
makes rates under 0.05 worse at every eval). Trials have 8 steps and an eval every 2; the eval
at step 8 is the last, which no pruner judges. The real demo search with successive halving
is the last test.
"""

from __future__ import annotations

import json

import pytest
from conftest import REPO, write_json
from helpers.searching import lorasearch, run_standin, study_of

from lorasearch_tui.config import parse_config
from lorasearch_tui.errors import UserError
from lorasearch_tui.events import EvalLogged, SearchStarted

STEPS = {"max_steps": 8, "eval_steps": 2}
GOES_ON = [(2, False), (4, False), (6, False), (8, False)]
LR = {"learning_rate": {"type": "uniform", "low": 0.01, "high": 0.1}}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def decisions(tmp_path, block: dict, rates: list[float], behaviour: str = "good", **options):
    """Each trial's evals as (step, pruned), by trial number, and the header's pruner."""
    fixed = {**STEPS, "pruner": block, "enqueue": [{"learning_rate": r} for r in rates]}
    finished, _, sink = run_standin(
        tmp_path, behaviour, name=block["type"], n_trials=len(rates), fixed=fixed, **options
    )
    assert finished.reason == "completed"
    seen: dict[int, list[tuple[int, bool]]] = {}
    for e in sink.events:
        if isinstance(e, EvalLogged):
            seen.setdefault(e.number, []).append((e.step, e.pruned))
    started = next(e for e in sink.events if isinstance(e, SearchStarted))
    return seen, started.pruner


def test_threshold_stops_a_trial_above_its_bound_at_its_first_eval(tmp_path):
    """At step 2 the rates 0.1, 0.05, 0.01 stand at 0.959, 1.002 and 1.040: above 0.96, the two
    last stop there, whatever the first did."""
    seen, shown = decisions(tmp_path, {"type": "threshold", "upper": 0.96}, [0.1, 0.05, 0.01])
    assert seen == {0: GOES_ON, 1: [(2, True)], 2: [(2, True)]}
    assert shown == "threshold(upper 0.96)"


def test_percentile_keeps_only_the_best_quarter_where_the_median_keeps_half(tmp_path):
    """After 0.1 and 0.02 complete, 0.07 stands at 0.9596 at step 4: worse than their 25th
    percentile (0.9519), better than their median (0.9697). Neither judges a first eval."""
    rates = [0.1, 0.02, 0.07]
    seen, shown = decisions(tmp_path, {"type": "percentile", "percentile": 25}, rates)
    assert seen[2] == [(2, False), (4, True)] and seen[0] == seen[1] == GOES_ON
    assert shown == "percentile(25%)"
    seen, shown = decisions(tmp_path, {"type": "median"}, rates)
    assert seen[2] == GOES_ON and shown == "median"


def test_patient_stops_a_trial_that_got_worse_for_its_patience(tmp_path):
    """Rate 0.01 under `stall` gets worse at every eval: with a patience of 1 it stops at the
    first eval that ends a window of 2 evals without improvement (step 6); 0.1 keeps improving."""
    seen, shown = decisions(tmp_path, {"type": "patient", "patience": 1}, [0.1, 0.01], behaviour="stall")
    assert seen == {0: GOES_ON, 1: [(2, False), (4, False), (6, True)]}
    assert shown == "patient(1)"


def test_successive_halving_promotes_only_the_best_half_at_each_rung(tmp_path):
    """Rungs at steps 2, 4, 8 (eval_steps x 2**k). At step 2 the best half of the trials that
    reached it go on: 0.1 alone; 0.01, then 0.05, stop there."""
    block = {"type": "successive_halving", "reduction_factor": 2}
    seen, shown = decisions(tmp_path, block, [0.1, 0.01, 0.05])
    assert seen == {0: GOES_ON, 1: [(2, True)], 2: [(2, True)]}
    assert shown == "successive_halving(x2)"


def test_the_flag_picks_a_pruner_with_its_defaults(tmp_path):
    """--pruner NAME wins over a block of another pruner; a pruner without defaults is refused
    before anything is written."""
    block = {"type": "threshold", "upper": 0.96}
    seen, shown = decisions(tmp_path, block, [0.1, 0.05], pruner="none", given=frozenset({"pruner"}))
    assert seen == {0: GOES_ON, 1: GOES_ON} and shown == "none"
    config = write_json(
        tmp_path / "c.json",
        {**STEPS, "search_space": {"learning_rate": {"type": "uniform", "low": 0.01, "high": 0.1}}},
    )
    before = sorted(p.name for p in (tmp_path / "optuna_studies").iterdir())
    proc = lorasearch(tmp_path, "search", "--no-tui", "-c", str(config), "--pruner", "threshold")
    assert proc.returncode == 2 and "--pruner threshold: it needs its options in the config" in proc.stderr
    assert sorted(p.name for p in (tmp_path / "optuna_studies").iterdir()) == before


def test_wilcoxon_stops_a_trial_worse_record_by_record_not_one_worse_by_noise(tmp_path):
    """Each eval sends 8 records' scores with a noise of up to 0.1. Against the best (0.1),
    rate 0.01 is worse on most records (p = 0.055 < 0.1 at step 2): it stops there. Rate 0.09
    is worse on average too, but its records say nothing either way (p = 0.65): it goes on.
    The study holds each record's score under a key of its own (eval number x records + record)."""
    block = {"type": "wilcoxon", "p_threshold": 0.1}
    objective = {"metric": "cer"}
    fixed = {**STEPS, "pruner": block, "objective": objective}
    fixed["enqueue"] = [{"learning_rate": r} for r in (0.1, 0.01, 0.09)]
    finished, study, sink = run_standin(tmp_path, "records", name="w", n_trials=3, fixed=fixed)
    assert finished.reason == "completed"
    seen: dict[int, list[tuple[int, bool]]] = {}
    for e in sink.events:
        if isinstance(e, EvalLogged):
            seen.setdefault(e.number, []).append((e.step, e.pruned))
            assert len(e.scores) == 8
    assert seen == {0: GOES_ON, 1: [(2, True)], 2: GOES_ON}
    keys = sorted(study.trials[1].intermediate_values)
    assert keys == [8 + i for i in range(8)]  # its first eval's 8 records
    assert len(study.trials[0].intermediate_values) == 4 * 8
    shown = next(e for e in sink.events if isinstance(e, SearchStarted)).pruner
    assert shown == "wilcoxon(p<0.1)"


def test_wilcoxon_judges_against_the_best_trial_this_study_trained(tmp_path):
    """Warm-started from a study that holds a better trial (rate 0.1) whose values are per step,
    not per record: Optuna's own pruner would pair this study's records with that trial's steps
    and never prune. Judged against this study's best (0.09), rate 0.01 stops at step 2
    (p = 0.055). Mutation it catches: the study's best taken from every trial."""
    cer = {"objective": {"metric": "cer"}}
    screen = {**STEPS, **cer, "pruner": {"type": "none"}, "enqueue": [{"learning_rate": 0.1}]}
    run_standin(tmp_path, "records", name="screen", n_trials=1, fixed=screen)
    full = {**STEPS, **cer, "pruner": {"type": "wilcoxon"}}
    full["enqueue"] = [{"learning_rate": 0.09}, {"learning_rate": 0.01}]
    finished, study, sink = run_standin(
        tmp_path, "records", name="full", n_trials=2, fixed=full, warm_start_from="screen"
    )
    assert finished.reason == "completed"
    assert [t.user_attrs.get("imported") for t in study.trials] == [None, None, "screen#0"]
    pruned = {e.number: e.step for e in sink.events if isinstance(e, EvalLogged) and e.pruned}
    assert pruned == {1: 2}


def test_wilcoxon_needs_a_metric_scored_record_by_record(tmp_path):
    config = write_json(tmp_path / "c.json", {**STEPS, "pruner": {"type": "wilcoxon"}, "search_space": LR})
    proc = lorasearch(tmp_path, "search", "--no-tui", "-c", str(config))
    assert proc.returncode == 2 and "eval_loss has no per-record scores" in proc.stderr, proc.stderr
    assert not (tmp_path / "optuna_studies").exists()


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ({"type": "percentil"}, "pruner.type: unknown type 'percentil'; use one of median, percentile"),
        ({"type": "percentile", "percentile": 120}, "pruner.percentile: must be less than 100"),
        ({"type": "percentile", "percentil": 3}, "pruner.percentil: unknown key; did you mean 'percentile'?"),
        ({"type": "threshold"}, 'pruner: give "lower", "upper" or both'),
        ({"type": "threshold", "lower": 3.0, "upper": 1.0}, "pruner: lower (3.0) must be less than upper"),
        ({"type": "patient", "wraps": {"type": "patient"}}, "pruner.wraps.type: unknown type 'patient'"),
        ({"type": "successive_halving", "reduction_factor": 1}, "pruner.reduction_factor: must be greater"),
    ],
)
def test_a_bad_pruner_block_names_its_path(block, expected):
    with pytest.raises(UserError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        parse_config({"pruner": block, "search_space": {}}, "c.json")


@pytest.mark.slow
def test_successive_halving_prunes_a_real_demo_trial_at_its_first_rung(tmp_path):
    """The demo trains for real: a learning rate of 0.001 learns too slowly to be in the best
    half at the first rung (step 10, the first eval) and stops there."""
    config = json.loads((REPO / "configs" / "demo.json").read_text())
    config |= {
        "train_split": "train[:30%]",
        "pruner": {"type": "successive_halving", "reduction_factor": 2},
        "enqueue": [{"learning_rate": 0.05, "lora_r": 8}, {"learning_rate": 0.001, "lora_r": 8}],
    }
    path = write_json(tmp_path / "sh.json", config)
    proc = lorasearch(
        tmp_path, "search", "-c", str(path), "--study-name", "sh", "--n-trials", "2", "--no-tui"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "successive_halving(x2) pruner" in proc.stdout
    trials = sorted(study_of(tmp_path, "sh").trials, key=lambda t: t.number)
    assert [t.state.name for t in trials] == ["COMPLETE", "PRUNED"]
    assert trials[1].user_attrs["pruned_at"] == 10


@pytest.mark.slow
def test_wilcoxon_judges_a_real_demo_search_record_by_record(tmp_path):
    """The demo trains for real with CER as its objective: every eval of every trial reaches the
    study as its 8 records' scores, which the Wilcoxon pruner judges. (The demo's tiny model
    writes no right character yet, so every record scores alike and nothing is pruned here:
    the stand-in test above shows the decisions.)"""
    config = json.loads((REPO / "configs" / "demo.json").read_text())
    config |= {
        "train_split": "train[:10%]",
        "objective": {"metric": "cer", "eval_samples": 8},
        "pruner": {"type": "wilcoxon"},
        "eval_steps": 3,
    }
    path = write_json(tmp_path / "w.json", config)
    proc = lorasearch(tmp_path, "search", "-c", str(path), "--study-name", "w", "--n-trials", "2", "--no-tui")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "wilcoxon(p<0.1) pruner" in proc.stdout
    for trial in study_of(tmp_path, "w").trials:
        assert trial.state.name in ("COMPLETE", "PRUNED"), trial.user_attrs.get("fail_reason")
        keys = sorted(trial.intermediate_values)
        evals = len(keys) // 8
        assert evals >= 1 and keys == list(range(8, 8 * (evals + 1)))  # 8 records an eval, from eval 1

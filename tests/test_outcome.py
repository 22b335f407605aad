"""A finished trial has one shape, `TrialOutcome`, and every way it is kept gives it back whole.

A per-trial figure is meant to be one field of the outcome (and of the worker's `Result` when
the worker measures it): the study's user attributes, `trial_results.json`, the export and the
table columns then carry it with no more code. These tests fill every field with a value that
is not its default and read it back each way, so a field that one of them drops fails here.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields

import optuna
import pytest

from lorasearch_tui.events import MEASURED, TrialFinished, TrialOutcome, cells, decode, encode, headers
from lorasearch_tui.results import flat
from lorasearch_tui.search._live_trial import LiveTrial
from lorasearch_tui.store import LEASE_ATTR, outcome_of
from lorasearch_tui.store._outcomes import read_trial_results, tell, write_trial_results
from lorasearch_tui.training import RunResult
from lorasearch_tui.worker import Result
from lorasearch_tui.worker._loop import _measured


def _full(tmp_path, state: str = "COMPLETE") -> TrialOutcome:
    """An outcome with every field set to something other than its default."""
    return TrialOutcome(
        number=0,
        state=state,
        params={"learning_rate": 0.01, "lora_alpha": 2},
        value=0.5 if state == "COMPLETE" else None,
        fail_reason=None if state == "COMPLETE" else "diverged: loss nan",
        pruned_at=4,
        steps=6,
        max_steps=8,
        duration_s=12.5,
        runtime_s=10.25,
        tokens_per_s=321.0,
        peak_memory_bytes=123456,
        memory_kind="rss",
        generate_s=1.5,
        retained_bytes=42,
        batch="4x1 fitted",
        early_stopped_at=6,
        oom=True,
        interrupted=True,
        trial_dir=str(tmp_path / "trial_0"),
        worker="host-a GPU 1",
        rerun_of=3,
        enqueued=True,
        imported="screen#4",
        derived={"lora_alpha": 32},  # drawn 2 x lora_r 16
        metric="cer",
        started_at="2026-01-01T00:00:00+00:00",
        completed_at="2026-01-01T00:00:12+00:00",
    )


def test_every_field_has_a_value_other_than_its_default(tmp_path):
    """The guard of the tests below: a field added later with its default here would pass them
    unseen. (`fail_reason` is set in the FAIL case; `values`, of several objectives, is
    test_pareto.py's.)"""
    outcome, blank = _full(tmp_path), TrialOutcome(number=0, state="COMPLETE")
    same = [f.name for f in fields(TrialOutcome) if getattr(outcome, f.name) == getattr(blank, f.name)]
    assert same == ["number", "state", "values", "fail_reason"], f"set these in _full(): {same}"


@pytest.mark.parametrize("state", ["COMPLETE", "FAIL"])
def test_the_study_gives_the_outcome_back(tmp_path, state):
    """Told to a study and read back: every field, the ones the study keeps in its own way
    (state, value, params, times, where from its lease) included."""
    outcome = _full(tmp_path, state)
    study = optuna.create_study()
    study.enqueue_trial(outcome.params)
    dists = optuna.distributions
    trial = study.ask(
        {
            "learning_rate": dists.FloatDistribution(0.001, 0.1, log=True),
            "lora_alpha": dists.IntDistribution(1, 4),
        }
    )
    trial.set_user_attr(LEASE_ATTR, {"host": "host-a", "worker": "GPU 1"})
    trial.set_user_attr("rerun_of", 3)
    tell(outcome, study, trial)
    back = outcome_of(study.trials[0], "cer")
    kept_by_the_study = {"started_at", "completed_at", "duration_s"}  # the study's own clock
    differ = [
        f.name
        for f in fields(TrialOutcome)
        if f.name not in kept_by_the_study and getattr(back, f.name) != getattr(outcome, f.name)
    ]
    assert differ == [] and back.duration_s == outcome.duration_s


@pytest.mark.parametrize("state", ["COMPLETE", "PRUNED"])
def test_trial_results_json_gives_the_outcome_back(tmp_path, state):
    outcome = _full(tmp_path, state)
    write_trial_results(outcome, {"learning_rate": 0.01})
    assert read_trial_results(tmp_path / "trial_0" / "trial_results.json") == outcome
    data = json.loads((tmp_path / "trial_0" / "trial_results.json").read_text())
    assert data["config"] == {"learning_rate": 0.01} and data["train_loss"] == [] and data["eval"] == []


def test_the_event_and_the_export_carry_every_field(tmp_path):
    outcome = _full(tmp_path)
    event = TrialFinished(outcome, best_number=0, best_value=0.5)
    assert decode(encode(event)) == event
    row = flat(outcome, ["learning_rate", "lora_alpha"])
    assert {k for k in asdict(outcome) if k not in ("params", "values", "derived")} <= row.keys()
    assert row["param_learning_rate"] == 0.01 and row["batch"] == "4x1 fitted" and row["state"] == "OOM"
    assert row["param_lora_alpha"] == 32  # what it trained with, not the factor drawn


def test_the_tables_show_each_measured_column(tmp_path):
    outcome = _full(tmp_path)
    shown = dict(zip(headers(["learning_rate"]), cells(outcome, ["learning_rate"], best=0), strict=True))
    assert shown["batch"] == "4x1 fitted" and shown["steps"] == "6/8" and shown["best"] == "★"
    assert [c.name for c in MEASURED] == ["time", "steps", "pruned@", "peak mem", "tokens/s", "batch"]


def test_what_the_worker_measured_reaches_the_outcome_by_name(tmp_path):
    """The worker's RunResult -> the pipe's Result -> the outcome, copied by field name: a
    figure of all three needs no code on the way."""
    run = RunResult(
        eval_loss=0.5,
        initial_eval_loss=0.9,
        train_history=[],
        eval_history=[],
        steps=6,
        max_steps=8,
        stopped_at=None,
        runtime_s=10.25,
        train_tokens=100,
        tokens_per_s=321.0,
        peak_memory_bytes=123456,
        memory_kind="rss",
        value=0.5,
        generate_s=1.5,
        batch="4x1 fitted",
        early_stopped_at=6,
    )
    result = _measured(run)
    assert result.batch == "4x1 fitted" and result.early_stopped_at == 6 and result.value == 0.5
    live = LiveTrial(0, {"learning_rate": 0.01}, {}, tmp_path / "trial_0", None)
    outcome = live.ended("COMPLETE", "GPU 1", result, value=result.value)
    shared = (set(Result.__dataclass_fields__) & set(TrialOutcome.__dataclass_fields__)) - {"values"}
    assert {n: getattr(outcome, n) for n in shared} == {n: getattr(result, n) for n in shared}

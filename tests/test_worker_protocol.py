"""The search engine against a stand-in worker (tests/helpers/standin_worker.py): the pipe is an
untrusted input, a worker that cannot start spends the failure budget, a silent one is stalled.

The stand-in is a real process speaking the real pipe; only the training is left out, so these
run in about a second each. The same rules against the real worker are in test_reliability.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import optuna
import pytest
from conftest import REPO
from helpers.searching import ListSink, run_standin

from lorasearch_tui.config import parse_config
from lorasearch_tui.events import TrialFinished
from lorasearch_tui.search import SearchOptions, SearchRunner

STANDIN = str(REPO / "tests" / "helpers" / "standin_worker.py")
SPACE = {"learning_rate": {"type": "loguniform", "low": 0.01, "high": 0.1}}


@pytest.fixture
def run_search(tmp_path, monkeypatch):
    """Run a search in `tmp_path` whose worker is the stand-in with a behaviour."""
    monkeypatch.chdir(tmp_path)

    def run(behaviour: str, n_trials: int = 2, name: str = "s", **options):
        finished, study, sink = run_standin(tmp_path, behaviour, name=name, n_trials=n_trials, **options)
        return finished, study, sink.events

    return run


def results_file(tmp_path: Path, number: int, name: str = "s") -> dict:
    text = (tmp_path / "out" / name / f"trial_{number}" / "trial_results.json").read_text()
    return json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in trial_results.json"))


def test_the_standin_worker_completes_trials(run_search, tmp_path):
    finished, study, _ = run_search("good")
    assert finished.reason == "completed"
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    record = results_file(tmp_path, 0)
    assert record["value"] == pytest.approx(1 / (1 + record["params"]["learning_rate"]) + 0.1 / 4)
    assert [e["step"] for e in record["eval"]] == [2, 4]


@pytest.mark.parametrize(
    ("behaviour", "why"),
    [
        ("garbage", "worker protocol error: message: Invalid JSON"),
        ("missing", "worker protocol error: step.step: Field required"),
        ("other-trial", "worker protocol error: a 'step' message for trial 7 during trial 0"),
    ],
)
def test_a_bad_message_fails_the_trial_and_the_search_goes_on(run_search, tmp_path, behaviour, why):
    finished, study, events = run_search(behaviour, max_failures_in_a_row=0)
    assert finished.reason == "completed"
    trials = study.trials
    assert [t.state.name for t in trials] == ["FAIL", "FAIL"]
    assert trials[0].user_attrs["fail_reason"].startswith(why)
    assert results_file(tmp_path, 0)["fail_reason"].startswith(why)
    # the worker is replaced after each bad message
    assert sum(1 for e in events if getattr(e, "state", None) == "replaced") == 2


def test_a_nan_final_value_is_a_failure_everywhere(run_search, tmp_path):
    finished, study, events = run_search("nan", n_trials=1)
    trial = study.trials[0]
    assert trial.state.name == "FAIL" and trial.value is None
    assert "eval_loss: Input should be a finite number" in trial.user_attrs["fail_reason"]
    record = results_file(tmp_path, 0)  # strict JSON: no NaN anywhere
    assert record["state"] == "FAIL" and record["value"] is None
    shown = [e for e in events if isinstance(e, TrialFinished)]
    assert shown[0].outcome.state == "FAIL" and shown[0].outcome.value is None
    assert finished.best_number is None


def test_a_worker_that_cannot_start_spends_the_failure_budget(run_search, tmp_path):
    finished, study, _ = run_search("no-start", n_trials=10)
    assert finished.reason == "failed"
    reason = "worker failed to start (exit code 1): ModuleNotFoundError: No module named 'torch'"
    assert finished.message.startswith(f"3 trials in a row failed: {reason}")
    assert finished.message.endswith("nothing more will run")
    assert [t.state.name for t in study.trials] == ["FAIL"] * 3
    assert study.user_attrs["lorasearch_rerun"] == [0, 1, 2]
    # They do not count toward the target, and a resume runs their params again first.
    assert finished.counts["failed"] == 0 and finished.counts["interrupted"] == 3


def test_a_resume_after_the_budget_reruns_those_params_first(run_search, tmp_path):
    first, study, _ = run_search("no-start", n_trials=4)
    assert first.reason == "failed"
    params = [t.params for t in study.trials]
    finished, study, _ = run_search("good", n_trials=4, resume=True)
    trials = study.trials
    assert finished.reason == "completed"
    assert [t.user_attrs.get("rerun_of") for t in trials[3:6]] == [0, 1, 2]
    assert [t.params for t in trials[3:6]] == params
    assert [t.state.name for t in trials[3:]] == ["COMPLETE"] * 4


def test_different_failures_do_not_spend_the_budget(run_search):
    """Only failures with the same reason count in a row: `error A`, `error B`, `error A`...
    under a limit of 2 never stops the search, while the same error twice does.

    Mutation it catches: `_budget.py` keeping the streak when the reason changes (the search
    then stops after trials 0 and 1)."""
    finished, study, _ = run_search("two-errors", n_trials=4, max_failures_in_a_row=2)
    assert finished.reason == "completed", finished.message
    reasons = [t.user_attrs["fail_reason"] for t in study.trials]
    assert reasons == ["error A", "error B", "error A", "error B"]
    same, study, _ = run_search("no-start", n_trials=4, max_failures_in_a_row=2, name="same")
    assert same.reason == "failed" and len(study.trials) == 2


def test_a_diverged_or_timed_out_trial_never_spends_the_budget(run_search):
    """A diverged trial, or one past its time limit, says something about its parameters, not
    about the environment: three in a row under a limit of 2 leave the search running.

    Mutation it catches: `_budget.py` counting every failure, not only the environment's."""
    finished, study, _ = run_search("diverged", n_trials=3, max_failures_in_a_row=2)
    assert finished.reason == "completed", finished.message
    assert [t.user_attrs["fail_reason"] for t in study.trials] == ["diverged: loss inf at step 1"] * 3
    slow, study, _ = run_search(
        "slow", n_trials=3, max_failures_in_a_row=2, fixed={"trial_timeout": 0.6}, name="t"
    )
    assert slow.reason == "completed", slow.message
    assert all(t.user_attrs["fail_reason"].startswith("timed out after 0.6 s") for t in study.trials), [
        t.user_attrs["fail_reason"] for t in study.trials
    ]


def test_a_silent_worker_is_stalled_and_its_group_killed(run_search):
    finished, study, _ = run_search("silent", n_trials=1, stall_limit=1.0)
    reason = study.trials[0].user_attrs["fail_reason"]
    assert reason.startswith("worker stalled (no sign of life for 1 s while training)")
    assert finished.reason == "completed"


def test_write_now_acts_during_a_trial(tmp_path, monkeypatch):
    """The `e` key's request is served within a poll while a trial runs, not at its end."""
    import threading
    import time

    from lorasearch_tui.events import SearchControls, TrialStarted

    monkeypatch.chdir(tmp_path)
    config = parse_config({"base_output_dir": str(tmp_path / "out"), "search_space": SPACE}, "test")
    sink, controls = ListSink(), SearchControls()
    runner = SearchRunner(
        config,
        SearchOptions(
            "w", n_trials=1, hardware_interval=None, worker_command=(sys.executable, STANDIN, "silent")
        ),
        sink,
        controls,
    )
    thread = threading.Thread(target=runner.run)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not any(isinstance(e, TrialStarted) for e in sink.events) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # the trial is running: the stand-in said `started` and went silent
        best = tmp_path / "optuna_studies" / "w_best_params.json"
        assert not best.exists()
        asked = time.monotonic()
        controls.write_results_now()
        while not best.exists() and time.monotonic() - asked < 5:
            time.sleep(0.005)
        took = time.monotonic() - asked
        assert best.exists() and took < 0.5, took  # 50-80 ms here; the margin is for CI load
    finally:
        controls.interrupt()
        thread.join(60)


def test_abort_ends_a_busy_trial_within_a_poll(tmp_path, monkeypatch):
    """The `a` key's request: the trial is killed and recorded FAIL "aborted by user" within
    100 ms (the README's promise), and the search goes on with a fresh worker."""
    import threading
    import time

    from lorasearch_tui.events import SearchControls, TrialStarted

    monkeypatch.chdir(tmp_path)
    config = parse_config({"base_output_dir": str(tmp_path / "out"), "search_space": SPACE}, "test")
    sink, controls = ListSink(), SearchControls()
    options = SearchOptions(
        "a", n_trials=2, hardware_interval=None, worker_command=(sys.executable, STANDIN, "silent")
    )
    runner = SearchRunner(config, options, sink, controls)
    thread = threading.Thread(target=runner.run)
    thread.start()
    took = []
    try:
        for number in (0, 1):
            wait = time.monotonic() + 60
            while sum(isinstance(e, TrialStarted) for e in sink.events) <= number:
                assert time.monotonic() < wait, "the trial did not start"
                time.sleep(0.005)
            time.sleep(0.3)  # busy: the stand-in said `started` and went silent
            asked = time.monotonic()
            controls.abort_trial()
            while sum(isinstance(e, TrialFinished) for e in sink.events) <= number:
                assert time.monotonic() - asked < 5, "the abort was not served"
                time.sleep(0.002)
            took.append(time.monotonic() - asked)
    finally:
        controls.interrupt()
        thread.join(60)
    assert max(took) < 0.3, took  # 40-50 ms here; the margin is for CI load
    trials = optuna.load_study(study_name="a", storage=f"sqlite:///{tmp_path}/optuna_studies/a.db").trials
    assert [t.user_attrs.get("fail_reason") for t in trials] == ["aborted by user"] * 2

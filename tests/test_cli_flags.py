"""The search flags as a user passes them, each through the real command line and the real worker
training the demo model: `--workers`, `--max-failures-in-a-row`, `--recycle-every`,
`trial_timeout` in the config and `--resume --trial-timeout`, and the hyperband pruner.

The engine's rules behind each are checked in seconds with the stand-in worker elsewhere
(test_worker_protocol.py, test_memory_guard.py, test_engine_rules.py); these prove that the
flag reaches that rule, and that the rule holds over real training.
"""

from __future__ import annotations

import pytest
from helpers.searching import config_file, search, study_of

pytestmark = pytest.mark.slow

WIDE_LR = {"learning_rate": {"type": "loguniform", "low": 0.001, "high": 0.3}}


def _search(cwd, name: str, *args: str, env: dict | None = None, **fixed):
    config = config_file(cwd, WIDE_LR, **fixed)
    return search(cwd, "-c", str(config), "--study-name", name, "--search-mode", "random", *args, env=env)


def test_two_workers_train_the_same_trials_as_one(tmp_path):
    """`--workers 2` on the CPU: 2 trials at once, each worker its own log; with the same
    seed, the random sampler draws the same parameters in the same order as one worker does,
    and each trial trains to the same eval loss (torch's threads differ, 1 against 2, so the
    sums may differ in their last digits: equal to 1e-4)."""
    one, two = tmp_path / "one", tmp_path / "two"
    for cwd, workers in ((one, "1"), (two, "2")):
        cwd.mkdir()
        proc = _search(cwd, "w", "--n-trials", "2", "--pruner", "none", "--workers", workers)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    alone, paired = study_of(one, "w").trials, study_of(two, "w").trials
    assert [t.state.name for t in paired] == ["COMPLETE"] * 2
    assert [t.params for t in paired] == [t.params for t in alone]
    assert [t.value for t in paired] == pytest.approx([t.value for t in alone], rel=1e-4)
    spans = [(t.datetime_start, t.datetime_complete) for t in paired]
    assert spans[0][0] < spans[1][1] and spans[1][0] < spans[0][1]  # trials 0 and 1 overlapped
    assert (two / "models/hyperparam_search/w/worker-1.log").is_file()


def test_max_failures_in_a_row_stops_a_search_whose_trials_keep_failing(tmp_path):
    """Trials 0, 1, 2 raise the same exception (the fault hook): with `--max-failures-in-a-row 2`
    the search stops after the second, exit code 1, and names the reason."""
    faults = {"LORASEARCH_INJECT_FAULT": "exception@0:1,exception@1:1,exception@2:1"}
    proc = _search(tmp_path, "f", "--n-trials", "5", "--max-failures-in-a-row", "2", env=faults)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "2 trials in a row failed" in proc.stdout + proc.stderr
    assert [t.state.name for t in study_of(tmp_path, "f").trials] == ["FAIL", "FAIL"]


def test_recycle_every_replaces_the_worker_between_trials(tmp_path):
    """`--recycle-every 1`: a fresh worker for each trial, said on the console; trials complete."""
    proc = _search(tmp_path, "r", "--n-trials", "2", "--pruner", "none", "--recycle-every", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "worker recycled" in proc.stdout and "(--recycle-every 1)" in proc.stdout, proc.stdout
    trials = study_of(tmp_path, "r").trials
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE"]


def test_trial_timeout_from_the_config_then_changed_by_resume(tmp_path):
    """`trial_timeout: 1` in the config fails a trial of 400 steps at 1 s; `--resume
    --trial-timeout 600` replaces it for the trials that follow, which then complete."""
    proc = _search(tmp_path, "t", "--n-trials", "1", "--pruner", "none", trial_timeout=1, max_steps=40)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    first = study_of(tmp_path, "t").trials[0]
    assert first.state.name == "FAIL" and first.user_attrs["fail_reason"] == "timed out after 1 s"
    resumed = search(tmp_path, "--study-name", "t", "--resume", "--n-trials", "2", "--trial-timeout", "600")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    trials = study_of(tmp_path, "t").trials
    assert [t.state.name for t in trials] == ["FAIL", "COMPLETE"]


def test_hyperband_prunes_real_trials_at_its_rungs(tmp_path):
    """Hyperband over real training: a pruned trial stopped at an eval before its last step,
    a complete one trained to it; with learning rates from 0.001 to 0.3 some are pruned."""
    proc = _search(
        tmp_path, "h", "--n-trials", "8", "--pruner", "hyperband", seed=1, max_steps=12, eval_steps=2
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    trials = study_of(tmp_path, "h").trials
    states = [t.state.name for t in trials]
    assert "PRUNED" in states and "COMPLETE" in states, states
    for trial in trials:
        last = max(trial.intermediate_values)
        assert last % 2 == 0 and (last < 12 if trial.state.name == "PRUNED" else last == 12), trial.number

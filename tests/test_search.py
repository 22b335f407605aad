"""The search as a user runs it (`lorasearch search`), on the real tiny model: modes, pruning,
failures, interruptions, resume, result files and exit codes."""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from helpers.searching import (
    LR_SPACE,
    config_file,
    search,
    start_search,
    steps_logged,
    study_of,
    trial_results,
    wait_for,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def finished_search(tmp_path_factory):
    """One random search of 3 trials, shared by the tests that only read its results."""
    cwd = tmp_path_factory.mktemp("search")
    proc = search(
        cwd,
        "-c",
        str(config_file(cwd, LR_SPACE)),
        "--study-name",
        "base",
        "--n-trials",
        "3",
        "--search-mode",
        "random",
        "--pruner",
        "none",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return cwd, proc


def test_random_search_respects_n_trials_and_writes_every_result_file(finished_search):
    cwd, proc = finished_search
    study = study_of(cwd, "base")
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 3
    best = json.loads((cwd / "optuna_studies/base_best_params.json").read_text())
    assert set(best) >= {
        "study_name",
        "best_trial",
        "best_value",
        "best_params",
        "metric",
        "direction",
        "n_complete",
        "n_pruned",
        "n_failed",
        "timestamp",
    }
    assert best["best_value"] == min(t.value for t in study.trials)
    assert (best["n_complete"], best["n_pruned"], best["n_failed"]) == (3, 0, 0)
    config = json.loads((cwd / "optuna_studies/base_best_config.json").read_text())
    assert "search_space" not in config and config["learning_rate"] == best["best_params"]["learning_rate"]
    record = trial_results(cwd, "base", 0)
    assert record["state"] == "COMPLETE" and record["value"] == study.trials[0].value
    assert record["config"]["learning_rate"] == record["params"]["learning_rate"]
    assert [e["step"] for e in record["eval"]] == [0, 2, 4, 6] and len(record["train_loss"]) == 6
    assert record["tokens_per_s"] > 0 and record["peak_memory_bytes"] > 0 and Path(record["adapter"]).is_dir()
    assert "trial   2  COMPLETE" in proc.stdout and "best: trial" in proc.stdout
    assert "\x1b[" not in proc.stdout


def test_best_config_trains_with_lorasearch_train_unchanged(finished_search, tmp_path):
    """The best config, trained alone, gives the best trial's result again (the CPU is
    deterministic, and a trial on a reused worker trains as a fresh process would).

    Mutation it catches: the best config written with another trial's parameters."""
    cwd, _ = finished_search
    best = json.loads((cwd / "optuna_studies/base_best_params.json").read_text())
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lorasearch_tui",
            "train",
            "-c",
            str(cwd / "optuna_studies/base_best_config.json"),
            "-o",
            str(tmp_path / "best"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "best/adapter_model.safetensors").is_file()
    assert f"-> {best['best_value']:.4f} after 6 steps" in proc.stdout, (best, proc.stdout)


def test_existing_study_needs_resume_and_resume_needs_a_study(finished_search):
    cwd, _ = finished_search
    config = str(cwd / "search.json")
    again = search(cwd, "-c", config, "--study-name", "base")
    assert (
        again.returncode == 2 and "study 'base' already exists" in again.stderr and "--resume" in again.stderr
    )
    missing = search(cwd, "--study-name", "nope", "--resume")
    assert missing.returncode == 2 and "no study 'nope'" in missing.stderr


def test_resume_with_a_different_config_names_the_keys(finished_search, tmp_path):
    cwd, _ = finished_search
    changed = config_file(
        tmp_path, {"learning_rate": {"type": "loguniform", "low": 0.01, "high": 0.2}}, lora_r=8
    )
    proc = search(cwd, "-c", str(changed), "--study-name", "base", "--resume")
    assert proc.returncode == 2
    assert "lora_r, search_space.learning_rate differ" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_resume_continues_to_a_larger_target_with_the_stored_config(finished_search, tmp_path):
    import shutil

    cwd = shutil.copytree(finished_search[0], tmp_path / "copy")  # the others read the original
    proc = search(cwd, "--study-name", "base", "--resume", "--n-trials", "4")
    assert proc.returncode == 0, proc.stderr
    assert "Resuming study base (3 trials done)" in proc.stdout
    assert len(study_of(cwd, "base").trials) == 4


@pytest.mark.parametrize("mode", ["bayesian", "random"])
def test_timeout_stops_starting_trials(tmp_path, mode):
    proc = search(
        tmp_path,
        "-c",
        str(config_file(tmp_path, LR_SPACE)),
        "--study-name",
        "t",
        "--n-trials",
        "10",
        "--search-mode",
        mode,
        "--timeout",
        "1",
    )
    assert proc.returncode == 0, proc.stderr
    assert len(study_of(tmp_path, "t").trials) == 1
    assert "Search timeout" in proc.stdout


@pytest.fixture(scope="module")
def bayesian_search(tmp_path_factory):
    """`lorasearch search --n-trials 2` (bayesian, the default), its parent process saying at
    its exit whether it ever imported torch; shared by the two tests that read it."""
    cwd = tmp_path_factory.mktemp("bayesian")
    argv = ["lorasearch", "search", "--no-tui", "-c", str(config_file(cwd, LR_SPACE))]
    argv += ["--study-name", "b", "--n-trials", "2"]
    script = f"""
import atexit, sys
atexit.register(lambda: print("TORCH", "torch" in sys.modules, flush=True))
sys.argv = {argv!r}
from lorasearch_tui.cli import main
main()
"""
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    return cwd, proc


def test_bayesian_search_respects_n_trials(bayesian_search):
    cwd, proc = bayesian_search
    assert proc.returncode == 0, proc.stderr
    assert [t.state.name for t in study_of(cwd, "b").trials] == ["COMPLETE", "COMPLETE"]


def test_grid_runs_exactly_its_combinations_whatever_n_trials_says(tmp_path):
    space = {
        "lora_r": {"type": "categorical", "choices": [4, 8]},
        "lora_alpha": {"type": "int", "low": 8, "high": 16, "step": 8},
    }
    proc = search(
        tmp_path,
        "-c",
        str(config_file(tmp_path, space, max_steps=2)),
        "--study-name",
        "g",
        "--search-mode",
        "grid",
        "--n-trials",
        "2",
        "--pruner",
        "none",
    )
    assert proc.returncode == 0, proc.stderr
    trials = study_of(tmp_path, "g").trials
    assert sorted((t.params["lora_r"], t.params["lora_alpha"]) for t in trials) == list(
        itertools.product([4, 8], [8, 16])
    )


DIVERGING = {"learning_rate": {"type": "categorical", "choices": [0.04, 0.05, 5.0, 50.0]}}


def test_high_learning_rates_are_pruned_early(tmp_path):
    """Seed 5 orders the grid 0.04, 0.05, 5.0, 50.0: the two sane rates complete first (the
    median pruner judges no trial before two have), then both hopeless ones are judged."""
    import torch

    config = config_file(tmp_path, DIVERGING, max_steps=8, seed=5)
    proc = search(tmp_path, "-c", str(config), "--study-name", "p", "--search-mode", "grid")
    assert proc.returncode == 0, proc.stderr
    trials = study_of(tmp_path, "p").trials
    assert [t.params["learning_rate"] for t in trials] == [0.04, 0.05, 5.0, 50.0]
    assert [t.state.name for t in trials[:2]] == ["COMPLETE", "COMPLETE"]
    for trial in trials[2:]:
        if torch.cuda.is_available() and trial.state.name == "FAIL":  # bf16 may overflow first
            assert trial.user_attrs["fail_reason"].startswith("diverged"), trial.user_attrs
            continue
        assert trial.state.name == "PRUNED", [(t.params, t.state.name) for t in trials]
        record = trial_results(tmp_path, "p", trial.number)
        assert record["state"] == "PRUNED" and record["pruned_at"] < 8
        assert record["steps"] == record["pruned_at"] == record["eval"][-1]["step"]
        assert record["adapter"] is None
    assert "pruned at step" in proc.stdout


def test_pruner_none_prunes_nothing(tmp_path):
    import torch

    config = config_file(tmp_path, DIVERGING, max_steps=8)
    proc = search(
        tmp_path, "-c", str(config), "--study-name", "n", "--search-mode", "grid", "--pruner", "none"
    )
    assert proc.returncode == 0, proc.stderr
    states = [t.state.name for t in study_of(tmp_path, "n").trials]
    if torch.cuda.is_available():  # in bf16 a rate of 5 or 50 may overflow: FAIL, never pruned
        states = ["COMPLETE" if s == "FAIL" else s for s in states]
    assert states == ["COMPLETE"] * 4


def test_injected_exception_oom_and_nan_fail_one_trial_each_and_the_search_goes_on(tmp_path):
    env = {"LORASEARCH_INJECT_FAULT": "exception@1:3,oom@2:2,diverge@4:2"}
    proc = search(
        tmp_path,
        "-c",
        str(config_file(tmp_path, LR_SPACE)),
        "--study-name",
        "f",
        "--n-trials",
        "5",
        "--search-mode",
        "random",
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    trials = study_of(tmp_path, "f").trials
    assert [t.state.name for t in trials] == ["COMPLETE", "FAIL", "PRUNED", "COMPLETE", "FAIL"]
    # A NaN loss is a failure, never a value; the worker is kept (its base is unchanged).
    assert trials[4].user_attrs["fail_reason"] == "diverged: train loss became nan at step 2"
    assert trials[4].value is None and trial_results(tmp_path, "f", 4)["value"] is None
    assert (
        trials[1].user_attrs["fail_reason"]
        == "RuntimeError: injected fault at step 3 (LORASEARCH_INJECT_FAULT)"
    )
    assert trials[1].value is None
    oom = trials[2]
    assert oom.user_attrs["fail_reason"].startswith("out of memory (peak ") and oom.user_attrs["oom"]
    # The TPE sampler reads this trial as infeasible (a violated constraint).
    from optuna.samplers._tpe.sampler import _get_infeasible_trial_score

    assert oom.constraints == {"out_of_memory": 1.0} and _get_infeasible_trial_score(oom) > 0
    assert trial_results(tmp_path, "f", 2)["fail_reason"].startswith("out of memory")
    assert "OOM" in proc.stdout and "injected fault" in proc.stdout
    assert proc.stdout.count("worker replaced") == 2  # after the exception and the OOM
    best = json.loads((tmp_path / "optuna_studies/f_best_params.json").read_text())
    assert best["best_trial"] in (0, 3) and best["n_failed"] == 2 and best["n_pruned"] == 1
    # The test hook is loud: on the console and in the study, so fake failures never pass as real.
    assert f"FAULT INJECTION (LORASEARCH_INJECT_FAULT={env['LORASEARCH_INJECT_FAULT']})" in proc.stdout
    assert study_of(tmp_path, "f").user_attrs["lorasearch_fault_injection"] == env["LORASEARCH_INJECT_FAULT"]


def test_a_crashed_worker_fails_its_trial_and_is_replaced(tmp_path):
    proc = search(
        tmp_path,
        "-c",
        str(config_file(tmp_path, LR_SPACE)),
        "--study-name",
        "c",
        "--n-trials",
        "2",
        "--search-mode",
        "random",
        env={"LORASEARCH_INJECT_FAULT": "crash@0:2"},
    )
    assert proc.returncode == 0, proc.stderr
    trials = study_of(tmp_path, "c").trials
    assert [t.state.name for t in trials] == ["FAIL", "COMPLETE"]
    assert trials[0].user_attrs["fail_reason"] == "worker died (signal 9: SIGKILL)"


@pytest.mark.parametrize(
    "sig",
    [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1],
    ids=["ctrl-c", "sigterm", "sighup-ssh-dropped", "sigusr1-slurm-time-limit"],
)
def test_interrupt_records_the_trial_writes_files_and_exits_130(tmp_path, sig):
    config = config_file(tmp_path, LR_SPACE, max_steps=400)
    proc, log = start_search(tmp_path, "-c", str(config), "--study-name", "i", "--n-trials", "3")
    # well into trial 0: its steps are in its metrics.jsonl, written by the search as they come
    wait_for(lambda: steps_logged(tmp_path, "i", 0) >= 4 or proc.poll() is not None, what="trial 0 to train")
    proc.send_signal(sig)
    assert proc.wait(timeout=60) == 130, log.read_text()
    trial = study_of(tmp_path, "i").trials[0]
    assert trial.state.name == "FAIL" and trial.user_attrs["fail_reason"] == "interrupted"
    assert (tmp_path / "optuna_studies/i_best_params.json").is_file()
    assert trial_results(tmp_path, "i", 0)["fail_reason"] == "interrupted"


def test_kill_9_then_resume_reruns_the_interrupted_params(tmp_path):
    config = config_file(tmp_path, LR_SPACE, max_steps=30, eval_steps=5)
    proc, log = start_search(
        tmp_path,
        "-c",
        str(config),
        "--study-name",
        "k",
        "--n-trials",
        "3",
        "--search-mode",
        "random",
        "--pruner",
        "none",  # what is checked is the rerun, not the pruner's verdicts
        env={"LORASEARCH_INJECT_FAULT": "hang@1:3"},  # trial 1 is still running, however fast the host
    )
    wait_for(
        lambda: "trial   0  COMPLETE" in log.read_text() or proc.poll() is not None, what="trial 0 to end"
    )
    wait_for(lambda: steps_logged(tmp_path, "k", 1) >= 2, what="trial 1 to train")
    everything = [proc.pid, *(c.pid for c in psutil.Process(proc.pid).children(recursive=True))]
    for pid in everything:
        os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=30)
    stale = study_of(tmp_path, "k").trials
    assert [t.state.name for t in stale] == ["COMPLETE", "RUNNING"]
    interrupted_params = stale[1].params

    resumed = search(tmp_path, "--study-name", "k", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    trials = study_of(tmp_path, "k").trials
    states = [t.state.name for t in trials]
    assert states.count("COMPLETE") == 3 and "RUNNING" not in states
    assert trials[1].state.name == "FAIL"
    assert trials[1].user_attrs["fail_reason"] == f"runner lost (host {socket.gethostname()}, pid {proc.pid})"
    rerun = trials[2]
    assert rerun.user_attrs["rerun_of"] == 1 and rerun.params == interrupted_params
    assert "trial   2  runs the params of trial 1 again" in resumed.stdout


def test_the_parent_never_imports_torch(bayesian_search):
    """The search's own process, from the command line to its exit (two trials trained by its
    worker), never imports torch: it stays light beside the training."""
    _, proc = bayesian_search
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "TORCH False", proc.stdout + proc.stderr


def test_demo_command_searches_the_embedded_assets(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "lorasearch_tui", "demo", "--n-trials", "2", "--no-tui"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "search learning_rate: loguniform" in proc.stdout and "2 complete" in proc.stdout
    assert len(list((tmp_path / "optuna_studies").glob("demo_*_best_config.json"))) == 1
    # the study's report, written at the end of the search and named in its last lines
    (report,) = (tmp_path / "optuna_studies").glob("demo_*_report.html")
    assert f"wrote optuna_studies/{report.name}" in proc.stdout
    page = report.read_text()
    assert page.count("Plotly.newPlot") >= 3 and "lorasearch train --config optuna_studies/demo_" in page


def test_the_override_flags_and_a_storage_url_are_what_the_search_uses(tmp_path, demo_model, demo_data):
    """`--model-name`, `--input-data`, `--instruction` and `--base-output-dir` win over the
    config; `--storage` is where the study lives; the worker's log is in the study's folder."""
    import optuna

    runs, db = tmp_path / "runs", tmp_path / "elsewhere" / "o.db"
    config = config_file(tmp_path, LR_SPACE, model_name="/nowhere", input_data="/nowhere.jsonl")
    proc = search(
        tmp_path,
        "-c",
        str(config),
        "--study-name",
        "o",
        "--n-trials",
        "1",
        "--storage",
        f"sqlite:///{db}",
        "--model-name",
        str(demo_model),
        "--input-data",
        str(demo_data),
        "--instruction",
        "Read the line",
        "--base-output-dir",
        str(runs),
    )
    assert proc.returncode == 0, proc.stderr
    study = optuna.load_study(study_name="o", storage=f"sqlite:///{db}")
    assert [t.state.name for t in study.trials] == ["COMPLETE"]
    stored = study.user_attrs["lorasearch_config"]
    assert stored["model_name"] == str(demo_model) and stored["input_data"] == str(demo_data)
    assert stored["instruction"] == "Read the line" and stored["base_output_dir"] == str(runs)
    record = json.loads((runs / "o" / "trial_0" / "trial_results.json").read_text())
    assert record["config"]["instruction"] == "Read the line"
    assert "Loading " in (runs / "o" / "worker.log").read_text()
    assert not (tmp_path / "optuna_studies" / "o.db").exists()

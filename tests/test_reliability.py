"""Nothing lost, nothing hangs: real searches meeting real faults.

A worker frozen with SIGSTOP, a worker whose child keeps the pipe open after it dies, an
SQLite lock held by another process across the end of a trial, a storage that stays locked
past the patience, a full disk (a real small tmpfs), a read-only database, a broken
environment that fails every trial the same way. Each is a real `lorasearch search` process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
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
from helpers.terminal import Terminal

pytestmark = pytest.mark.slow

LOCKER = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
connection.execute("COMMIT")
"""


def hold_lock(db: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holds an exclusive lock on the SQLite file for `seconds`."""
    proc = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(db), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "locked"
    return proc


def workers_left(cwd: Path) -> list[psutil.Process]:
    """Worker processes (or their children) still running in `cwd`."""
    left = []
    for proc in psutil.process_iter(["cmdline", "cwd"]):
        try:
            if "lorasearch_tui.worker" in " ".join(proc.info["cmdline"] or []) and proc.info["cwd"] == str(
                cwd
            ):
                left.append(proc)
        except psutil.Error:
            continue
    return left


def worker_of(search_proc: subprocess.Popen[str]) -> psutil.Process:
    children = psutil.Process(search_proc.pid).children()
    assert children, "the search has no worker"
    return children[0]


# -- a frozen or vanished worker --------------------------------------------------------------


def test_a_frozen_worker_is_stopped_at_the_trial_time_limit(tmp_path):
    config = config_file(tmp_path, LR_SPACE, max_steps=400, eval_steps=100)
    proc, log = start_search(
        tmp_path, "-c", str(config), "--study-name", "t", "--n-trials", "1", "--trial-timeout", "20"
    )
    wait_for(lambda: steps_logged(tmp_path, "t", 0) >= 2 or proc.poll() is not None, what="trial 0 to train")
    worker_of(proc).send_signal(signal.SIGSTOP)
    frozen_at = time.monotonic()
    assert proc.wait(timeout=120) == 0, log.read_text()  # the search ends by itself
    assert time.monotonic() - frozen_at < 60
    trial = study_of(tmp_path, "t").trials[0]
    assert trial.state.name == "FAIL" and trial.user_attrs["fail_reason"] == "timed out after 20 s"
    assert trial_results(tmp_path, "t", 0)["fail_reason"] == "timed out after 20 s"
    assert not workers_left(tmp_path)


def test_a_frozen_worker_is_found_stalled_without_a_time_limit(tmp_path):
    config = config_file(tmp_path, LR_SPACE, max_steps=400, eval_steps=100)
    proc, log = start_search(
        tmp_path, "-c", str(config), "--study-name", "s", "--n-trials", "1", "--stall-limit", "3"
    )
    wait_for(lambda: steps_logged(tmp_path, "s", 0) >= 2 or proc.poll() is not None, what="trial 0 to train")
    worker_of(proc).send_signal(signal.SIGSTOP)
    assert proc.wait(timeout=60) == 0, log.read_text()
    reason = study_of(tmp_path, "s").trials[0].user_attrs["fail_reason"]
    assert reason.startswith("worker stalled (no sign of life for ") and reason.endswith(" s while training)")
    assert not workers_left(tmp_path)


def test_a_worker_that_dies_while_its_child_keeps_the_pipe_is_noticed(tmp_path):
    proc = search(
        tmp_path,
        "-c",
        str(config_file(tmp_path, LR_SPACE)),
        "--study-name",
        "o",
        "--n-trials",
        "2",
        "--search-mode",
        "random",
        env={"LORASEARCH_INJECT_FAULT": "orphan@0:2"},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    trials = study_of(tmp_path, "o").trials
    assert [t.state.name for t in trials] == ["FAIL", "COMPLETE"]
    assert trials[0].user_attrs["fail_reason"] == "worker died (signal 9: SIGKILL)"
    assert trials[0].user_attrs["duration_s"] < 60  # the child sleeps 600 s with the pipe open
    assert not workers_left(tmp_path)  # the child was killed with the worker's process group


def test_the_worker_dies_with_its_parent_even_by_kill_9(tmp_path):
    config = config_file(tmp_path, LR_SPACE, max_steps=400, eval_steps=100)
    proc, log = start_search(tmp_path, "-c", str(config), "--study-name", "k", "--n-trials", "1")
    wait_for(lambda: steps_logged(tmp_path, "k", 0) >= 2 or proc.poll() is not None, what="trial 0 to train")
    worker = worker_of(proc)
    proc.kill()  # SIGKILL: no handler runs, the pipe's EOF and PR_SET_PDEATHSIG must do it
    proc.wait(timeout=30)
    worker.wait(timeout=30)
    assert not workers_left(tmp_path)


# -- the SSH connection drops ----------------------------------------------------------------


@pytest.mark.parametrize("front_end", ["headless", "tui", "tui-no-sighup"])
def test_an_ssh_drop_records_the_trial_and_exits_130(tmp_path, front_end):
    config = config_file(tmp_path, LR_SPACE, max_steps=400, eval_steps=100)
    flags = ["--no-tui"] if front_end == "headless" else []
    terminal = Terminal(
        tmp_path,
        "search",
        *flags,
        "-c",
        str(config),
        "--study-name",
        "h",
        "--n-trials",
        "2",
        behind_a_shell=front_end == "tui-no-sighup",
    )
    wait_for(lambda: steps_logged(tmp_path, "h", 0) >= 2, timeout=180, what="trial 0 to train")
    if front_end != "headless":
        assert b"trials 0/2" in terminal.screen  # the terminal UI was on the screen
    terminal.hang_up()
    assert terminal.wait(timeout=120) == 130
    trial = study_of(tmp_path, "h").trials[0]
    assert trial.state.name == "FAIL" and trial.user_attrs["fail_reason"] == "interrupted"
    assert trial_results(tmp_path, "h", 0)["fail_reason"] == "interrupted"
    assert (tmp_path / "optuna_studies/h_best_params.json").is_file()
    assert not workers_left(tmp_path)


# -- the storage ------------------------------------------------------------------------------


def test_an_sqlite_lock_held_across_the_end_of_a_trial_loses_nothing(tmp_path):
    config = config_file(tmp_path, LR_SPACE, max_steps=12, eval_steps=4)
    proc, log = start_search(tmp_path, "-c", str(config), "--study-name", "l", "--n-trials", "2")
    wait_for(lambda: steps_logged(tmp_path, "l", 0) >= 1 or proc.poll() is not None, what="trial 0 to train")
    # The worker is held while the lock is taken, so that trial 0 ends under it on any host.
    worker = worker_of(proc)
    worker.suspend()
    # Longer than SQLite's default busy timeout of 5 s, which made Optuna give up.
    locker = hold_lock(tmp_path / "optuna_studies" / "l.db", 12)
    worker.resume()
    assert locker.wait(timeout=60) == 0
    assert proc.wait(timeout=300) == 0, log.read_text()
    trials = study_of(tmp_path, "l").trials
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE"]
    assert trials[0].user_attrs["duration_s"] > 8  # it waited for the lock, and went on


def test_a_storage_locked_past_the_patience_keeps_the_trial_in_its_file(tmp_path):
    config = config_file(tmp_path, LR_SPACE, max_steps=8, eval_steps=4)
    env = {"LORASEARCH_STORAGE_PATIENCE": "2"}
    proc, log = start_search(tmp_path, "-c", str(config), "--study-name", "p", "--n-trials", "2", env=env)
    wait_for(lambda: steps_logged(tmp_path, "p", 0) >= 1 or proc.poll() is not None, what="trial 0 to train")
    worker = worker_of(proc)
    worker.suspend()  # trial 0 ends under the lock on any host (not told before it)
    locker = hold_lock(tmp_path / "optuna_studies" / "p.db", 300)
    worker.resume()
    try:
        assert proc.wait(timeout=120) == 1, log.read_text()
        last = log.read_text().strip().splitlines()[-1]
        assert last.startswith("error: storage sqlite:///optuna_studies/p.db: ")
        assert "database is locked, still after 2 s of retrying" in last and "--resume" in last
        # trial 0's eval at step 4 could not be reported: not pruned, trained on, ended
        assert "trial 0, step 4: not pruned, the storage did not answer" in log.read_text()
        saved = trial_results(tmp_path, "p", 0)
        assert saved["state"] == "COMPLETE" and saved["value"] is not None
    finally:
        locker.kill()
        locker.wait()
    resumed = search(tmp_path, "--study-name", "p", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    trials = study_of(tmp_path, "p").trials
    assert trials[0].state.name == "COMPLETE" and trials[0].value == saved["value"]  # told, not rerun
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE"]
    assert all("rerun_of" not in t.user_attrs for t in trials)


@pytest.fixture
def small_disk(tmp_path):
    """A 16 MiB tmpfs (mounting needs root or CAP_SYS_ADMIN; skipped where neither is there)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_stops_in_one_line_and_resume_completes(tmp_path, small_disk):
    out = small_disk / "runs"
    config = config_file(tmp_path, LR_SPACE, max_steps=12, eval_steps=4, base_output_dir=str(out))
    proc, log = start_search(
        tmp_path, "-c", str(config), "--study-name", "d", "--n-trials", "3", "--pruner", "none"
    )
    best = tmp_path / "optuna_studies/d_best_params.json"
    # the line comes as the trial is told, the files a moment later
    wait_for(lambda: best.exists() or proc.poll() is not None, what="trial 0's result files")
    best_before = best.read_text()
    filler = small_disk / "filler"
    with filler.open("wb") as fill:  # fill the disk to the last byte
        try:
            while True:
                fill.write(b"\0" * 65536)
                fill.flush()
        except OSError:
            pass
    assert proc.wait(timeout=300) == 1, log.read_text()
    last = log.read_text().strip().splitlines()[-1]
    assert last.startswith("error: no space left on the disk of ") and "MiB free)" in last, last
    assert not list(small_disk.rglob("*.tmp")) and not list((tmp_path / "optuna_studies").glob("*.tmp"))
    assert json.loads((tmp_path / "optuna_studies/d_best_params.json").read_text())["best_trial"] == 0
    assert trial_results(tmp_path, "d", 0, base=out)["state"] == "COMPLETE"
    assert json.loads(best_before)["best_trial"] == 0

    filler.unlink()
    resumed = search(tmp_path, "--study-name", "d", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    trials = study_of(tmp_path, "d").trials
    assert "RUNNING" not in [t.state.name for t in trials]
    assert sum(t.state.name == "COMPLETE" for t in trials) == 3
    for trial in trials:  # every finished trial has its file, rewritten from the study if lost
        assert trial_results(tmp_path, "d", trial.number, base=out)["state"] == trial.state.name


def test_a_read_only_database_on_resume_is_one_line(tmp_path):
    proc = search(
        tmp_path, "-c", str(config_file(tmp_path, LR_SPACE)), "--study-name", "r", "--n-trials", "1"
    )
    assert proc.returncode == 0, proc.stderr
    db = tmp_path / "optuna_studies" / "r.db"
    if os.geteuid() == 0:  # root writes through file modes, not through the immutable flag
        if subprocess.run(["chattr", "+i", str(db)], capture_output=True).returncode:
            pytest.skip("chattr +i is not supported on this file system")
        undo = ["chattr", "-i", str(db)]
    else:
        db.chmod(0o444)
        undo = ["chmod", "644", str(db)]
    try:
        proc = search(tmp_path, "--study-name", "r", "--resume", "--n-trials", "2")
    finally:
        subprocess.run(undo, check=True)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("error: --storage: sqlite:///optuna_studies/r.db is read-only"), lines[0]


# -- the failure budget -----------------------------------------------------------------------


def test_a_broken_environment_spends_the_failure_budget_and_resume_reruns(tmp_path):
    broken = tmp_path / "broken-env" / "torch"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('this torch is broken')\n")
    config = str(config_file(tmp_path, LR_SPACE))
    env = {"PYTHONPATH": str(tmp_path / "broken-env")}
    proc = search(
        tmp_path,
        "-c",
        config,
        "--study-name",
        "b",
        "--n-trials",
        "6",
        "--pruner",
        "none",
        env=env,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    reason = "ImportError: this torch is broken"
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: 3 trials in a row failed: {reason}; nothing more will run"
    )
    trials = study_of(tmp_path, "b").trials
    assert [t.state.name for t in trials] == ["FAIL"] * 3
    assert all(t.user_attrs["fail_reason"] == reason for t in trials)

    resumed = search(tmp_path, "--study-name", "b", "--resume", "--n-trials", "3")
    assert resumed.returncode == 0, resumed.stderr
    trials = study_of(tmp_path, "b").trials
    assert [t.user_attrs.get("rerun_of") for t in trials[3:]] == [0, 1, 2]
    assert [t.state.name for t in trials[3:]] == ["COMPLETE"] * 3

"""Leases: a live runner's trial is never taken, a lost one is found and run again, and
runners that share a study finish exactly its target (see lorasearch_tui/search/_lease.py).

Fast: the runners are real processes with the stand-in worker; "another host" is a lease
with another host name, as a runner elsewhere would write it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import optuna
import pytest
from conftest import REPO
from helpers.searching import run_standin, wait_for

from lorasearch_tui.events import StudyProgress
from lorasearch_tui.store import LEASE_ATTR, Runner, live_runners, lost_reason

RUNNER = str(REPO / "tests" / "helpers" / "standin_runner.py")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def a_trial(lease: dict | None, started_s_ago: float = 0.0) -> SimpleNamespace:
    start = datetime.now(timezone.utc) - timedelta(seconds=started_s_ago)
    return SimpleNamespace(user_attrs={LEASE_ATTR: lease} if lease else {}, datetime_start=start)


def test_who_is_lost():
    me = Runner.this_process()
    now = time.time()
    elsewhere = {"host": "elsewhere", "pid": 7, "since": 1.0, "renewed": now - 5, "grace": 10}
    assert lost_reason(a_trial(elsewhere), me, now) is None  # renewed 5 s ago, grace 10 s
    stale = {**elsewhere, "renewed": now - 11}
    assert lost_reason(a_trial(stale), me, now) == "runner lost (host elsewhere, pid 7)"
    # On this machine a dead runner is known at once, whatever its lease says.
    gone = subprocess.Popen(["true"])
    gone.wait()
    here = {
        "host": me.host,
        "pidns": me.pidns,
        "pid": gone.pid,
        "since": now - 1,
        "renewed": now,
        "grace": 999,
    }
    assert lost_reason(a_trial(here), me, now) == f"runner lost (host {me.host}, pid {gone.pid})"
    # A pid now held by a later process (a container restart) is not the runner.
    reused = {**here, "pid": os.getppid(), "since": now}
    assert lost_reason(a_trial(reused), me, now) is not None
    alive = {
        **here,
        "pid": os.getppid(),
        "since": Runner(me.host, os.getppid(), 0).__class__ and _since(os.getppid()),
    }
    assert lost_reason(a_trial(alive), me, now) is None
    # The same host name in another pid namespace (a container): only the lease can tell.
    other_ns = {**here, "pidns": "pid:[1]", "renewed": now}
    assert lost_reason(a_trial(other_ns), me, now) is None
    # Another host in the same pid namespace (two bare-metal hosts both report the root one):
    # its pid means nothing here, dead or even this very process's; only its lease can tell.
    # Mutation it catches: `Runner.same_machine` ignoring the host name.
    other_host = {**here, "host": "elsewhere"}
    assert lost_reason(a_trial(other_host), me, now) is None
    assert lost_reason(a_trial({**other_host, "pid": me.pid, "since": me.since}), me, now) is None
    assert lost_reason(a_trial({**other_host, "renewed": now - 1000}), me, now) is not None
    # and `watch` counts that host's runner as live while its mark is fresh
    marks = {f"lorasearch_runner elsewhere {gone.pid}": other_host, f"lorasearch_runner x {gone.pid}": here}
    assert live_runners(marks, now) == [other_host]
    # No lease at all: lost once older than the default grace period.
    assert lost_reason(a_trial(None, started_s_ago=10), me, now) is None
    assert lost_reason(a_trial(None, started_s_ago=1000), me, now) == "runner lost (no lease)"


def _since(pid: int) -> float:
    import psutil

    return psutil.Process(pid).create_time()


def test_a_trial_another_host_keeps_alive_is_left_alone_until_its_lease_runs_out(tmp_path):
    """A resume here must not take a live trial of another host (it once did, and that host
    then crashed on `Cannot tell a FAIL trial`); once the lease runs out, it is lost and rerun."""
    run_standin(tmp_path, "good", n_trials=1)
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path}/optuna_studies/s.db")
    foreign = study.ask({"learning_rate": optuna.distributions.FloatDistribution(0.01, 0.1, log=True)})
    lease = {
        "host": "elsewhere",
        "pid": 4242,
        "since": 1.0,
        "worker": "GPU 0",
        "renewed": time.time(),
        "grace": 4,
    }
    foreign.set_user_attr(LEASE_ATTR, lease)
    seen = {}

    def watch() -> None:  # the foreign trial once this host's resume runs a trial of its own
        def trials():
            storage = f"sqlite:///{tmp_path}/optuna_studies/s.db"
            return optuna.load_study(study_name="s", storage=storage).trials

        try:
            wait_for(
                lambda: any(t.number > foreign.number and t.state.name == "RUNNING" for t in trials()),
                timeout=30,
                what="the resume to run a trial of its own",
            )
            seen["state"] = trials()[foreign.number].state.name
        except AssertionError as exc:  # said by the test's own assert, in the main thread
            seen["state"] = str(exc)

    watcher = threading.Thread(target=watch)
    watcher.start()
    began = time.monotonic()
    finished, study, sink = run_standin(tmp_path, "slow", n_trials=3, resume=True, lost_after=4)
    watcher.join()
    assert seen["state"] == "RUNNING"  # alive: left alone
    # the header's figures are the study's: the other host's live trial runs beside this one's
    progress = [e for e in sink.events if isinstance(e, StudyProgress)]
    assert max(p.running for p in progress) == 2 and progress[-1] == StudyProgress(3, 0, 3)
    trials = study.trials
    assert trials[foreign.number].state.name == "FAIL"
    assert trials[foreign.number].user_attrs["fail_reason"] == "runner lost (host elsewhere, pid 4242)"
    rerun = [t for t in trials if t.user_attrs.get("rerun_of") == foreign.number]
    assert len(rerun) == 1 and rerun[0].params == foreign.params and rerun[0].state.name == "COMPLETE"
    assert finished.reason == "completed" and finished.counts["complete"] == 3
    # It waited for the lease to run out, and no longer: the lease's own grace (4 s) is what
    # counts, not the default 3 minutes. Mutation it catches: `lost_reason` ignoring the
    # lease's `grace` (this test then waited 190 s and passed).
    assert 4 < time.monotonic() - began < 60


def runners(
    tmp_path, mode: str, n_trials: int, behaviour: str = "slow", env: dict | None = None
) -> list[dict]:
    """Two stand-in runners on one SQLite study: the first creates it, the second joins."""
    url = f"sqlite:///{tmp_path}/shared.db"
    args = [sys.executable, RUNNER, str(tmp_path), "s", url, str(n_trials), mode, behaviour]
    env = {**os.environ, **(env or {})}
    first = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env)
    wait_for(lambda: (tmp_path / "out" / "s").exists() or first.poll() is not None, timeout=60)
    second = subprocess.Popen([*args, "resume"], stdout=subprocess.PIPE, text=True, env=env)
    results = []
    for proc in (first, second):
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def counted(tmp_path) -> list:
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path}/shared.db")
    return [t for t in study.trials if t.state.is_finished() and not t.user_attrs.get("lorasearch_surplus")]


@pytest.mark.parametrize("mode", ["random", "grid"])
def test_two_runners_finish_exactly_the_target(tmp_path, mode):
    n_trials = 6
    results = runners(tmp_path, mode, n_trials)
    assert all(r["reason"] == "completed" for r in results)
    done = counted(tmp_path)
    assert len(done) == n_trials
    if mode == "grid":
        assert len({tuple(sorted(t.params.items())) for t in done}) == 6  # each point once
    hosts = {t.user_attrs[LEASE_ATTR]["pid"] for t in done}
    assert len(hosts) == 2  # both ran trials


def test_runners_renew_their_leases_so_no_live_trial_is_taken_for_lost(tmp_path):
    """Trials of 4 s under a grace period of 2 s: each runner renews its leases every 0.5 s, so
    the other runner, which looks for lost trials as often, never finds a live one lost.

    Mutation it catches: the runner loop renewing only its own mark, not its trials' leases
    (`_runner.py`: `renew([])`): the other runner then records a live trial "runner lost"."""
    env = {"STANDIN_LOST_AFTER": "2", "STANDIN_MAX_STEPS": "8"}
    results = runners(tmp_path, "random", 4, env=env)
    assert all(r["reason"] == "completed" for r in results), results
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path}/shared.db")
    lost = [t.number for t in study.trials if "runner lost" in str(t.user_attrs.get("fail_reason"))]
    assert lost == [] and [t.state.name for t in study.trials] == ["COMPLETE"] * 4
